"""Typed SQLAlchemy models, grouped by aggregate. Importing this package registers them all."""
from portal.models.account import Merchant, Role, User
from portal.models.stripe_account import StripeAccount
from portal.models.terms import TermsAcceptance
from portal.models.throttle import ThrottleHit

__all__ = ["Merchant", "Role", "StripeAccount", "TermsAcceptance", "ThrottleHit", "User"]
