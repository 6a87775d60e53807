"""Tenant scoping: every merchant-owned lookup in a request goes through these helpers."""

from __future__ import annotations

from functools import wraps
from typing import TypeVar

from flask import abort, current_app
from flask_login import current_user
from sqlalchemy import Select, select

from portal import db
from portal.models import Merchant

T = TypeVar("T")


def current_merchant() -> Merchant:
    """The signed-in user's merchant; 401 when nobody is signed in (never a silent default)."""
    if not current_user.is_authenticated:
        abort(401)
    return current_user.merchant


def owned(model: type[T]) -> Select:
    """`select(model)` restricted to the current merchant's rows."""
    return select(model).where(model.merchant_id == current_merchant().id)


def get_owned_or_404(model: type[T], ident) -> T:
    """The row with this id if it belongs to the current merchant; 404 otherwise (never 403,
    which would confirm that another tenant's id exists)."""
    row = db.session.scalars(owned(model).where(model.id == ident)).first()
    if row is None:
        abort(404)
    return row


def owner_required(view):
    """A view only the merchant's owner may use (Stripe, terms, settings, team changes): 403
    for a member, with a page that says who can; the login page for nobody."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if not current_user.is_owner:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
