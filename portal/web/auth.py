"""Sign up, log in, log out (password reset: password.py; invitations: invitations.py)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from portal import db
from portal.services import accounts, login_limits, settings, zone_table
from portal.web.forms import CONTROL, EMAIL_RULES, NAME_LENGTH, NEW_EMAIL_RULES, PASSWORD_AGAIN
from portal.web.forms import one_line, sender_worthy, strip
from portal.web.signin import password_rule, signed_in, source

bp = Blueprint("auth", __name__)


class SignupForm(FlaskForm):
    business_name = StringField(
        "Business name",
        filters=[strip],
        validators=[
            DataRequired("Enter your business name."),
            NAME_LENGTH,
            one_line,
            sender_worthy,
        ],
    )
    name = StringField("Your name", filters=[strip], validators=[NAME_LENGTH, one_line])
    email = EmailField("Work email", filters=[strip], validators=list(NEW_EMAIL_RULES))
    password = PasswordField(
        "Password", validators=[DataRequired("Choose a password."), password_rule]
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[PASSWORD_AGAIN, EqualTo("password", "The passwords differ.")],
    )
    timezone = HiddenField()  # the browser's, filled in by static/timezone.js


class LoginForm(FlaskForm):
    email = EmailField("Email", filters=[strip], validators=list(EMAIL_RULES))
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Enter your password."),
            Length(max=256, message="Passwords here have at most 256 characters."),
        ],
    )
    remember = BooleanField("Keep me signed in on this device")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = SignupForm()
    if not form.validate_on_submit():
        return render_template("auth/signup.html", form=form), 400 if form.errors else 200
    refusal = login_limits.admit_signup(source())
    if refusal:
        return render_template("auth/signup.html", form=form, refusal=refusal), 429
    try:
        user = accounts.create_merchant(
            form.business_name.data, form.email.data, form.password.data, form.name.data or ""
        )
    except accounts.AccountError as exc:
        form.email.errors.append(str(exc))
        return render_template("auth/signup.html", form=form), 400
    if form.timezone.data in zone_table.time_zones():  # anything else: UTC, as without it
        settings.settings_for(user.merchant_id).timezone = form.timezone.data
    response = signed_in(user, remember=False, target=url_for("home.index"))
    flash(f"Welcome! Your account for {user.merchant.name} is ready.", "success")
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    user, refusal = login_limits.check_password(
        form.email.data,
        form.password.data,
        source(),
        request.cookies.get(login_limits.DEVICE_COOKIE),
    )
    if refusal:
        return render_template("auth/login.html", form=form, refusal=refusal), 429
    if user is None:
        refusal = "Wrong email or password."
        return render_template("auth/login.html", form=form, refusal=refusal), 401
    target = _safe_next(request.args.get("next")) or url_for("home.index")
    return signed_in(user, remember=form.remember.data, target=target)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:  # every copy of this session's cookies stops working too
        accounts.end_sessions(current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, as a browser would read it; None otherwise.

    Browsers drop tabs and line breaks inside a URL and read a backslash as a slash, so "/",
    a tab, then "/evil.example" leads to another site: anything of the kind is refused outright."""
    if not target or CONTROL.search(target) or " " in target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    # Our paths have no dot-segments; a browser removes them, and "/.//x" becomes "//x".
    if {".", ".."} & set(unquote(parts.path).split("/")):
        return None
    return target
