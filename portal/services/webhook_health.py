"""Whether Stripe's webhooks reach the merchant: when the last event arrived, and whether a
direct-mode delivery was refused since. A wrong signing secret loses every cart without a
sound otherwise: Stripe's deliveries get 400 and the Connect page still says "Connected"."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import or_, select, update

from portal import db, sealing
from portal.db import utcnow
from portal.models import ConnectMethod, StripeAccount, StripeEvent
from portal.services import events, stripe_gateway, webhooks

log = logging.getLogger(__name__)

# Anyone may POST to a direct endpoint: its refusals are kept at most once a minute, so that a
# flood of forged requests writes one row a minute, not one per request.
REFUSAL_EVERY = timedelta(minutes=1)
REFUSAL_SLOT = "portal:refusal:{}"  # set while a refused delivery's check is queued or recent
FORGED_FREES = "portal:refusal-forged:{}"  # how often forgeries freed that slot this hour
FORGED_FREES_PER_HOUR = 30
# A forged request has the account's events of the last hour compared with those stored (Stripe
# sends an event as it happens, and tries a refused one again), but for the last seconds, whose
# deliveries may still be on their way.
LOOKBACK, SETTLE = timedelta(hours=1), timedelta(seconds=10)


@dataclass(frozen=True)
class Health:
    last_at: datetime | None  # when the last event of this merchant was received
    last_type: str | None
    refused_at: datetime | None  # the last refused direct-mode delivery, if any
    refused_reason: str | None
    # Events are kept events.RETENTION: none since then may mean none kept, not none ever.
    pruned_before: bool = False

    @property
    def failing(self) -> bool:
        """A delivery was refused after the last event that got through."""
        if self.refused_at is None:
            return False
        return self.last_at is None or self.refused_at > self.last_at


def note_refusal(merchant_id: int, reason: str, also: str = "") -> None:
    """Keep `reason` (in words, then `also`) as the last refusal of the merchant's connected
    direct-mode account, unless one was kept less than REFUSAL_EVERY ago. The caller commits."""
    now = utcnow()
    db.session.execute(
        update(StripeAccount)
        .where(
            StripeAccount.merchant_id == merchant_id,
            StripeAccount.method == ConnectMethod.DIRECT,
            StripeAccount.disconnected_at.is_(None),
            or_(
                StripeAccount.webhook_refused_at.is_(None),
                StripeAccount.webhook_refused_at < now - REFUSAL_EVERY,
            ),
        )
        .values(webhook_refused_at=now, webhook_refused_reason=(_in_words(reason) + also)[:200])
    )


def confirm_refusal(merchant_id: int, event_id: str, reason: str) -> bool:
    """Keep a refused delivery (see note_refusal) when Stripe sent the merchant an event that
    did not arrive: the one the request names, or else one of its latest, which the reason
    then counts (anyone may POST to a direct endpoint: a forged request must not tell the
    merchant that the secret saved is wrong, nor, by taking the check's turn, hide a real
    refusal; but events lost for any reason are worth telling). Stripe not answering, or a key
    that may not read events, keeps it (a real delivery is more likely than a forgery that
    names a real event). Whether it was kept. Commits: no transaction is held while Stripe
    answers."""
    account = db.session.scalar(
        select(StripeAccount).where(
            StripeAccount.merchant_id == merchant_id,
            StripeAccount.method == ConnectMethod.DIRECT,
            StripeAccount.disconnected_at.is_(None),
        )
    )
    db.session.commit()
    lost = None if account is None else _lost(account, event_id)
    if lost is None:
        return False
    note_refusal(merchant_id, reason, lost)
    db.session.commit()
    return True


def _lost(account: StripeAccount, event_id: str) -> str | None:
    """ "" when Stripe holds `event_id` and it never arrived here; else, when some of the
    account's events of the last LOOKBACK (older than SETTLE: those may still be on their way)
    never arrived, words that count them; None when nothing was lost."""
    if not _arrived([event_id]) and stripe_gateway.knows_event(account, event_id) is not False:
        return ""
    until = utcnow() - SETTLE
    since = max(account.connected_at, utcnow() - LOOKBACK)
    if since >= until:
        return None
    sent = set(
        stripe_gateway.event_ids(
            account, list(webhooks.DIRECT_TYPES), int(since.timestamp()), int(until.timestamp())
        )
        or ()
    )
    lost = len(sent - _arrived(list(sent))) if sent else 0
    if not lost:
        return None
    return (
        f"; and {lost} event{'s' if lost > 1 else ''} Stripe sent in the hour before never arrived"
    )


def _arrived(event_ids: list[str]) -> set[str]:
    """Those of `event_ids` that are stored (kept until events.RETENTION, far past LOOKBACK).
    Commits, ending the read: no transaction stays open across the call to Stripe after it."""
    found = db.session.scalars(
        select(StripeEvent.event_id).where(StripeEvent.event_id.in_(event_ids))
    )
    arrived = set(found)
    db.session.commit()
    return arrived


def take_refusal_slot(connection: Redis, merchant_id: int) -> bool:
    """Whether a refused delivery may be checked with Stripe now: once a minute per merchant,
    so that a flood of forged requests costs Stripe one call a minute, not one each."""
    return bool(connection.set(REFUSAL_SLOT.format(merchant_id), "1", nx=True, ex=60))


def free_refusal_slot(connection: Redis, merchant_id: int) -> None:
    """After a forgery: the next refused delivery may be checked at once, so that a forged
    request cannot hide a real refusal that follows it within the minute. At most
    FORGED_FREES_PER_HOUR an hour; past that, or with Redis away, the slot frees itself."""
    count_key = FORGED_FREES.format(merchant_id)
    try:
        with connection.pipeline() as pipe:  # one transaction: the count always has its hour
            freed = pipe.set(count_key, 0, ex=3600, nx=True).incr(count_key).execute()[-1]
        if freed <= FORGED_FREES_PER_HOUR:
            connection.delete(REFUSAL_SLOT.format(merchant_id))
    except RedisError as exc:
        log.warning("refusal check of merchant %s not freed: %s", merchant_id, exc)


def _in_words(reason: str) -> str:
    """The receiver's reason as the merchant should read it."""
    if "does not match" in reason:
        return "its signature does not match the signing secret saved here"
    if "timestamp" in reason:
        return "its signature is dated more than 5 minutes from this server's clock"
    return reason


def health(account: StripeAccount) -> Health:
    """The webhook health of the merchant whose Stripe account is `account`, since it was
    connected."""
    last = db.session.execute(
        select(StripeEvent.received_at, StripeEvent.type)
        .where(
            StripeEvent.merchant_id == account.merchant_id,
            # Another account connected before this one: its events say nothing of this one's.
            StripeEvent.received_at >= account.connected_at,
        )
        .order_by(StripeEvent.id.desc())
        .limit(1)
    ).first()
    return Health(
        last_at=last.received_at if last else None,
        last_type=last.type if last else None,
        refused_at=account.webhook_refused_at,
        refused_reason=account.webhook_refused_reason,
        pruned_before=account.connected_at < utcnow() - events.RETENTION,
    )


def replace_secret(account: StripeAccount, secret: str, keys: str) -> None:
    """Seal `secret` as the direct-mode endpoint's signing secret in place of the one held
    (the key, the account and everything scheduled stay) and forget the refusals that the
    old one caused. The caller commits."""
    account.webhook_secret_sealed = sealing.seal(secret, keys)
    account.webhook_refused_at = account.webhook_refused_reason = None
