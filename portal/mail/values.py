"""Outside values made safe and readable in an email: money and dates as a shopper reads them,
colours and links a mail client may be given, and text cleaned to single lines or paragraphs.
Pure functions."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone
from urllib.parse import SplitResult, urlsplit

from portal.mail.mime import CONTROL

DEFAULT_COLOR = "#4f46e5"

# Stripe's own lists: amounts in these currencies are already whole units (or thousandths).
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())

THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

SYMBOLS = {
    "usd": "$",
    "eur": "€",
    "gbp": "£",
    "jpy": "¥",
    "inr": "₹",
    "krw": "₩",
    "cad": "CA$",
    "aud": "A$",
    "nzd": "NZ$",
    "hkd": "HK$",
    "sgd": "S$",
    "mxn": "MX$",
    "brl": "R$",
}

# Spelled out rather than strftime("%B"): the result must not depend on the process locale.
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")

EMAIL = re.compile(r"[^@\s<>\"'()?&]+@[^@\s<>\"'()?&]+\.[^@\s<>\"'()?&]+")

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def format_money(amount: int, currency: str) -> str:
    """`amount` minor units as a person reads them: "$48.00", "¥1,200", or "9.99 XYZ" for a
    currency without a known symbol. Honours Stripe's zero- and three-decimal currencies."""
    code = currency.lower()
    decimals = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    units, fraction = divmod(abs(amount), 10**decimals)
    number = f"{units:,}" + (f".{fraction:0{decimals}d}" if decimals else "")
    sign = "-" if amount < 0 else ""
    if code in SYMBOLS:
        return f"{sign}{SYMBOLS[code]}{number}"
    return f"{sign}{number} {code.upper()}"


def safe_color(color: str | None) -> str:
    """`color` when it is a #rrggbb hex (lower-cased), else the default: it is placed into CSS."""
    if color and _HEX_COLOR.fullmatch(color):
        return color.lower()
    return DEFAULT_COLOR


def text_color_on(background: str) -> str:
    """White or near-black, whichever contrasts more with the #rrggbb `background` (WCAG)."""
    channels = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    dark_luminance = 0.0116  # of #111827
    on_white = 1.05 / (luminance + 0.05)
    on_dark = (luminance + 0.05) / (dark_luminance + 0.05)
    return "#ffffff" if on_white >= on_dark else "#111827"


def safe_image_url(url: str | None) -> str | None:
    """`url` when it is https (or http on this machine, for development), else None: anything
    else (javascript:, data:, relative) would be blocked by clients or worse."""
    parts = _absolute_url(url)
    if parts and (
        parts.scheme == "https" or parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
    ):
        return url
    return None


def safe_link(url: str | None) -> str | None:
    # A shop may still be served over plain http; any other scheme is refused.
    parts = _absolute_url(url)
    return url if parts and parts.scheme in ("http", "https") else None


def _absolute_url(url: str | None) -> SplitResult | None:
    """The parts of `url` when it names a host and holds no space or control character."""
    if not url or any(unicodedata.category(ch)[0] in "CZ" for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return parts if parts.hostname else None


def one_line(text: str) -> str:
    """`text` with every control and line/paragraph separator turned into a space, runs of
    whitespace collapsed and the ends trimmed: safe for a header or a single-line field."""
    return " ".join(CONTROL.sub(" ", text).split())


def clean_lines(text: str) -> list[str]:
    """The non-empty lines of `text`, each cleaned to a single line."""
    return [line for line in (one_line(raw) for raw in text.splitlines()) if line]


def paragraphs(text: str) -> list[list[str]]:
    """`text` split at blank lines into paragraphs, each a list of its lines."""
    # splitlines knows every line ending (CRLF, CR, U+2028...); rejoined, one regex finds blank lines.
    blocks = re.split(r"\n\s*\n", "\n".join(text.splitlines()))
    return [lines for lines in (clean_lines(block) for block in blocks) if lines]


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_date(moment: datetime) -> str:
    """The UTC calendar date of `moment`, e.g. "December 21, 2026" (naive means UTC)."""
    day = moment.replace(tzinfo=moment.tzinfo or timezone.utc).astimezone(timezone.utc)
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"
