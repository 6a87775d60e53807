"""In-memory state of the sandbox: objects per account, API keys, the clock, one lock."""

from __future__ import annotations

import heapq
import itertools
import secrets
import string
import threading
import time
from dataclasses import dataclass, field

from . import account_shapes, shapes
from .errors import StripeError, no_such

_ALPHABET = string.ascii_letters + string.digits
PLATFORM_ACCOUNT_ID = "acct_1SandboxPlatform"


def random_token(length: int, alphabet: str = _ALPHABET) -> str:
    """A random string of `length` characters from `alphabet` (one system call, not one each)."""
    # 256 is not a multiple of len(alphabet): bytes past the last whole multiple are redrawn.
    limit = 256 - 256 % len(alphabet)
    chosen: list[str] = []
    while len(chosen) < length:
        chosen += [
            alphabet[b % len(alphabet)] for b in secrets.token_bytes(length * 2) if b < limit
        ]
    return "".join(chosen[:length])


def new_id(prefix: str, length: int = 24) -> str:
    """An id shaped like Stripe's (`prefix` + random alphanumerics)."""
    return prefix + random_token(length)


def key_livemode(key: str) -> bool:
    """Live or test, decided by the key prefix as Stripe does."""
    return key.startswith(("sk_live_", "rk_live_"))


@dataclass
class Record:
    """One stored object: its public body, owner, insertion order and private data."""

    obj: dict
    account: str
    seq: int
    extra: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.obj["object"]


