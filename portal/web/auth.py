"""Sign up, log in, log out."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from portal import db
from portal.services import accounts

bp = Blueprint("auth", __name__)

def _strip(value):
    return value.strip() if isinstance(value, str) else value


PASSWORD_RULE = Length(min=10, max=256, message="Use 10 to 256 characters.")


class SignupForm(FlaskForm):
    business_name = StringField("Business name", validators=[DataRequired(), Length(max=200)])
    name = StringField("Your name", validators=[Length(max=200)])
    email = EmailField("Work email", filters=[_strip], validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), PASSWORD_RULE])
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")]
    )


class LoginForm(FlaskForm):
    email = EmailField("Email", filters=[_strip], validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    remember = BooleanField("Keep me signed in on this device")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_merchant(
                form.business_name.data, form.email.data, form.password.data, form.name.data
            )
        except accounts.AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            _start_session(user, remember=False)
            flash(f"Welcome! Your account for {user.merchant.name} is ready.", "success")
            return redirect(url_for("home.index"))
    return render_template("auth/signup.html", form=form), 400 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    ip = request.remote_addr or "unknown"
    refusal = accounts.login_refusal(form.email.data, ip)
    if refusal:
        return render_template("auth/login.html", form=form, refusal=refusal), 429
    user = accounts.authenticate(form.email.data, form.password.data)
    if user is None:
        accounts.record_login_failure(form.email.data, ip)
        db.session.commit()
        return render_template("auth/login.html", form=form, refusal="Wrong email or password."), 401
    accounts.record_login_success(user, ip)
    _start_session(user, remember=form.remember.data)
    return redirect(_safe_next(request.args.get("next")) or url_for("home.index"))


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def _start_session(user, remember: bool) -> None:
    """Commit, then give the browser a brand-new session (no fixation from before login)."""
    db.session.commit()
    session.clear()
    login_user(user, remember=remember)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: `next` must not become an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
