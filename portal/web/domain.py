"""The sending domain page: the merchant's own domain for the From address, the DNS
records to publish with what the last check found, "Verify now", and removal. Everyone on the
team reads it; only the owner changes it. No URL holds an id: the page only ever shows the
signed-in merchant's one domain."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from wtforms import StringField

from portal import db
from portal.db import utcnow
from portal.models import DomainStatus, SendingDomain
from portal.services import domains, settings
from portal.services.domains import CheckState, DomainError
from portal.services.recovery_email import platform_sender
from portal.tenancy import current_merchant, owner_required
from portal.web.forms import strip

bp = Blueprint("domain", __name__)
KIND_NAMES = {"dkim": "DKIM", "spf": "SPF", "dmarc": "DMARC"}
CHECK_WORDS = {
    CheckState.OK: "Found and right",
    CheckState.MISSING: "Not found",
    CheckState.WRONG: "Found, but not right",
    CheckState.WARNING: "Found, with a caveat",
    CheckState.UNREACHABLE: "DNS did not answer",
    CheckState.NOT_NEEDED: "Nothing to add",
}
NEEDS_A_LOOK = (CheckState.MISSING, CheckState.WRONG, CheckState.WARNING)


class DomainForm(FlaskForm):
    domain = StringField("Domain", filters=[strip])
    local_part = StringField("From address", default="hello", filters=[strip])


@bp.route("/domain")
@login_required
def index():
    if not current_user.is_owner:
        return _page(None)
    row = domains.current(current_merchant())  # the form offers to change the current one
    data = {"domain": domains.display(row.domain), "local_part": row.local_part} if row else {}
    return _page(DomainForm(formdata=None, data=data))


@bp.route("/domain", methods=["POST"])
@owner_required
def create():
    """A new domain (with a new key) in place of the merchant's current one; 400 with the
    problem beside its field, and nothing changed, for a domain or local part that cannot be
    used."""
    form = DomainForm()
    if not form.validate_on_submit():
        return _page(form), 400
    try:  # the domain alone first: its problem goes beside the domain field
        domains.normalize(form.domain.data)
    except DomainError as error:
        return _refuse(form, form.domain, error)
    held = domains.current(current_merchant())
    kept_key, kept_from = (held.selector, held.from_address) if held else (None, None)
    try:
        row = domains.create(current_merchant(), form.domain.data, form.local_part.data)
    except domains.KeyLimit as error:
        return _refuse(form, form.domain, error, 429)
    except DomainError as error:  # the domain passed above: only the local part is left
        return _refuse(form, form.local_part, error)
    try:
        db.session.commit()
    except IntegrityError:  # another save of this merchant's domain won the race
        db.session.rollback()
        flash("The domain was changed at the same time elsewhere: here it is now.", "error")
        return redirect(url_for("domain.index"))
    shown = f"{row.local_part}@{domains.display(row.domain)}"
    if row.selector == kept_key and kept_from == row.from_address:
        flash(f"Nothing changed: emails already go from {shown}.", "info")
    elif row.selector == kept_key:  # the same domain: only the From address changed
        flash(f"Emails now go from {shown}: the domain's records stay as they are.", "success")
    else:
        flash(f"{_added(form.domain.data, row.domain)}: publish the records below.", "success")
    return redirect(url_for("domain.index"))


def _added(typed: str, domain: str) -> str:
    """ "shop.example added", naming what was typed when the domain was read out of it (a web
    address pasted whole, "www." dropped): the merchant sees which domain the records are for."""
    shown = domains.display(domain)
    # What a person sees of it: invisible characters (a zero-width space) show nothing, and a
    # password in a pasted address (https://user:secret@...) is not repeated.
    said = "".join(ch for ch in typed.strip()[:100] if ch.isprintable()).strip()
    said = _without_password(said)
    if said.rstrip(".").lower() in (shown.lower(), domain):
        return f"{shown} added"
    return f"{shown} added (the domain of “{said}”)"


def _without_password(typed: str) -> str:
    """A pasted web address without its user name and password (https://user:secret@host,
    or user:secret@host without its scheme)."""
    return re.sub(r"^[^/?#@:\s]*:[^/?#@\s]*@", "", re.sub(r"//[^/?#]*@", "//", typed))


def _refuse(form: DomainForm, field, error: DomainError, status: int = 400):
    """The form again, `error` beside `field`; the domain as typed, but never a password."""
    db.session.rollback()
    form.domain.data = _without_password(form.domain.data or "")
    field.errors = [*field.errors, str(error)]
    return _page(form), status


@bp.route("/domain/verify", methods=["POST"])
@owner_required
def verify():
    """Ask DNS now; the flash says what changed, in words."""
    row = domains.current(current_merchant())
    if row is None:
        flash("There is no domain to verify: add one first.", "error")
        return redirect(url_for("domain.index"))
    db.session.commit()  # no transaction is held while DNS answers (up to 5 s)
    result = domains.verify(row, utcnow(), domains.resolver_from(current_app.config))
    db.session.commit()
    flash(*_verdict(row, result))
    return redirect(url_for("domain.index"))


@bp.route("/domain/remove", methods=["POST"])
@owner_required
def remove():
    """Forget the merchant's domain and its key: emails go from the platform's address again."""
    row = domains.current(current_merchant())
    if row is not None:
        shown = domains.display(row.domain)
        domains.remove(current_merchant())
        db.session.commit()
        flash(f"{shown} removed: emails go from {_platform()} again.", "info")
    return redirect(url_for("domain.index"))


def _verdict(row: SendingDomain, result: domains.Verification) -> tuple[str, str]:
    """(words, flash category) for the result of "Verify now"."""
    dkim = next(c for c in result.checks if c.kind == "dkim")
    record = f"the DKIM record at {row.selector}._domainkey.{row.domain}"
    found = "was not found" if dkim.state == CheckState.MISSING else "holds another key"
    if dkim.state == CheckState.UNREACHABLE:
        return (
            "DNS did not answer in time: nothing changed. Please try again in a minute.",
            "error",
        )
    if result.broke:
        replies = settings.settings_for(row.merchant_id).reply_to or row.from_address
        replies = domains.display_address(replies)
        fallback = (
            f"emails go from {_platform()} with replies going to {replies} until it is fixed"
        )
        return f"Not working any more: {record} {found}, so {fallback}.", "error"
    if result.status == DomainStatus.VERIFIED:
        words = f"Verified: emails go from {_from_shown(row)}, signed with DKIM."
        others = [KIND_NAMES[c.kind] for c in result.checks if c.state in NEEDS_A_LOOK]
        if others:
            words += f" The {' and '.join(others)} record needs a look: see below."
        return words, "success"
    waiting = "Still waiting" if result.status == DomainStatus.PENDING else "Still not working"
    return f"{waiting}: {record} {found}. See below.", "info"


def _page(form: DomainForm | None):
    merchant = current_merchant()
    row = domains.current(merchant)
    return render_template(
        "domain/index.html",
        form=form,
        row=row,
        platform=_platform(),
        reply_to=settings.settings_for(merchant.id).reply_to,
        kind_names=KIND_NAMES,
        check_words=CHECK_WORDS,
        statuses=DomainStatus,
        states=CheckState,
        **(_records_context(row) if row is not None else {}),
    )


def _records_context(row: SendingDomain) -> dict:
    """The domain as people read it, its records, and what the last check found of each."""
    shown = domains.display(row.domain)
    records = domains.records(row, current_app.config.get("SPF_INCLUDE", ""))
    return {
        "shown": shown,
        "from_shown": _from_shown(row),
        "records": records,
        "checks": domains.last_checks(row),
        # Each name in the domain's own letters (an IDN's U-labels), beside the A-labels.
        "hosts_shown": {r.kind: r.host.removesuffix(row.domain) + shown for r in records},
    }


def _from_shown(row: SendingDomain) -> str:
    return f"{row.local_part}@{domains.display(row.domain)}"


def _platform() -> str:
    return platform_sender()[1]
