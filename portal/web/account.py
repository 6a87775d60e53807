"""Your own account: your name, and your password changed while logged in."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from portal import db
from portal.services import accounts, login_limits
from portal.web.forms import one_line, strip
from portal.web.signin import password_rule, signed_in, source

bp = Blueprint("account", __name__, url_prefix="/account")
NAMELESS = "Your name is removed: your teammates now see your email address instead."


class NameForm(FlaskForm):
    name = StringField(
        "Your name",
        filters=[strip],
        validators=[Length(max=200, message="Use at most 200 characters."), one_line],
    )


class PasswordForm(FlaskForm):
    current = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    password = PasswordField(
        "New password", validators=[DataRequired("Choose a new password."), password_rule]
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("password", "The passwords differ."),
        ],
    )


def _page(name_form: NameForm | None = None, password_form: PasswordForm | None = None, **extra):
    """The account page with both forms (each filled in afresh unless given)."""
    return render_template(
        "account/index.html",
        name_form=name_form or NameForm(formdata=None, data={"name": current_user.name}),
        password_form=password_form or PasswordForm(formdata=None),
        **extra,
    )


@bp.get("")
@login_required
def index():
    return _page()


@bp.post("/name")
@login_required
def rename():
    form = NameForm()
    if not form.validate_on_submit():
        return _page(name_form=form), 400
    name = form.name.data or ""
    accounts.rename_user(current_user, name)
    db.session.commit()
    # An empty name is allowed (it was optional at sign-up), but must not pass unnoticed.
    said = "Your name is saved." if name else NAMELESS
    flash(said, "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/password")
@login_required
def change_password():
    """Checked like a login (and counted against the same limits): a session left open on a
    shared computer must not be enough to take the account over."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return _page(password_form=form), 400
    user, refusal = login_limits.check_password(
        current_user.email,
        form.current.data,
        source(),
        request.cookies.get(login_limits.DEVICE_COOKIE),
    )
    if refusal:
        return _page(password_form=form, refusal=refusal), 429
    if user is None:
        form.current.errors = ["This is not your current password."]
        return _page(password_form=form), 400
    accounts.set_password(user, form.password.data)  # ends every other session
    response = signed_in(user, remember=False, target=url_for("account.index"))
    # After signed_in: it starts a new session, which would drop a message flashed before.
    flash("Your password is changed, and every other session of yours has ended.", "success")
    return response
