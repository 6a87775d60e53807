"""Sending settings: when and how recovery emails go out, and the switch that turns them on.
The owner changes them; members see them read-only."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from redis.exceptions import RedisError

from portal import db, jobs
from portal.extensions import rq
from portal.mail.values import locale_choices
from portal.services import (
    connections,
    settings,
    settings_values,
    stripe_gateway,
    switch,
)
from portal.tenancy import current_merchant, owner_required
from portal.web.settings_form import TEST_MODE_WORDS, SettingsForm, form_data

bp = Blueprint("settings", __name__)
log = logging.getLogger(__name__)

CHANGED_SINCE = (
    "Nothing was saved: these settings were changed since this page was opened (in another "
    "tab, or another session). Your changes are below: save again to put yours in place of "
    "that change, or reload the page to see it."
)
UNSTAMPED = (
    "Nothing was saved: this form did not say which settings it was made from, so it could "
    "have replaced a change made since. Your changes are below: save again to put them in place."
)
# Where each missing prerequisite is fixed: /connect and /terms are pages of their own.
FIXES = {
    "stripe": ("/connect", "Connect Stripe"),
    "terms": ("/terms", "Read and accept the terms"),
    "postal_address": ("/settings#postal_address", "Add it below"),
}


def _coupons() -> list[dict] | None:
    """The merchant's Stripe coupons ([] when it is not connected); None when Stripe cannot
    say just now (a coupon chosen before is then kept)."""
    account = connections.connected_account(current_merchant())
    if account is None:
        return []
    db.session.commit()  # no transaction is held across a call to Stripe
    try:
        return stripe_gateway.list_coupons(account)
    except (stripe_gateway.StripeError, stripe_gateway.GatewayError):
        g.coupons_unreachable = True  # the page says so, rather than that there are none
        return None


def _stored_form(coupons: list[dict] | None) -> SettingsForm:
    """The form filled from the stored settings, whatever the request posted."""
    merchant = current_merchant()
    stored = settings.values_of(settings.settings_for(merchant.id))
    data = {**form_data(stored), "business_name": merchant.name, "stamp": settings.stamp(merchant)}
    return SettingsForm(formdata=None, data=data, coupons=_with_current(coupons))


def _with_current(coupons: list[dict] | None) -> list[dict]:
    """The coupons to offer: the chosen one stays offered when Stripe could not be asked."""
    chosen = settings.settings_for(current_merchant().id).coupon_id
    listed = coupons or []
    if chosen and chosen not in {c["id"] for c in listed}:
        unknown = dict.fromkeys(("name", "percent_off", "amount_off", "currency"))
        listed = [*listed, {**unknown, "id": chosen}]
    return listed


def _page(form: SettingsForm | None, refused: bool = False, failed: bool = False) -> str:
    """The settings page; `refused`: turning on was refused; `failed`: saving was."""
    merchant = current_merchant()
    current = settings.settings_for(merchant.id)
    return render_template(
        "settings/edit.html",
        form=form,
        merchant=merchant,
        current=current,
        values=settings.values_of(current),
        missing=switch.missing_to_enable(merchant),
        refused=refused,
        failed=failed,
        fixes=FIXES,
        test_mode_words=TEST_MODE_WORDS,
        locale_name=dict(locale_choices()).get(current.locale, current.locale),
    )


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def edit():
    if request.method == "POST":  # members may read the settings, only the owner save them
        return _save()
    return _page(_stored_form(_coupons()) if current_user.is_owner else None)


@owner_required
def _save():
    coupons = _coupons()
    form = SettingsForm(coupons=_with_current(coupons))
    typed = form.validate_on_submit()
    values, rows = form.values()
    known = {c["id"] for c in coupons} if coupons is not None else None
    merchant = current_merchant()
    unchanged = typed and settings.holds(merchant, values, form.business_name.data)
    try:
        problems = (
            settings.save(merchant, values, form.business_name.data, form.stamp.data, known)
            if typed
            # Every problem at once: the service's too, even when a field of the form's is wrong.
            else settings_values.problems(values, merchant.recovery_enabled, known)
        )
    except settings.ChangedSince as refused:
        form.stamp.data = settings.stamp(merchant)  # saving again, knowingly, replaces it
        flash(CHANGED_SINCE if refused.stamped else UNSTAMPED, "error")
        return _page(form), 409
    if problems or not typed:
        form.show(problems, rows)
        return _page(form, failed=True), 400
    db.session.commit()
    if unchanged:
        flash("Nothing changed: these settings were already the ones in use.", "info")
    elif _reconsider_waiting_carts():
        flash("Settings saved.", "success")
    else:
        flash(
            "Settings saved. Carts already waiting for an email keep their times for now (the "
            "job queue did not answer): save again in a minute to move them.",
            "error",
        )
    return redirect(url_for("settings.edit"))


def _reconsider_waiting_carts() -> bool:
    """Carts waiting for an email follow the new timing (a worker decides them again); False
    when Redis refused, and they keep the times they had."""
    try:
        rq.queue("default").enqueue(jobs.reconsider_cases, current_merchant().id, result_ttl=60)
    except RedisError as exc:
        log.warning("waiting carts keep their times: could not queue (%s)", exc)
        return False
    return True


@bp.route("/settings/enable", methods=["POST"])
@owner_required
def enable():
    if switch.enable(current_merchant()):  # something is missing: say what, stay off
        return _page(_stored_form(_coupons()), refused=True), 409
    db.session.commit()
    flash("Recovery emails are on.", "success")
    return redirect(url_for("settings.edit"))


@bp.route("/settings/disable", methods=["POST"])
@owner_required
def disable():
    switch.disable(current_merchant())
    db.session.commit()
    flash("Recovery emails are off.", "info")
    return redirect(url_for("settings.edit"))
