"""The emails about accounts: an invitation to join a team, and a password reset link.

Both go out from the platform's address through the one delivery path, with links on
PUBLIC_URL (never the Host a request came with: a forged Host must not reach an email). They
are kept out of every merchant's development outbox (merchant_id None): a teammate reading it
must not find another person's link. In development without SMTP, the log shows the link.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from portal import db
from portal.mail import delivery
from portal.mail.mime import Outgoing, compose
from portal.mail.smtp import DeliveryStatus
from portal.mail.values import format_date, one_line
from portal.models import Invitation, SendingDomain, User
from portal.services import domains, invitations, password_reset, settings
from portal.services.recovery_email import new_message_id, platform_sender

PRODUCT = "Cart Recovery"


def send_invitation(invitation: Invitation, token: str) -> bool:
    """Email a new invitation's link to its address; whether the server took the message (or
    may have: a lost reply counts as sent, since the link may have arrived). One it did not
    take is revoked: nobody saw its link, and the owner is told to invite again. Commits: the
    invitation must be saved before an email names it, and what came of it kept."""
    db.session.commit()
    sent = _send_invitation(invitation, token)
    if not sent:
        invitations.revoke(invitation.merchant, invitation)
    db.session.commit()  # with the outbox's copy, when no mail server is set up
    return sent


def _send_invitation(invitation: Invitation, token: str) -> bool:
    inviter = invitation.invited_by
    who = one_line(inviter.name or inviter.email) if inviter else "Your team"
    merchant = one_line(invitation.merchant.name)
    values = {
        "name": invitation.name,
        "inviter": who,
        "merchant": merchant,
        "link": invitation_link(token),
        "expires": format_date(invitation.expires_at),
        "days": invitations.LIFETIME.days,
    }
    subject = f"{who} invited you to join {merchant} on {PRODUCT}"
    return _send(invitation.email, subject, "invitation", values)


def invitation_link(token: str) -> str:
    """The address an invitation's email links to (on PUBLIC_URL)."""
    return _public(f"/invite/{token}")


class Deferred(RuntimeError):
    """The mail server asked to try the message again later (a 4xx answer)."""


def send_password_reset(user: User, token: str) -> bool:
    """Email a reset link to `user`; whether the server took the message. Deferred when the
    server answered to try again later."""
    values = {
        "merchant": one_line(user.merchant.name),
        "link": _public(f"/password/reset/{token}"),
        "lifetime": _duration(password_reset.LIFETIME),
    }
    return _send(user.email, f"Reset your {PRODUCT} password", "password_reset", values, True)


def send_domain_broken(domain: SendingDomain, owner: User, problem: str) -> bool:
    """Tell the owner that their sending domain stopped verifying and that emails now go from
    the platform's address; whether the server took the message."""
    name = domains.display(domain.domain)
    values = {
        "merchant": one_line(owner.merchant.name),
        "domain": name,
        "from_address": domain.from_address,
        "replies": settings.settings_for(domain.merchant_id).reply_to or domain.from_address,
        "problem": one_line(problem),
        "link": _public("/domain"),
    }
    subject = f"Your sending domain {name} stopped working"
    return _send(owner.email, subject, "domain_broken", values)


def _send(to: str, subject: str, template: str, values: dict, deferrable: bool = False) -> bool:
    name, address = platform_sender()
    env = current_app.jinja_env
    message = compose(
        Outgoing(
            sender_name=one_line(name) or PRODUCT,
            sender_address=address,
            to=to,
            subject=subject,
            text=env.get_template(f"mail/{template}.txt").render(values, subject=subject),
            html=env.get_template(f"mail/{template}.html").render(values, subject=subject),
            message_id=new_message_id(),
        )
    )
    result = delivery.send(message, None)
    config = current_app.config
    if not config["SMTP_URL"] and config["PORTAL_ENV"] == "development" and "link" in values:
        # No merchant's outbox shows it (see above): on a developer's own machine, the log does.
        current_app.logger.warning("Development: %s email to %s: %s", template, to, values["link"])
    if deferrable and result.status == DeliveryStatus.DEFERRED:
        raise Deferred(f"{template} email deferred: {result.detail}")
    if result.status not in (DeliveryStatus.SENT, DeliveryStatus.UNKNOWN):
        current_app.logger.warning("%s email not sent: %s", template, result.detail)
        return False
    return True


def _duration(span: timedelta) -> str:
    """How long a link works, as a person says it: "1 hour", "90 minutes"."""
    minutes = int(span.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if hours and not rest:
        return f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _public(path: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path