class Store:
    """All sandbox state. Every read or write of it happens under `lock`.

    Records are kept by id, and indexed by kind and owner so that a list or a lookup costs what
    that account holds of that kind, not what the whole sandbox holds (each owner's records in
    insertion order, so newest first is a reversed walk, not a sort); sessions are also found by
    the shopper's email; open sessions wait in a heap by `expires_at`, so the expiry check on
    every request looks only at what is due."""

    def __init__(self, config: dict):
        self.config = config
        self.lock = threading.RLock()
        self.offset = 0
        self.records: dict[str, Record] = {}
        self._by_kind: dict[str, dict[str, dict[str, Record]]] = {}
        self._expiries: list[tuple[int, int, str]] = []  # (expires_at, seq, session id)
        # (account, lower-cased email) -> sessions that have had that email: a superset, since
        # an address can be cleared later; readers check the current one.
        self._emails: dict[tuple[str, str], dict[str, Record]] = {}
        self.keys: dict[str, str] = {}
        self.connected: set[str] = set()
        self.oauth_codes: dict[str, dict] = {}
        self.recovery_tokens: dict[str, dict] = {}
        self._seq = itertools.count(1)
        self.platform_id = PLATFORM_ACCOUNT_ID
        self._add_platform()

    def _add_platform(self) -> None:
        body = account_shapes.account()
        body.update(id=self.platform_id, created=int(time.time()), email="platform@example.com")
        body["business_profile"]["name"] = "Cart Recovery Portal (sandbox platform)"
        self.add(body, self.platform_id)
        for key in (self.config["PLATFORM_SECRET_KEY"], self.config["PLATFORM_TEST_SECRET_KEY"]):
            self.keys[key] = self.platform_id

    def reseed(self, next_seq: int) -> None:
        """Continue insertion order after `next_seq - 1` (used when state is restored)."""
        self._seq = itertools.count(next_seq)

    def add_webhook_endpoint(
        self,
        account: str,
        url: str,
        *,
        livemode: bool,
        connect: bool,
        enabled_events: list[str],
        secret: str | None = None,
        **fields,
    ) -> Record:
        """Register an endpoint; a signing secret is made unless one is given."""
        body = shapes.webhook_endpoint()
        body.update(
            id=new_id("we_1"),
            created=self.now(),
            livemode=livemode,
            url=url,
            enabled_events=enabled_events,
            **fields,
        )
        return self.add(body, account, secret=secret or "whsec_" + new_id("", 32), connect=connect)

    def now(self) -> int:
        """Sandbox time: real time plus whatever the clock was advanced by."""
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> int:
        """Move the clock forward; returns the new sandbox time."""
        with self.lock:
            self.offset += seconds
            return self.now()

    def add(self, obj: dict, account: str, **extra) -> Record:
        """Store a new object owned by `account`."""
        with self.lock:
            record = Record(obj, account, next(self._seq), dict(extra))
            self._put(record)
            return record

    def _put(self, record: Record) -> None:
        self.records[record.obj["id"]] = record
        self._by_kind.setdefault(record.kind, {}).setdefault(record.account, {})[
            record.obj["id"]
        ] = record
        if record.kind == "checkout.session" and record.obj.get("status") == "open":
            heapq.heappush(
                self._expiries, (record.obj["expires_at"], record.seq, record.obj["id"])
            )
        if record.kind == "checkout.session":
            self.note_email(record)

    def note_email(self, session: Record) -> None:
        """Index the session under its shopper's current email (call after setting one)."""
        email = (session.obj.get("customer_details") or {}).get("email")
        if email:
            key = (session.account, email.lower())
            self._emails.setdefault(key, {})[session.obj["id"]] = session

    def sessions_by_email(self, account: str, email: str, livemode: bool | None) -> list[Record]:
        """The account's sessions that have had this email (any case), newest first: a superset
        of those that have it now."""
        with self.lock:
            found = self._emails.get((account, email.lower()), {}).values()
            return sorted(
                (
                    r
                    for r in found
                    if self.records.get(r.obj["id"]) is r
                    and (livemode is None or r.obj.get("livemode") in (None, livemode))
                ),
                key=lambda r: r.seq,
                reverse=True,
            )

    def remove(self, object_id: str) -> None:
        """Forget an object (a deleted endpoint, product, price...)."""
        with self.lock:
            record = self.records.pop(object_id)
            del self._by_kind[record.kind][record.account][object_id]

    def replace_all(self, records: list[Record]) -> None:
        """Replace every object at once (restoring a snapshot); insertion order follows seq."""
        with self.lock:
            self.records, self._by_kind, self._expiries, self._emails = {}, {}, [], {}
            for record in sorted(records, key=lambda r: r.seq):
                self._put(record)
            self.reseed(max((r.seq for r in records), default=0) + 1)

    def due_sessions(self, now: int) -> list[Record]:
        """Open sessions whose `expires_at` has passed, oldest deadline first; each is handed
        out once (a session completed or expired meanwhile is skipped)."""
        with self.lock:
            due = []
            while self._expiries and self._expiries[0][0] <= now:
                _, _, session_id = heapq.heappop(self._expiries)
                record = self.records.get(session_id)
                if record is not None and record.obj["status"] == "open":
                    due.append(record)
            return due

    def find(self, object_id: str) -> Record | None:
        """The record with this id, whoever owns it."""
        return self.records.get(object_id)

    def get(
        self, object_id: str, kind: str, account: str, livemode: bool | None, param: str = "id"
    ) -> Record:
        """The caller's object of `kind`; a 404 like Stripe's otherwise."""
        record = self.records.get(object_id) if isinstance(object_id, str) else None
        if record is None or record.kind != kind or record.account != account:
            raise no_such(kind, str(object_id), param)
        if livemode is not None and record.obj.get("livemode") not in (None, livemode):
            mode = "live" if record.obj["livemode"] else "test"
            raise StripeError(
                404,
                f"No such {kind}: '{object_id}'; a similar object exists in "
                f"{mode} mode, but a {'live' if livemode else 'test'} mode key "
                "was used to make this request.",
                param,
                code="resource_missing",
            )
        return record

    def all(
        self, kind: str, account: str | None = None, livemode: bool | None = None
    ) -> list[Record]:
        """Records of `kind` (of `account`, in `livemode` when given), newest first."""
        with self.lock:
            owners = self._by_kind.get(kind, {})
            if account is not None:  # one owner: already in insertion (seq) order
                return [
                    r
                    for r in reversed(owners.get(account, {}).values())
                    if livemode is None or r.obj.get("livemode") in (None, livemode)
                ]
            found = [
                r
                for group in owners.values()
                for r in group.values()
                if livemode is None or r.obj.get("livemode") in (None, livemode)
            ]
        return sorted(found, key=lambda r: r.seq, reverse=True)

    def owner_of_key(self, key: str) -> str | None:
        """The account an API key belongs to, if any."""
        return self.keys.get(key)

    def create_account(self, name: str | None, email: str | None, connect: bool) -> Record:
        """A new Standard account with its own keys, optionally connected to the platform."""
        with self.lock:
            body = account_shapes.account()
            body.update(id=new_id("acct_1", 15), created=self.now(), email=email)
            body["business_profile"]["name"] = name
            body["settings"]["dashboard"]["display_name"] = name
            body["external_accounts"]["url"] = f"/v1/accounts/{body['id']}/external_accounts"
            record = self.add(body, self.platform_id, keys=self._account_keys())
            for key in record.extra["keys"].values():
                self.keys[key] = body["id"]
            if connect:
                self.connected.add(body["id"])
            return record

    def _account_keys(self) -> dict:
        suffix = random_token(24)
        # Publishable keys are not API keys here; they are only shown and handed out by OAuth.
        return {
            f"{kind}_{mode}": f"{kind}_{mode}_{suffix}{random_token(8)}"
            for kind in ("sk", "rk")
            for mode in ("live", "test")
        }

    def publishable_key(self, account_id: str, livemode: bool) -> str:
        """A stable publishable key for the account (informational only)."""
        return f"pk_{'live' if livemode else 'test'}_{account_id[5:]}"

    def accounts(self) -> list[Record]:
        """Every account except the platform itself, newest first."""
        return [r for r in self.all("account") if r.obj["id"] != self.platform_id]
