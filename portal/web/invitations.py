"""Accepting an invitation: the page an invitation email links to (sending one: team.py)."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from portal import db
from portal.models import InvitationStatus
from portal.services import accounts, invitations
from portal.web.forms import NAME_LENGTH, PASSWORD_AGAIN, one_line, strip
from portal.web.signin import password_rule, signed_in

bp = Blueprint("invitations", __name__)


class AcceptForm(FlaskForm):
    name = StringField("Your name", filters=[strip], validators=[NAME_LENGTH, one_line])
    password = PasswordField(
        "Choose a password", validators=[DataRequired("Choose a password."), password_rule]
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[PASSWORD_AGAIN, EqualTo("password", "The passwords differ.")],
    )


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str):
    invitation = invitations.from_token(token)
    status = invitations.status(invitation) if invitation else None
    if status != InvitationStatus.PENDING:
        return _unusable(status)
    if accounts.email_taken(invitation.email):  # signed up on their own since the invitation
        return _refused(invitations.TAKEN)
    form = AcceptForm(data={"name": invitation.name})
    if not form.validate_on_submit():
        page = render_template("invitations/accept.html", form=form, invitation=invitation)
        return page, 400 if form.errors else 200
    try:
        member = invitations.accept(invitation, form.name.data, form.password.data)
    except invitations.NoLongerPending:  # another acceptance (or a revocation) came first
        db.session.rollback()
        db.session.refresh(invitation)
        return _unusable(invitations.status(invitation))
    except accounts.AccountError as exc:
        return _refused(str(exc))
    response = signed_in(member, remember=False, target=url_for("home.index"))
    flash(f"Welcome to {invitation.merchant.name}! You are signed in.", "success")
    return response


def _unusable(status: InvitationStatus | None):
    """The page of a link that works no more (410), or never named an invitation (404)."""
    page = render_template("invitations/unusable.html", status=status)
    return page, 404 if status is None else 410


def _refused(reason: str):
    return render_template("invitations/unusable.html", status=None, reason=reason), 409
