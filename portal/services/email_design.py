"""The merchant's recovery email design: each step's texts, logo and brand colour, kept as
versions. Every save writes a new version and none is ever changed, so a send can record the
version it was rendered from and the cart's page can show it. Callers commit."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, fields
from urllib.parse import unquote, urlsplit

from flask import current_app
from sqlalchemy import ScalarSelect, Select, func, select

from portal import db
from portal.config import RELAXED_ENVS
from portal.mail import content as texts
from portal.mail import default_texts
from portal.mail.values import safe_image_url
from portal.models import EmailVersion, Merchant, SendingSettings, User
from portal.services import domain_names

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
LOGO_URL_MAX = 500


@dataclass(frozen=True)
class Design:
    """What the editor edits for one step: the texts (with placeholders) and the look."""

    content: texts.Content
    logo_url: str | None
    brand_color: str


def current(merchant_id: int, step: int) -> EmailVersion | None:
    """The latest saved version of `step`'s email, or None while the built-in default is used."""
    ident = current_id(merchant_id, step)
    return db.session.get(EmailVersion, ident) if ident else None


def current_id(merchant_id: int, step: int) -> int | None:
    """The id of `step`'s latest version, or None while the built-in default is used."""
    return db.session.scalar(_latest(merchant_id, step))


def current_id_query(merchant_id: int, step: int) -> ScalarSelect:
    """`current_id` as a scalar subquery, to be part of a larger statement."""
    return _latest(merchant_id, step).scalar_subquery()


def _latest(merchant_id: int, step: int) -> Select:
    return (
        select(EmailVersion.id)
        .where(EmailVersion.merchant_id == merchant_id, EmailVersion.step == step)
        .order_by(EmailVersion.number.desc())
        .limit(1)
    )


def versions(merchant_id: int, step: int, limit: int = 20) -> list[EmailVersion]:
    """The latest `limit` versions of `step`'s email, newest first."""
    return list(
        db.session.scalars(
            select(EmailVersion)
            .where(EmailVersion.merchant_id == merchant_id, EmailVersion.step == step)
            .order_by(EmailVersion.number.desc())
            .limit(limit)
        )
    )


def numbered(merchant_id: int, step: int, number: int) -> EmailVersion | None:
    """The merchant's version `number` of `step`'s email, or None when there is none such."""
    return db.session.scalar(
        select(EmailVersion).where(
            EmailVersion.merchant_id == merchant_id,
            EmailVersion.step == step,
            EmailVersion.number == number,
        )
    )


def authors(merchant_id: int, versions: list[EmailVersion]) -> dict[int, str]:
    """Who saved each version, by user id: their name, or their address when they gave none
    (a user since removed from the team is missing)."""
    ids = {v.created_by_id for v in versions if v.created_by_id}
    if not ids:
        return {}
    users = db.session.scalars(
        select(User).where(User.merchant_id == merchant_id, User.id.in_(ids))
    )
    return {user.id: user.name or user.email for user in users}


def design_of(version: EmailVersion | None, settings: SendingSettings, step: int) -> Design:
    """The design a version holds; with no version, the step's default texts in the look
    adopted from the merchant's Stripe branding (or the portal's default colour)."""
    if version is None:
        return default_design(settings, step)
    content = texts.Content(**{f.name: getattr(version, f.name) for f in fields(texts.Content)})
    return Design(content, version.logo_url, version.brand_color)


def default_design(settings: SendingSettings, step: int) -> Design:
    """The built-in email of `step` in the merchant's language, with their logo and colour."""
    content = default_texts.default_content(step, settings.locale)
    return Design(content, settings.logo_url, settings.brand_color)


def problems(design: Design) -> list[tuple[str, str]]:
    """What keeps `design` from being saved, as (field, message in words); [] when it may be."""
    found = texts.problems(design.content)
    logo = design.logo_url or ""
    if len(logo) > LOGO_URL_MAX:
        found.append(("logo_url", f"Use an address of at most {LOGO_URL_MAX} characters."))
    elif logo and (safe_image_url(logo) is None or _plain_http_outside_development(logo)):
        found.append(
            ("logo_url", "Use the https:// address of an image (PNG or JPEG), or leave it empty.")
        )
    elif logo and (host := _private_host(logo)):
        found.append(
            ("logo_url", f"{host}: shoppers’ mail apps could not show the logo from there.")
        )
    if not _HEX_COLOR.fullmatch(design.brand_color or ""):
        found.append(
            ("brand_color", "Use a colour written as # and six hex digits, e.g. #4f46e5.")
        )
    return found


