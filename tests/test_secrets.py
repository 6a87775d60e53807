"""Secrets at rest: sealed, authenticated, and openable across a key rotation."""

from __future__ import annotations

import base64
import os

import pytest

from portal.sealing import SecretError, open_sealed, seal


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_round_trip_hides_the_plaintext():
    key = _key()
    sealed = seal("rk_live_very_secret", key)
    assert "very_secret" not in sealed and open_sealed(sealed, key) == "rk_live_very_secret"


def test_rotation_new_key_first_old_key_still_opens():
    old, new = _key(), _key()
    sealed_long_ago = seal("whsec_old", old)
    keys = f"{new},{old}"
    assert open_sealed(sealed_long_ago, keys) == "whsec_old"
    assert open_sealed(seal("whsec_new", keys), new) == "whsec_new"  # the first key encrypts


def test_wrong_key_or_tampering_is_refused_with_a_clear_error():
    key = _key()
    sealed = seal("secret", key)
    with pytest.raises(SecretError, match="ENCRYPTION_KEY"):
        open_sealed(sealed, _key())
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SecretError):
        open_sealed(tampered, key)
