"""Typed SQLAlchemy models, grouped by aggregate. Importing this package registers them all."""
from portal.models.account import Merchant, Role, User
from portal.models.throttle import ThrottleHit

__all__ = ["Merchant", "Role", "ThrottleHit", "User"]
