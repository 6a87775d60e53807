"""Template filters every page shares: money, and times in the merchant's own time zone."""

from __future__ import annotations

import re

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Flask, g
from flask_login import current_user
from markupsafe import Markup, escape

from portal import db
from portal.mail.values import format_money
from portal.models import ConsentStatus, DryRunStatus, ImportStatus, InvitationStatus
from portal.models import SendingSettings
from portal.services import addresses, domain_names, terms, zone_table
from portal.services.password_reset import LinkProblem

ADDRESS_RUN = 20  # characters of an address shown before a line may break
# Control characters, the marks that turn text's direction (which <bdi> keeps inside), and the
# invisible ones (a zero-width space pasted into a cell: the cell looks right but is refused).
_CONTROL = re.compile(
    r"\r\n|[\x00-\x1f\x7f-\x9f\xad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)


def register(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(when)
    app.add_template_filter(day)
    app.add_template_filter(duration)
    app.add_template_filter(count)
    app.add_template_filter(size)
    app.add_template_filter(address_breaks)
    app.add_template_filter(full_stop)
    app.add_template_filter(visible)
    app.add_template_filter(domain_names.display_address, "mailbox")
    app.add_template_filter(zone_table.in_words, "zone_words")
    app.add_template_global(merchant_zone)
    app.add_template_global(terms_paused)
    # Pages compare a status with its enum's member, never with the word stored.
    for values in (ConsentStatus, DryRunStatus, ImportStatus, InvitationStatus, LinkProblem):
        app.add_template_global(values, values.__name__)


def money(amount, currency) -> str:
    return format_money(amount, currency) if amount is not None and currency else "—"


def address_breaks(text: str | None) -> Markup:
    """An email address (escaped) that a narrow column wraps after its @ and before its dots
    and plus signs ("sam.rivera@" / "example.com"), not in the middle of a word; a run longer
    than ADDRESS_RUN characters may also break after each ADDRESS_RUN. A table then never needs
    to break an address just anywhere to fit (the .addr style does not let it). An erased
    address reads as such (addresses.shown), never as its hash."""
    runs = re.split(r"(?<=@)|(?=[.+])", addresses.shown(text))
    pieces = (
        run[i : i + ADDRESS_RUN] for run in runs for i in range(0, len(run) or 1, ADDRESS_RUN)
    )
    return Markup("<wbr>").join(escape(piece) for piece in pieces)


def visible(text: str | None) -> Markup:
    """Text as a person should see it when it may hold anything (a rejected CSV cell): a line
    break as ↵ and a tab as ⇥, each other control character or direction mark written out
    (\\x01, \\u202e), the whole isolated (<bdi>): nothing in it can turn it, or the text
    around it, around."""
    shown = _CONTROL.sub(_written_out, text or "")
    return Markup("<bdi>{}</bdi>").format(shown)


SHOWN_AS = {"\r\n": "↵", "\n": "↵", "\r": "↵", "\t": "⇥"}  # what a person knows them by


def _written_out(match: re.Match) -> str:
    if match.group() in SHOWN_AS:
        return SHOWN_AS[match.group()]
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def full_stop(text: str | None) -> str:
    """The text ending a sentence: a full stop added unless it ends with one already (a name
    like "Knitwear & Co." must not end a sentence with two)."""
    text = text or ""
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def merchant_zone() -> ZoneInfo:
    """The signed-in merchant's time zone (its sending settings'), UTC otherwise; read once
    per request."""
    if "merchant_zone" not in g:
        name = "UTC"
        if current_user.is_authenticated:
            stored = db.session.get(SendingSettings, current_user.merchant_id)
            name = stored.timezone if stored is not None else "UTC"
        g.merchant_zone = zone_table.zone(name)
    return g.merchant_zone


def when(moment: datetime | None, empty: str = "—", seconds: bool = False) -> str:
    """`moment` in the merchant's time zone, the zone named, its day written as `day` writes
    one: "Dec 1, 2026, 14:07 EST" (with `seconds`: "Dec 1, 2026, 14:07:09 EST", for steps
    that follow each other closely)."""
    if moment is None:
        return empty
    moment = moment.replace(tzinfo=moment.tzinfo or timezone.utc)
    try:
        local = moment.astimezone(merchant_zone())
    except OverflowError:  # a moment at the very edge of the years a datetime can hold
        local = moment.astimezone(timezone.utc)
    return f"{day(local)}, {local:%H:%M{':%S' if seconds else ''}} {local.tzname()}"


def day(date) -> str:
    """A calendar day, the one way pages write a day on its own: "Nov 4, 2026"."""
    return f"{date:%b} {date.day}, {date.year}"


def count(number: int | None) -> str:
    """A whole number with its thousands set apart: "1,001,000"."""
    return f"{number or 0:,}"


def size(byte_count: int | None) -> str:
    """A file's size in words: "812 bytes", "14 KB", "44.1 MB"."""
    byte_count = byte_count or 0
    if byte_count < 1024:
        return f"{byte_count} byte{'' if byte_count == 1 else 's'}"
    if byte_count < 1024**2:
        return f"{byte_count / 1024:.0f} KB"
    return f"{byte_count / 1024**2:.1f} MB"


def duration(delta: timedelta) -> str:
    """A span in words, its two largest units: "2 days 4 hours", "12 minutes", "under a minute"."""
    seconds = max(int(delta.total_seconds()), 0)
    units = (("day", 86400), ("hour", 3600), ("minute", 60))
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}" if count else "")
    words = [p for p in parts[:2] if p]
    return " ".join(words) or "under a minute"


def terms_paused() -> bool:
    """Whether the signed-in merchant's sending waits for the new terms (the top banner)."""
    return current_user.is_authenticated and terms.paused_by_new_version(current_user.merchant)
