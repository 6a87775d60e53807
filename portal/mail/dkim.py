"""DKIM signatures (RFC 6376) for composed messages (`mime.Composed.data`), free of Flask.

dkimpy does the DKIM part: it parses the message, canonicalizes headers and body (relaxed/
relaxed), selects the signed header fields and hashes them with the signature header. The RSA
step is OpenSSL's (cryptography), on a key parsed once per process. Why not `dkim.sign`:
it takes the PEM and re-parses it on every call (cheap, its own ASN.1 parser: about 0.25 ms)
and then signs in pure Python, about 10 ms per 2048-bit signature (about 100 signs/s). OpenSSL
signs in about 0.5 ms, but loading its key from PEM takes about 60 ms (it checks the key): that
parse is the slow part here, hence `_private_key`, a cache per worker process (about 900
signed 9 kB messages/s with it, 20/s without).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim.canonicalization import CanonicalizationPolicy

# What Gmail and Yahoo want covered (the RFC 8058 headers too), in the order written.
SIGNED = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)
_RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_NAME = b"DKIM-Signature"


def new_key() -> tuple[bytes, str]:
    """A new 2048-bit RSA key: its PKCS#8 PEM, and its public half as the p= value of a DKIM
    record (base64 of the DER SubjectPublicKeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, base64.b64encode(spki).decode("ascii")


@functools.lru_cache(maxsize=1024)
def _private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """The parsed key of `pem`, once per worker process: one entry per sending domain (a new
    key is a new PEM, hence a new entry; the least recently used goes past 1024 domains)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("a DKIM key must be an RSA key")
    return key


class Signer:
    """Signs messages for one domain and selector with rsa-sha256, relaxed/relaxed."""

    def __init__(self, domain: str, selector: str, private_key_pem: bytes):
        self.domain = domain.encode("ascii")  # A-labels only: d= is ASCII
        self.selector = selector.encode("ascii")
        self._key = _private_key(private_key_pem)

    def sign(self, message: bytes) -> bytes:
        """`message` with a DKIM-Signature header field prepended, covering the body and the
        SIGNED fields present. Each SIGNED name is listed once more ("oversigned"): a copy of
        any of them added later, or one that was absent (a Reply-To), fails verification."""
        headers, body = dkim.rfc822_parse(message)
        present = {name.lower() for name, _ in headers}
        names = [name for name in SIGNED if name in present] + list(SIGNED)
        body_hash = base64.b64encode(hashlib.sha256(_RELAXED.canonicalize_body(body)).digest())
        tags = [
            b"v=1",
            b"a=rsa-sha256",
            b"c=relaxed/relaxed",
            b"d=" + self.domain,
            b"s=" + self.selector,
            b"t=%d" % int(time.time()),
            b"h=" + b" : ".join(names),
            b"bh=" + body_hash,
            b"b=",
        ]
        value = dkim.fold(b"; ".join(tags), namelen=len(_NAME) + 2)
        digest = hashlib.sha256()
        # The header hash covers the signature field as written, with its b= empty.
        canonical = _RELAXED.canonicalize_headers(headers)
        dkim.hash_headers(digest, _RELAXED, canonical, names, (_NAME, b" " + value), None)
        signature = self._key.sign(
            digest.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        encoded = base64.b64encode(signature)
        wrapped = b"".join(b"\r\n " + encoded[i : i + 72] for i in range(0, len(encoded), 72))
        return _NAME + b": " + value + wrapped + b"\r\n" + message
