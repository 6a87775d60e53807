"""Outside values made safe and readable in an email: money and dates as a shopper reads them
(in their language, by Babel), colours and links a mail client may be given, and text cleaned
to single lines or paragraphs. Pure functions."""

from __future__ import annotations

import copy
import re
import unicodedata
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError, dates, localedata
from babel.numbers import NumberPattern, get_currency_precision

from portal.mail.mime import CONTROL

DEFAULT_COLOR = "#4f46e5"

# Stripe's own lists: amounts in these currencies are already whole units (or thousandths).
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())

THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

DEFAULT_LOCALE = "en_US"

# The first of a month as these languages write it: "1er janvier", "1° gennaio".
FIRST_OF_MONTH = {"fr": "1er", "it": "1°"}

# No locale id or zone name is longer; refusing longer strings first keeps the caches small.
_MAX_NAME = 64

_CHOICE = re.compile(r"[a-z]{2,3}_(?:[A-Z]{2}|[0-9]{3})")  # language_TERRITORY, no script

# Babel reads these as "some language": "und" becomes en_US, "root" has no words for months.
_NO_LANGUAGE = frozenset(("und", "root"))

_IDENTIFIER = re.compile(r"[A-Za-z]{2,8}(?:_[A-Za-z0-9]{1,8}){0,3}")

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")

# An address: no spaces, control characters, quotes or brackets on either side of the @.
_ADDRESS_CHAR = r"[^@\s<>\"'()?&\x00-\x1f\x7f-\x9f]"
EMAIL = re.compile(rf"{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+")

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@lru_cache(maxsize=512)
def _parse(identifier: str) -> Locale | None:
    """The Babel locale `identifier` names ("fr-CA" read as "fr_CA"), or None if Babel knows
    none or it names no language."""
    identifier = identifier.replace("-", "_")
    language = identifier.partition("_")[0].lower()
    if language in _NO_LANGUAGE or not _IDENTIFIER.fullmatch(identifier):
        return None
    try:
        found = Locale.parse(identifier)
        # Loading the data now, not in the middle of an email: Babel lets some odd names this far.
        return found if found.currency_formats else None
    except (ValueError, TypeError, OSError, UnknownLocaleError):
        return None


def _short(value: object) -> bool:
    return isinstance(value, str) and len(value) <= _MAX_NAME


def _locale(value: object) -> Locale | None:
    """As `_parse`, for any value: None for what is not a short string."""
    return _parse(value) if _short(value) else None


def known_locale(value: str) -> bool:
    """Whether Babel can write amounts and dates for `value` ("fr_CA", or Stripe's "fr-CA")."""
    return _locale(value) is not None


def email_locale(checkout_locale: str | None, fallback: str | None = None) -> str:
    """The Babel locale id an email's amounts and dates are written for: the Checkout Session's
    `locale` ("fr-CA" -> "fr_CA"), but the merchant's `fallback` when the checkout named only
    the same language ("en" with "en_GB" -> "en_GB"); for "auto", none, or one Babel does not
    know, `fallback` if Babel knows it, else DEFAULT_LOCALE. Never raises."""
    base = _locale(fallback) or _parse(DEFAULT_LOCALE)
    chosen = _locale(checkout_locale)
    if chosen is None or _narrows(base, chosen):
        return str(base)
    return str(chosen)


def _narrows(base: Locale, chosen: Locale) -> bool:
    # Checkout's bare "en" or "fr" says nothing of the region; the merchant's is the better guess.
    same_language = (base.language, base.script) == (chosen.language, None)
    return same_language and chosen.territory is None and chosen.script is None


@lru_cache(maxsize=1)
def _choices() -> tuple[tuple[str, str], ...]:
    english = Locale("en")
    names = {
        name: Locale.parse(name).get_display_name(english)
        for name in localedata.locale_identifiers()
        if _CHOICE.fullmatch(name)
    }
    # A few rare languages have no English name yet; a merchant could not recognise them.
    found = [(name, shown) for name, shown in names.items() if shown]
    return tuple(sorted(found, key=lambda choice: (choice[1].casefold(), choice[0])))


def locale_choices() -> list[tuple[str, str]]:
    """Every language_TERRITORY locale Babel knows as (id, English name), e.g. ("en_GB",
    "English (United Kingdom)"), sorted by name: what a merchant may write amounts and dates in."""
    return list(_choices())


def format_money(amount: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """`amount` minor units of `currency` as a reader of `locale` writes them: "$48.00" (en_US),
    "48,00 €" (fr_FR), "KWD1.234" (1234 kwd, en_US): Stripe's decimals, so no minor unit is
    ever rounded away; an unknown currency shows its code. An unknown `locale` means
    DEFAULT_LOCALE."""
    code = currency.upper()
    decimals = _decimals(code.lower())
    digits = decimals
    if amount % 10**decimals == 0:  # a whole amount follows the currency's custom ("ISK10")
        digits = min(decimals, get_currency_precision(code))
    where = _locale(locale) or _parse(DEFAULT_LOCALE)
    value = Decimal(amount).scaleb(-decimals)
    return _money_pattern(where, digits).apply(value, where, currency=code, currency_digits=False)


def _decimals(code: str) -> int:
    """How many of `code`'s minor units Stripe counts to one unit, as a power of ten."""
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


@lru_cache(maxsize=256)
def _money_pattern(locale: Locale, digits: int) -> NumberPattern:
    # The locale's currency pattern, but with Stripe's decimals rather than Babel's idea of them.
    pattern = copy.copy(locale.currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return pattern


def format_date(moment: datetime, locale: str = DEFAULT_LOCALE, zone: str = "UTC") -> str:
    """The calendar date of `moment` (naive means UTC) in the time zone `zone` (UTC when
    unknown), in `locale`'s long form: "December 21, 2026" (en_US), "21 décembre 2026" (fr_FR).
    An unknown `locale` means DEFAULT_LOCALE; never raises for either."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    day = aware.astimezone(_zone(zone) if _short(zone) else timezone.utc).date()
    where = _locale(locale) or _parse(DEFAULT_LOCALE)
    text = dates.format_date(day, "long", locale=where)
    first = FIRST_OF_MONTH.get(where.language) if day.day == 1 else None
    return first + text[1:] if first and text.startswith("1 ") else text


@lru_cache(maxsize=128)
def _zone(name: str) -> tzinfo:
    """The time zone `name` ("Europe/Paris"), or UTC if there is none by that name."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # unknown, malformed, or a directory of zones
        return timezone.utc


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
    """`url` if an email may link to it (an absolute http or https address), else None."""
    # A shop may still be served over plain http; any other scheme is refused.
    parts = _absolute_url(url)
    return url if parts and parts.scheme in ("http", "https") else None


def _absolute_url(url: str | None) -> SplitResult | None:
    """The parts of `url` when it names a host (with no user or password, which mail clients
    show as a warning, and a port that exists) and holds no space or control character."""
    if not url or any(unicodedata.category(ch)[0] in "CZ" for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port  # reading it checks it
    except ValueError:  # e.g. an unclosed IPv6 bracket, or port 99999
        return None
    credentials = parts.username is not None or parts.password is not None
    return parts if parts.hostname and not credentials and port != 0 else None


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
    """`text` cut to at most `limit` characters, an ellipsis ending what was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
