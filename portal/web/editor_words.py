"""The email editor's words: what each placeholder becomes, test email statuses, the notice
for an empty promotion code, and the field lengths the browser enforces."""

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
