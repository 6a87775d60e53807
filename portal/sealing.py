"""Encryption of secrets at rest (Stripe keys, webhook signing secrets) with ENCRYPTION_KEY.

ENCRYPTION_KEY may list several keys, comma-separated: the first encrypts, all decrypt, so a key
can be rotated without losing what the old one sealed.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretError(ValueError):
    """A stored secret cannot be opened with any configured key."""


def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def seal(plaintext: str, keys: str) -> str:
    """The secret encrypted and authenticated under the first key."""
    return _fernet(keys).encrypt(plaintext.encode()).decode()


def open_sealed(token: str, keys: str) -> str:
    """The plaintext of a sealed secret; SecretError if no key opens it or it was altered."""
    try:
        return _fernet(keys).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretError(
            "a stored secret cannot be decrypted with ENCRYPTION_KEY "
            "(was the key changed without keeping the old one after a comma?)"
        ) from exc