def _private_host(url: str) -> str | None:
    """Why no shopper's mail app can fetch `url`, naming its host (a private network's name or,
    outside development, where the sandbox serves images on loopback, an address not on the
    internet)."""
    host = unquote(urlsplit(url).hostname or "").strip("[]")  # shop%2elocal is shop.local
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # 127.1, 0x7f000001 and 2130706433 are 127.0.0.1 to a browser
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return domain_names.unreachable(host)
    if current_app.config["PORTAL_ENV"] in RELAXED_ENVS or address.is_global:
        return None
    return f"{host} is not an address on the internet"


def _plain_http_outside_development(url: str) -> bool:
    # http://localhost serves the sandbox's images on a developer's machine; in production it
    # would point each shopper's mail client (and the editor's preview) at their own machine.
    return url.lower().startswith("http:") and current_app.config["PORTAL_ENV"] not in RELAXED_ENVS


def save(
    merchant: Merchant, user: User | None, step: int, design: Design, *, reset: bool = False
) -> EmailVersion:
    """A new version of `step`'s email holding `design` (checked by `problems` first). Two
    saves at once (a double click) cannot take the same number: the unique key refuses the
    second, which then takes the next one."""
    return db.racing_unique(lambda: _new_version(merchant, user, step, design, reset))


def _new_version(
    merchant: Merchant, user: User | None, step: int, design: Design, reset: bool
) -> EmailVersion:
    number = db.session.scalar(
        select(func.coalesce(func.max(EmailVersion.number), 0)).where(
            EmailVersion.merchant_id == merchant.id, EmailVersion.step == step
        )
    )
    version = EmailVersion(
        merchant_id=merchant.id,
        step=step,
        number=number + 1,
        **{f.name: getattr(design.content, f.name) for f in fields(texts.Content)},
        logo_url=design.logo_url or None,
        brand_color=design.brand_color.lower(),
        created_by_id=user.id if user else None,
        is_reset=reset,
    )
    db.session.add(version)
    db.session.flush()
    return version


def same_as_current(merchant_id: int, step: int, design: Design) -> EmailVersion | None:
    """The version in use for `step` when it already holds exactly `design` (as `save` would
    store it): saving again would only add a copy to the history."""
    version = current(merchant_id, step)
    if version is None:
        return None
    stored = Design(design.content, design.logo_url or None, design.brand_color.lower())
    held = Design(
        texts.Content(**{f.name: getattr(version, f.name) for f in fields(texts.Content)}),
        version.logo_url,
        version.brand_color,
    )
    return version if held == stored else None


def reset(merchant: Merchant, user: User | None, settings: SendingSettings, step: int):
    """Back to the built-in texts and the Stripe branding's look, as a new version (so the
    history keeps what was there before)."""
    return save(merchant, user, step, default_design(settings, step), reset=True)


CONFLICT = (
    "Nothing was saved: version {number} was saved while you were editing. Your text is "
    "below; to compare, open version {number} from the Versions list in a new tab. Save again "
    "to replace it with yours."
)
UNKNOWN_BASE = (
    "Nothing was saved: this page did not say which version it was editing, and version "
    "{number} is in use. Your text is below; to compare, open version {number} from the "
    "Versions list in a new tab. Save again to replace it with yours."
)


def conflict_message(base: str | None, later: EmailVersion) -> str:
    """Why a save was refused (see saved_after): a later version than the page's, or a page
    that named no earlier version (its hidden `base` missing, malformed or not one held)."""
    earlier = base is not None and base.isascii() and base.isdigit() and int(base) < later.number
    return (CONFLICT if earlier else UNKNOWN_BASE).format(number=later.number)


def saved_after(merchant_id: int, step: int, base: str | None) -> EmailVersion | None:
    """The version in use for `step` unless it is version `base`, the one the editor page
    showed ("0": none): saved meanwhile by another tab or person. A `base` that is missing,
    malformed or names no version in use counts as an older page, so nothing stored is ever
    replaced unseen; None when nothing is stored yet or `base` is still current."""
    version = current(merchant_id, step)
    if version is None:
        return None
    return None if base == str(version.number) else version


def delay_minutes(settings: SendingSettings, step: int) -> int | None:
    """How long after expiry the step's email goes out, as the sending settings say."""
    steps = settings.steps or []
    return steps[step].get("delay_minutes") if step < len(steps) else None


def step_count(settings: SendingSettings) -> int:
    """How many emails the merchant's sequence sends (the first and each follow-up that is on)."""
    return max(len(settings.steps or []), 1)
