"""The sending settings a merchant types: their shape (Values) and every check on them
(`problems`), each naming its field. Pure: nothing here reads or writes the database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from functools import cache

from email_validator import EmailNotValidError, validate_email

from portal.mail.mime import BIDI, CONTROL, HIDDEN
from portal.mail.values import DEFAULT_LOCALE, locale_choices
from portal.models import TestModeSends
from portal.services import addresses, domain_names, rules, zone_table

MAX_DELAY_MINUTES = 72 * 60  # up to 72 h after expiry
MAX_FREQUENCY_CAP_HOURS = 720  # 30 days
MAX_HOLDOUT_PERCENT = 50
MAX_SENDER_NAME = 100  # the column's length
MAX_REPLY_TO = 254  # the longest address SMTP carries
MAX_POSTAL_ADDRESS = 1000
MIN_POSTAL_ADDRESS = 10  # shorter cannot hold a street, a city and a country
# Plain ASCII mail (no SMTPUTF8); RFC 2606's test names pass here, for domain_names to judge.
_ADDRESS_RULES = {"check_deliverability": False, "allow_smtputf8": False, "test_environment": True}

Problem = tuple[str, str]  # (field, message for the person); a step's delay is "steps.<i>"


@dataclass(frozen=True)
class StepValues:
    delay_minutes: int  # after the session expired
    promotion: bool = False  # mint a promotion code for this email


QUIET_ZONES = ("merchant", "shopper")  # whose clock the quiet hours follow


@dataclass(frozen=True)
class Values:
    """Everything the settings page edits, typed; the defaults are the stored defaults."""

    sender_name: str = ""
    reply_to: str | None = None
    postal_address: str = ""
    timezone: str = "UTC"
    quiet_start: int | None = None
    quiet_end: int | None = None
    quiet_zone: str = "merchant"  # or "shopper": their billing country's clock, when it has one
    steps: tuple[StepValues, ...] = (StepValues(0),)
    frequency_cap_hours: int = 24
    holdout_percent: int = 0
    test_mode: str = TestModeSends.RECORD
    coupon_id: str | None = None  # the Stripe coupon promotion codes are minted from
    locale: str = DEFAULT_LOCALE  # amounts and dates when the checkout names no language


def problems(
    values: Values, enabled: bool = False, coupons: set[str] | None = None
) -> list[Problem]:
    """Every reason `values` cannot be stored, in the page's order; `enabled` says recovery
    emails are on (they then need a postal address); `coupons`, the merchant's coupon ids
    (None: Stripe could not be asked, and a coupon chosen before is kept)."""
    return [
        *_sender_problems(values, enabled),
        *_timing_problems(values),
        *_step_problems(values.steps),
        *_coupon_problems(values, coupons),
        *_limit_problems(values),
    ]


def _coupon_problems(values: Values, coupons: set[str] | None) -> list[Problem]:
    if values.coupon_id and coupons is not None and values.coupon_id not in coupons:
        return [("coupon_id", "Choose one of your Stripe coupons.")]
    if any(step.promotion for step in values.steps) and not values.coupon_id:
        return [("coupon_id", "Choose the coupon the promotion codes come from, or untick them.")]
    return []


ADDRESS_MARKS = re.compile("[<>@]")


def _sender_problems(values: Values, enabled: bool) -> list[Problem]:
    found = []
    if CONTROL.search(values.sender_name):  # it becomes the From header's display name
        found.append(("sender_name", "Use one line of plain text, without control characters."))
    elif len(values.sender_name) > MAX_SENDER_NAME:
        found.append(("sender_name", f"Use at most {MAX_SENDER_NAME} characters."))
    elif ADDRESS_MARKS.search(values.sender_name):  # "Bank <help@bank.example>" reads as From
        found.append(("sender_name", "Use a name without < > or @: mail apps show it as is."))
    if values.reply_to and (problem := reply_to_problem(values.reply_to)):
        found.append(("reply_to", problem))
    if values.locale not in locale_ids():
        found.append(("locale", "Choose a language and region from the list."))
    address, problem = values.postal_address, None
    if CONTROL.search(address.replace("\r", "").replace("\n", "").replace("\t", "")):
        problem = "Use plain text: this contains a control character."
    elif BIDI.search(address):  # it closes every email: it must read as it is
        problem = "Use plain text: this contains a direction mark."
    elif HIDDEN.search(address):
        problem = (
            "Use plain text: this contains an invisible character (such as a zero-width space)."
        )
    elif len(address) > MAX_POSTAL_ADDRESS:
        problem = f"Use at most {MAX_POSTAL_ADDRESS} characters."
    elif address.strip() and not any(ch.isalpha() for ch in address):  # a city has letters
        problem = "Give the street or PO box, the city, the postal code and the country: "
        problem += "this has no letters."
    elif 0 < len(address.strip()) < MIN_POSTAL_ADDRESS:
        problem = "This is too short for a postal address: give the street or PO box, the city, "
        problem += "the postal code and the country."
    elif enabled and not address.strip():
        problem = "Recovery emails are on: they must show a postal address."
    return found + ([("postal_address", problem)] if problem else [])


@cache
def locale_ids() -> frozenset[str]:
    """The locales a merchant may choose: those the settings page offers."""
    return frozenset(ident for ident, _ in locale_choices())


def reply_to_address(value: str) -> str:
    """`value` as stored: its domain in lower-case A-labels (help@Bücher.de gives
    help@xn--bcher-kva.de), the part before the @ as typed; `value` itself when it is no
    address, for reply_to_problem to say why."""
    try:
        return validate_email(value, **_ADDRESS_RULES).ascii_email or value
    except (EmailNotValidError, ValueError, IndexError):
        return value


def reply_to_problem(value: str) -> str | None:
    """Why `value` cannot be the Reply-To, in words (None: it can): the mail composer takes
    exactly one plain ASCII address (no name, no line break) that mail can carry and whose
    domain can receive mail, by domain_names.unreachable's rule. `value` is as
    reply_to_address gives it."""
    if CONTROL.search(value) or "," in value or "<" in value:
        return "Enter one email address alone, like help@example.com (no name, no comma)."
    if len(value) > MAX_REPLY_TO:
        return f"Use at most {MAX_REPLY_TO} characters."
    if not value.partition("@")[0].isascii():
        return "Write the part before the @ in plain ASCII letters: mail cannot carry this one."
    if value.count("@") != 1:
        return "Enter one email address, like help@example.com."
    domain = value.rpartition("@")[2]
    if reason := domain_names.unreachable(domain):
        return f"{reason}: replies would be lost."
    if mixed := domain_names.look_alike(domain):
        return mixed
    if "." not in domain.strip("."):
        return "The part after the @ needs a dot, like help@example.com."
    if problem := addresses.sendable_problem(value):
        return problem
    try:
        validate_email(value, **_ADDRESS_RULES)
        if Address(addr_spec=value).addr_spec == value:
            return None
    except (EmailNotValidError, ValueError, IndexError, HeaderParseError):
        pass
    return "Enter one email address, like help@example.com."


def _timing_problems(values: Values) -> list[Problem]:
    found = []
    if values.timezone not in zone_table.time_zones():
        found.append(("timezone", "Choose a time zone from the list."))
    start, end = values.quiet_start, values.quiet_end
    for field, hour in (("quiet_start", start), ("quiet_end", end)):
        if hour is not None and not 0 <= hour <= 23:
            found.append((field, "Choose an hour from 00:00 to 23:00."))
    if (start is None) != (end is None):
        field = "quiet_end" if end is None else "quiet_start"
        found.append((field, "Choose both a start and an end, or neither."))
    elif start is not None and start == end:
        found.append(("quiet_end", "End the quiet hours at another hour than they start."))
    if values.quiet_zone not in QUIET_ZONES:
        found.append(("quiet_zone", "Choose whose time the quiet hours follow."))
    return found


def _step_problems(steps: tuple[StepValues, ...]) -> list[Problem]:
    if not steps:
        return [("steps", "Say when the first email goes out.")]
    if len(steps) > rules.MAX_STEPS:
        return [("steps", f"Send up to {rules.MAX_STEPS} emails in all.")]
    found = []
    for i, step in enumerate(steps):
        if not 0 <= step.delay_minutes <= MAX_DELAY_MINUTES:
            found.append((f"steps.{i}", "Choose from 0 minutes to 72 hours after expiry."))
        elif i and step.delay_minutes <= steps[i - 1].delay_minutes:
            found.append((f"steps.{i}", "Send each email later than the one before it."))
    return found


def _limit_problems(values: Values) -> list[Problem]:
    found = []  # a limit that is None was not a number: the form has said so beside it
    cap, holdout = values.frequency_cap_hours, values.holdout_percent
    if cap is not None and not 0 <= cap <= MAX_FREQUENCY_CAP_HOURS:
        found.append(("frequency_cap_hours", f"Choose from 0 to {MAX_FREQUENCY_CAP_HOURS} hours."))
    if holdout is not None and not 0 <= holdout <= MAX_HOLDOUT_PERCENT:
        found.append(("holdout_percent", f"Choose from 0 to {MAX_HOLDOUT_PERCENT} %."))
    if values.test_mode not in tuple(TestModeSends):
        found.append(("test_mode", "Choose what becomes of test-mode carts."))
    return found
