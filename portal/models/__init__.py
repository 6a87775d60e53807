"""Typed SQLAlchemy models, grouped by aggregate. Importing this package registers them all."""
from portal.models.account import Merchant, Role, User
from portal.models.checkout import CheckoutSession
from portal.models.consent import ConsentChange, Contact
from portal.models.events import EventStatus, StripeEvent
from portal.models.recovery import RecoveryCase
from portal.models.sending import EmailSend, OutboxMessage, SendingSettings, SendStatus
from portal.models.stripe_account import StripeAccount
from portal.models.terms import TermsAcceptance
from portal.models.throttle import ThrottleHit

__all__ = ["CheckoutSession", "ConsentChange", "Contact", "EmailSend", "EventStatus", "Merchant",
           "OutboxMessage", "RecoveryCase", "Role", "SendStatus", "SendingSettings", "StripeAccount",
           "StripeEvent", "TermsAcceptance", "ThrottleHit", "User"]
