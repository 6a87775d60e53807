"""A real DNS server on loopback for tests, built on dnslib's server: UDP and TCP on one free
port, each in a thread, answering from a zone the test changes while it runs.

    with DnsServer() as server:                  # or the `dns_server` fixture (end of file)
        server.set_txt("s1._domainkey.shop.example", "v=DKIM1; k=rsa; p=MIIB...")
        server.set_txt("shop.example", ["v=spf1 include:", "_spf.p.example ~all"])  # 2 strings
        server.set_txt("shop.example", "v=spf1 -all", "site-verification=x")  # 2 records
        server.clear_txt("shop.example")         # then: NXDOMAIN
        server.servfail = True                   # every answer is SERVFAIL
        server.stop()                            # nothing listens any more: queries go unanswered
        DNS_RESOLVER = server.address            # "127.0.0.1:PORT"

A value longer than 255 characters is split into 255-character strings, as DNS hosts do.
Names are matched without case and without the trailing dot.
"""

from __future__ import annotations

import threading

import pytest
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

TTL = 60


class _Zone(BaseResolver):
    """TXT records by name; every other question is answered as for a name with no records."""

    def __init__(self):
        self.records: dict[str, list[list[bytes]]] = {}
        self.servfail = False
        self.queries = 0
        self._lock = threading.Lock()

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        with self._lock:
            self.queries += 1
            records = list(self.records.get(name, ()))
        if self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
        elif not records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for strings in records:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(strings), ttl=TTL))
        return reply  # the name exists with no record of the type asked: NOERROR, no answer


def _strings(value: str | list[str]) -> list[bytes]:
    """One TXT record's character-strings: a list as given, a long string cut at 255 bytes."""
    if isinstance(value, list):
        return [part.encode() for part in value]
    data = value.encode()
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


class DnsServer:
    """See the module docstring."""

    def __init__(self):
        self.zone = _Zone()
        self._servers: list[DNSServer] = []
        self.port = 0

    def start(self) -> DnsServer:
        logger = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
        for _attempt in range(20):  # a free UDP port may be taken for TCP: try another
            udp = DNSServer(self.zone, address="127.0.0.1", port=0, logger=logger)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self.zone, address="127.0.0.1", port=port, tcp=True, logger=logger)
            except OSError:
                udp.server.server_close()
                continue
            self._servers, self.port = [udp, tcp], port
            for server in self._servers:  # polling briefly, so that stop() takes no 0.5 s
                run = server.server.serve_forever
                threading.Thread(target=run, args=(0.02,), daemon=True).start()
            return self
        raise RuntimeError("no port was free for both UDP and TCP")

    def stop(self) -> None:
        """Stop answering and close both sockets (the port then refuses or drops queries)."""
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        self._servers = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def servfail(self) -> bool:
        return self.zone.servfail

    @servfail.setter
    def servfail(self, value: bool) -> None:
        self.zone.servfail = value

    @property
    def queries(self) -> int:
        return self.zone.queries

    def set_txt(self, name: str, *values: str | list[str]) -> None:
        """Replace the TXT records at `name`: one per value (a list: its character-strings)."""
        with self.zone._lock:
            self.zone.records[name.rstrip(".").lower()] = [_strings(v) for v in values]

    def clear_txt(self, name: str) -> None:
        with self.zone._lock:
            self.zone.records.pop(name.rstrip(".").lower(), None)

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@pytest.fixture(name="dns_server")
def dns_server_fixture():
    """`dns_server`: a DnsServer on loopback, stopped after the test. A test module uses it by
    importing it: `from dns_server import dns_server_fixture  # noqa: F401`."""
    with DnsServer() as server:
        yield server


def dkim_lookup(server: DnsServer):
    """dkimpy's `dnsfunc`: the key lookup of DKIM verification, asking `server` with dnspython."""
    import dns.resolver

    from portal.services import domains

    resolver = domains.resolver_from({"DNS_RESOLVER": server.address})

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode(), "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(next(iter(answer)).strings)

    return lookup
