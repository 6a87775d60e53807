"""The gateway's clients through proxies named by the environment, and certificate checks."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading

import pytest
from stripe import APIConnectionError


def test_https_goes_through_the_environments_proxy_with_connect_and_its_credentials(
    stripe_at, monkeypatch
):
    """No TLS server is reachable here: the fake proxy records each CONNECT and refuses it."""
    requests_seen = []
    with socket.create_server(("127.0.0.1", 0)) as proxy:

        def refuse():
            while True:
                try:
                    connection, _ = proxy.accept()
                except OSError:  # the test is over: its proxy socket is closed
                    return
                with connection:
                    requests_seen.append(connection.recv(4096).decode())
                    connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        threading.Thread(target=refuse, daemon=True).start()
        port = proxy.getsockname()[1]
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:s%40cret@127.0.0.1:{port}")
        with pytest.raises(APIConnectionError):
            stripe_at("https://api.stripe.com").raw_request("get", "/v1/things")
    assert requests_seen, "the proxy was not used"
    for request in requests_seen:
        assert request.startswith("CONNECT api.stripe.com:443 HTTP/1.")
        assert "Proxy-Authorization: Basic dXNlcjpzQGNyZXQ=\r\n" in request  # user:s@cret


def test_plain_http_goes_through_the_environments_proxy_unless_no_proxy_names_the_host(
    servers, stripe_at, monkeypatch
):
    proxy, server = servers(), servers()
    monkeypatch.setenv("HTTP_PROXY", proxy.base)
    assert stripe_at("http://sandbox.internal:12111").raw_request("get", "/v1/things").data
    assert [s[2] for s in proxy.seen] == ["http://sandbox.internal:12111/v1/things"]

    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert stripe_at(server.base).raw_request("get", "/v1/things").data
    assert len(proxy.seen) == 1 and [s[2] for s in server.seen] == ["/v1/things"]


def test_https_refuses_a_certificate_the_sdk_bundle_does_not_vouch_for(stripe_at, tmp_path):
    """A self-signed certificate for 127.0.0.1: refused, and not tried again."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*_self_signed(tmp_path))
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def handshake():
            connection, _ = listener.accept()
            try:
                tls.wrap_socket(connection, server_side=True).close()
            except (ssl.SSLError, OSError):
                connection.close()

        threading.Thread(target=handshake, daemon=True).start()
        client = stripe_at(f"https://127.0.0.1:{listener.getsockname()[1]}")
        with pytest.raises(APIConnectionError) as refused:
            client.raw_request("get", "/v1/things")
    assert not refused.value.should_retry and "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


def _self_signed(directory) -> tuple[str, str]:
    """(certificate file, key file) of a fresh self-signed certificate for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
