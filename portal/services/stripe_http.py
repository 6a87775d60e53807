"""The HTTP transport under the Stripe SDK: the standard library's http.client, one kept-alive
connection per thread and host, the proxy from the environment read once.

Measured on the send path, the `requests` stack cost more CPU per Stripe call than the SDK
itself (URL re-parsing, settings merging, adapters), about three times a bare http.client
request. The SDK's own retry loop stays in charge: errors here are APIConnectionErrors that
say whether a retry is safe.
"""
from __future__ import annotations

import base64
import http.client
import io
import ssl
import urllib.request
from urllib.parse import unquote, urlsplit

import stripe
from stripe import APIConnectionError, HTTPClient

TIMEOUT_SECONDS = 80  # the SDK's own default
# A kept-alive connection the server closed while it sat idle fails like this, before any
# answer: the request is sent once more on a new connection (Stripe requests are idempotent:
# the SDK sends POSTs with an Idempotency-Key).
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def environ_proxy(url: str) -> dict | None:
    """The proxy the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY...) sets for `url`."""
    target = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(target.scheme)
    if not proxy or urllib.request.proxy_bypass_environment(target.hostname or "", proxies):
        return None
    return {target.scheme: proxy}


class KeepAliveClient(HTTPClient):
    """An SDK HTTP client; connections are per thread, so threads may share one client."""

    name = "http.client"

    def __init__(self, proxy: dict | None = None, timeout: float = TIMEOUT_SECONDS):
        super().__init__(verify_ssl_certs=True, proxy=proxy)
        self.timeout = timeout
        self.tls = ssl.create_default_context(cafile=stripe.ca_bundle_path)

    def request(self, method: str, url: str, headers, post_data=None, **_) -> tuple[bytes, int, dict]:
        """(body, status, headers with lower-case names); APIConnectionError on network failure."""
        target = urlsplit(url)
        body = post_data.encode("utf-8") if isinstance(post_data, str) else post_data
        for attempt in (1, 2):
            connection, reused = self._connection(target)
            try:
                connection.request(method.upper(), self._request_target(target), body, dict(headers or {}))
                response = connection.getresponse()
                content = response.read()
            except _STALE as exc:
                self._drop(target)
                if reused and attempt == 1:
                    continue
                raise _connection_error(exc, retry=True) from exc
            except ssl.SSLError as exc:
                self._drop(target)
                raise _connection_error(exc, retry=False) from exc
            except (OSError, http.client.HTTPException) as exc:  # timeouts, refused, malformed
                self._drop(target)
                raise _connection_error(exc, retry=True) from exc
            if response.will_close:
                self._drop(target)
            return content, response.status, {name.lower(): value for name, value in response.getheaders()}
        raise AssertionError("unreachable: the second attempt returns or raises")

    def request_stream(self, method: str, url: str, headers, post_data=None, **_):
        content, status, response_headers = self.request(method, url, headers, post_data)
        return io.BytesIO(content), status, response_headers

    def close(self) -> None:
        """Close this thread's connections."""
        for connection in self._pool().values():
            connection.close()
        self._pool().clear()

    def _pool(self) -> dict:
        pool = getattr(self._thread_local, "connections", None)
        if pool is None:
            pool = self._thread_local.connections = {}
        return pool

    def _connection(self, target) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to the target's host (and whether it served before)."""
        key = (target.scheme, target.hostname, target.port)
        connection = self._pool().get(key)
        if connection is not None and connection.sock is not None:
            return connection, True
        self._pool()[key] = connection = self._open(target)
        return connection, False

    def _open(self, target) -> http.client.HTTPConnection:
        https = target.scheme == "https"
        port = target.port or (443 if https else 80)
        proxy = urlsplit(self._proxy[target.scheme]) if self._proxy and self._proxy.get(target.scheme) else None
        host = proxy.hostname if proxy else target.hostname
        host_port = (proxy.port or 80) if proxy else port
        if https:
            connection = http.client.HTTPSConnection(host, host_port, timeout=self.timeout, context=self.tls)
            if proxy:  # CONNECT through the proxy; TLS runs end to end with Stripe
                connection.set_tunnel(target.hostname, port, headers=_proxy_auth(proxy))
        else:
            connection = http.client.HTTPConnection(host, host_port, timeout=self.timeout)
        return connection

    def _request_target(self, target) -> str:
        """The path and query; for plain HTTP through a proxy, the absolute URL (RFC 9112 3.2.2)."""
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        if target.scheme == "http" and self._proxy and self._proxy.get("http"):
            return f"http://{target.netloc}{path}"
        return path

    def _drop(self, target) -> None:
        connection = self._pool().pop((target.scheme, target.hostname, target.port), None)
        if connection is not None:
            connection.close()


def _proxy_auth(proxy) -> dict:
    if not proxy.username:
        return {}
    credentials = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(credentials).decode()}


def _connection_error(exc: Exception, retry: bool) -> APIConnectionError:
    return APIConnectionError(f"Could not reach Stripe: {type(exc).__name__}: {exc}", should_retry=retry)


__all__ = ["KeepAliveClient", "environ_proxy"]
