"""The Connect page's words: what a key must be allowed, events, ways of connecting, and
Stripe's OAuth error codes, for the merchant."""

from __future__ import annotations

from portal.models import ConnectMethod

# What a direct-mode restricted key must be allowed to do.
PERMISSIONS = (
    ("Checkout Sessions", "Read"),
    ("Products and Prices", "Read"),
    ("Coupons and Promotion codes", "Write, only if your emails carry promotion codes"),
    ("Account (your own details)", "Read"),
    ("Events", "Read, so a delivery refused for its signature can be checked with Stripe"),
)
# The last event received, in words (any other type is one the portal receives and ignores).
EVENT_WORDS = {
    "checkout.session.expired": "a checkout expired",
    "checkout.session.completed": "a checkout was completed",
    "checkout.session.async_payment_succeeded": "a delayed payment succeeded",
    "checkout.session.async_payment_failed": "a delayed payment failed",
    "account.application.deauthorized": "the portal's access to a Stripe account was revoked",
}
# Stripe's OAuth error codes (access_denied aside), in words for the person who pressed Connect.
_AGAIN = (
    "Please try again; if it happens again, tell the portal's operator (its Connect settings)."
)
OAUTH_ERRORS = {
    "invalid_scope": f"it would not grant the access the portal asks for. {_AGAIN}",
    "invalid_redirect_uri": f"it does not know this portal's address. {_AGAIN}",
    "invalid_request": f"it found the request incomplete. {_AGAIN}",
    "unsupported_response_type": f"it found the request incomplete. {_AGAIN}",
    "server_error": "it had a problem on its side. Please try again in a few minutes.",
    "temporarily_unavailable": "it is busy. Please try again in a few minutes.",
}
METHOD_WORDS = {
    ConnectMethod.OAUTH: "Stripe Connect",
    ConnectMethod.DIRECT: "Your own restricted key (direct mode)",
}
