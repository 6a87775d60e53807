"""The merchant's team: who can sign in for it; the owner invites and removes members."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField

from portal import db
from portal.models import Invitation, User
from portal.services import account_emails, accounts, invitations
from portal.tenancy import current_merchant, get_owned_or_404, owned, owner_required
from portal.web.forms import NAME_LENGTH, NEW_EMAIL_RULES, one_line, strip

LINK_KEY = "invitation_link"  # (address, link) of an invitation no mail server could send

bp = Blueprint("team", __name__, url_prefix="/team")


class InviteForm(FlaskForm):
    email = EmailField("Email address", filters=[strip], validators=list(NEW_EMAIL_RULES))
    name = StringField("Name (optional)", filters=[strip], validators=[NAME_LENGTH, one_line])


@bp.route("/")
@login_required
def index():
    return _page(InviteForm())


@bp.post("/invitations")
@owner_required
def invite():
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(form), 400
    try:
        invitation, token = invitations.invite(
            current_merchant(), current_user, form.email.data, form.name.data
        )
    except invitations.JustSent as exc:  # a double click: the first one's page, in effect
        flash(str(exc), "info")
        return redirect(url_for("team.index"), code=303)
    except invitations.Refused as exc:
        return _page(form, str(exc)), 429
    except accounts.AccountError as exc:
        form.email.errors.append(str(exc))
        return _page(form), 400
    sent = account_emails.send_invitation(invitation, token)
    if not current_app.config["SMTP_URL"]:
        # Nothing can email it: the one who invites is shown the link, once, on the next view
        # of the team page with a Copy button, to pass on.
        session[LINK_KEY] = (invitation.email, account_emails.invitation_link(token))
        flash("Invitation created.", "success")
    elif sent:
        flash("Invitation sent. It is listed below until it is accepted.", "success")
    else:
        flash("The invitation email could not be sent. Try again in a few minutes.", "error")
    return redirect(url_for("team.index"), code=303)


@bp.post("/invitations/<id:invitation_id>/revoke")
@owner_required
def revoke(invitation_id: int):
    invitation = get_owned_or_404(Invitation, invitation_id)
    invitations.revoke(current_merchant(), invitation)
    db.session.commit()
    flash("Invitation revoked: its link no longer works.", "info")
    return redirect(url_for("team.index"), code=303)


@bp.route("/<id:user_id>")
@login_required
def member(user_id: int):
    return render_template("team/member.html", member=get_owned_or_404(User, user_id))


@bp.post("/<id:user_id>/remove")
@owner_required
def remove(user_id: int):
    member = get_owned_or_404(User, user_id)
    try:
        accounts.remove_member(current_merchant(), member, by=current_user)
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("team.member", user_id=user_id), code=303)
    db.session.commit()
    who = member.name or "The member"  # not the address: a long one would not wrap in the notice
    flash(f"{who} is no longer on the team and has been signed out.", "info")
    return redirect(url_for("team.index"), code=303)


def _page(form: InviteForm, refusal: str | None = None):
    """The team page: members, pending invitations, and (for the owner) the invitation form."""
    members = db.session.scalars(owned(User).order_by(User.id)).all()
    pending = invitations.pending(current_merchant())
    return render_template(
        "team/index.html",
        members=members,
        pending=pending,
        form=form,
        refusal=refusal,
        new_link=session.pop(LINK_KEY, None),
        lifetime_days=invitations.LIFETIME.days,
    )
