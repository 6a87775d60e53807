"""Password reset by email: ask for a link, then choose a new password through it."""

from __future__ import annotations

from contextlib import suppress

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from redis.exceptions import RedisError
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo

from portal import jobs
from portal.extensions import rq
from portal.services import account_emails, accounts, login_limits, password_reset
from portal.services.password_reset import Admission, LinkProblem
from portal.web.forms import EMAIL_RULES, PASSWORD_AGAIN, strip
from portal.web.signin import password_rule, signed_in, source

bp = Blueprint("password", __name__, url_prefix="/password")


class ForgotForm(FlaskForm):
    email = EmailField("Email", filters=[strip], validators=list(EMAIL_RULES))


class ResetForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired("Choose a new password."), password_rule]
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[PASSWORD_AGAIN, EqualTo("password", "The passwords differ.")],
    )


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    form = ForgotForm()
    if request.method == "GET" and not form.email.data:  # the address the login page was given
        form.email.data = request.args.get("email", "")[:254]
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form), 400 if form.errors else 200
    admission = password_reset.admit(form.email.data, source())
    if admission == Admission.REFUSED:
        refusal = "Too many requests from your network. Try again in an hour."
        return render_template("auth/forgot.html", form=form, refusal=refusal), 429
    if admission == Admission.SEND:
        _send_link(form.email.data)
    # The same answer whether or not the address has an account, and whether or not it was sent.
    return redirect(url_for("password.forgot_sent"), code=303)


def _send_link(address: str) -> None:
    """Have a worker email the link (if the address has an account): this answer then takes
    the same time either way, and a mail server's "try later" is tried again (the link lasts
    an hour: 1, 5 and 15 minutes later). Without Redis, sent from here once, rather than not
    at all."""
    try:
        rq.queue("mail").enqueue(
            jobs.send_password_reset, address, result_ttl=0, retry=jobs.RESET_RETRY
        )
    except RedisError:
        with suppress(account_emails.Deferred):
            jobs.send_password_reset(address)


@bp.get("/forgot/sent")
def forgot_sent():
    return render_template("auth/forgot_sent.html")


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    form = ResetForm()
    user, problem = password_reset.read_token(token, lock=form.is_submitted())
    if user is None:
        status = 404 if problem == LinkProblem.INVALID else 410
        return render_template("auth/reset_link.html", problem=problem), status
    if not form.validate_on_submit():
        page = render_template("auth/reset.html", form=form, user=user)
        return page, 400 if form.errors else 200
    accounts.set_password(user, form.password.data)  # ends every session, and kills the link
    login_limits.forget_failures(user.email)  # a lockout of the address ends with it
    response = signed_in(user, remember=False, target=url_for("home.index"))
    flash("Your password is changed, and every other session of yours has ended.", "success")
    return response
