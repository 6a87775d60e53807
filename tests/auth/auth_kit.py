"""Shared pieces for the sign-up, log-in and session tests."""

from __future__ import annotations

SIGNUP = {
    "business_name": "Acme Tea",
    "name": "Ada",
    "email": "Ada@Example.com",
    "password": "a long enough pass",
    "confirm": "a long enough pass",
}
