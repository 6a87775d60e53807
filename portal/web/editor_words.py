"""The email editor's words: what each placeholder becomes, test email statuses, the notice
for an empty promotion code, the field lengths the browser enforces, and what each version
changed."""

from __future__ import annotations

from portal.mail import content as texts
from portal.models import TestSendStatus
from portal.services import email_design

# What each placeholder becomes, as the menu beside each text field says.
PLACEHOLDER_WORDS = {
    "merchant_name": "your shop's name",
    "customer_name": "the shopper's name as given at checkout, in full (the preview shows how it reads without one)",
    "cart_total": "the cart's total, e.g. $123.00",
    "recovery_link_expires": "the date the link back to the cart stops working",
    "promotion_code": "the shopper's promotion code (emails with one only)",
}
EMPTY_CODE = (
    "Email {step} gets no promotion code, so {{promotion_code}} stays empty in it: turn codes on "
    "for this email in Sending settings, or take the placeholder out."
)
STATUS_WORDS = {
    TestSendStatus.QUEUED: "Queued",
    TestSendStatus.SENDING: "Sending",
    TestSendStatus.SENT: "Sent",
    TestSendStatus.FAILED: "Failed",
}
# The field lengths the browser enforces too (the server checks them again).
LIMITS = {
    **{name: limit for name, (_label, limit, _required) in texts.FIELDS.items()},
    "logo_url": email_design.LOGO_URL_MAX,
    "brand_color": 7,
}

# What a version may change, in the words of the Versions list, in the form's order.
VERSION_FIELDS = {
    **{name: label for name, (label, _limit, _required) in texts.FIELDS.items()},
    "logo_url": "logo",
    "brand_color": "colour",
}


def what_changed(versions: list) -> dict[int, str]:
    """For each version (newest first, as listed) what it changed from the one before it:
    "Subject and headline", "First version"; empty when the one before is not in the list."""
    said = {}
    for version, before in zip(versions, [*versions[1:], None]):
        if before is None:
            said[version.id] = "First version" if version.number == 1 else ""
            continue
        fields = [
            label
            for name, label in VERSION_FIELDS.items()
            if getattr(version, name) != getattr(before, name)
        ]
        if not fields:
            said[version.id] = "Nothing: the same email again"
            continue
        listed = fields[0] if len(fields) == 1 else f"{', '.join(fields[:-1])} and {fields[-1]}"
        said[version.id] = listed[0].upper() + listed[1:]
    return said
