"""Pieces the portal's forms share: filters and validators for what people type."""

from __future__ import annotations

from wtforms.validators import DataRequired, Email, Length, ValidationError

from portal.mail.mime import CONTROL


def ascii_address(form, field) -> None:
    """Refuse an address outside ASCII: the portal's mail cannot reach one (no SMTPUTF8), so a
    person signed up with it could never get a reset link or an invitation."""
    if isinstance(field.data, str) and not field.data.isascii():
        raise ValidationError("Use an address in plain ASCII letters: we cannot email this one.")


# An address typed into a form: required, complete, of a length mail allows; in words.
EMAIL_RULES = (
    DataRequired("Enter an email address."),
    Email("Enter a complete email address, like name@example.com."),
    Length(max=254, message="Use at most 254 characters."),
)
# An address a new account or invitation is made for: also one the portal's mail can reach.
NEW_EMAIL_RULES = (*EMAIL_RULES, ascii_address)
NAME_LENGTH = Length(max=200, message="Use at most 200 characters.")
PASSWORD_AGAIN = DataRequired("Type the password again.")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def one_line(form, field) -> None:
    """Refuse text that holds a control character or a line break, naming it."""
    if isinstance(field.data, str) and (found := CONTROL.search(field.data)):
        what = "a line break" if found.group() in "\r\n\x85\u2028\u2029" else "a control character"
        raise ValidationError(f"Use one line of plain text: this contains {what}.")


def hour(value: str | None) -> int | None:
    """An hour chosen from a list ("7"), or None for none or what is not a number (the list's
    own check then says so beside it)."""
    return int(value) if isinstance(value, str) and value.isdecimal() else None
