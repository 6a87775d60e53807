"""Pieces the portal's forms share: filters and validators for what people type."""

from __future__ import annotations


from email_validator import EmailNotValidError, validate_email
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import DataRequired, Length, ValidationError

from portal.mail.mime import BIDI, CONTROL, HIDDEN
from portal.services import accounts
from portal.services.domain_names import unreachable
from portal.services.settings_values import ADDRESS_MARKS


def complete_address(form, field) -> None:
    """A whole address, in words when not. Any domain that may hold an account passes (one
    made in development signs in anywhere, x@shop.local too); new_address judges a new one."""
    if field.errors:  # too long: said once
        return
    try:
        validate_email(field.data or "", check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        data = field.data or ""
        if "@" not in data or not unreachable(data.rpartition("@")[2]):
            raise ValidationError(
                "Enter a complete email address, like name@example.com."
            ) from None


def new_address(form, field) -> None:
    """Refuse an address no account or invitation can be made for (accounts says why)."""
    if not field.errors and (problem := accounts.new_address_problem(field.data)):
        raise ValidationError(problem)


# An address typed into a form: required, complete, of a length mail allows; in words.
EMAIL_RULES = (
    DataRequired("Enter an email address."),
    Length(max=254, message="Use at most 254 characters."),
    complete_address,
)
# An address a new account is made for (sign-up, an invitation): also one the portal's mail
# can reach.
NEW_EMAIL_RULES = (*EMAIL_RULES, new_address)
NAME_LENGTH = Length(max=200, message="Use at most 200 characters.")
PASSWORD_AGAIN = DataRequired("Type the password again.")


def sender_worthy(form, field) -> None:
    """Refuse < > or @ in a business name that its emails show as who they are from (at sign-up,
    and in Settings while the sender name is empty): "Bank <help@bank.example>" reads as From."""
    sender = getattr(form, "sender_name", None)
    if (sender is None or not sender.data) and ADDRESS_MARKS.search(field.data or ""):
        if sender is None:
            raise ValidationError(
                "Use a name without < > or @: your emails show it as who they are from."
            )
        raise ValidationError(
            "While Sender name is empty, your emails show this as who they are from: "
            "use a name without < > or @, or fill in a Sender name."
        )


def strip(value):
    return value.strip() if isinstance(value, str) else value


def unix_lines(value):
    # Browsers post CRLF from a textarea; the stored texts and their lengths use LF.
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def one_line(form, field) -> None:
    """Refuse text that holds a control character, a line break, a direction mark or a character
    that shows nothing, naming it."""
    if not isinstance(field.data, str):
        return
    if found := CONTROL.search(field.data):
        what = "a line break" if found.group() in "\r\n\x85\u2028\u2029" else "a control character"
        raise ValidationError(f"Use one line of plain text: this contains {what}.")
    if BIDI.search(field.data):
        raise ValidationError(
            "Use plain text: this contains an invisible mark that turns the text’s direction."
        )
    if HIDDEN.search(field.data):
        raise ValidationError(
            "Use plain text: this contains an invisible character (such as a zero-width space)."
        )


def hour(value: str | None) -> int | None:
    """An hour chosen from a list ("7"), or None for none or what is not a number (the list's
    own check then says so beside it). More than two digits is no hour: also too long for int()."""
    ok = isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) <= 2
    return int(value) if ok else None


class WholeNumberField(IntegerField):
    """A whole number as people type one: ASCII digits, maybe a minus sign first, at most 9
    digits. Python's int() also takes "1_2" and other scripts' digits, which would save a typo
    as some other number; and its refusal says "Not a valid integer value"."""

    def process_formdata(self, valuelist) -> None:
        if not valuelist:
            return
        text = valuelist[0].strip()
        digits = text.removeprefix("-")
        if digits.isascii() and digits.isdigit() and len(digits) <= 9:
            self.data = int(text)
            return
        self.data = None
        raise ValueError("Enter a whole number, like 24.")


class ChoiceField(SelectField):
    """A list to choose from whose refusal (of a value no list offers: a crafted request)
    says what to do."""

    def pre_validate(self, form) -> None:
        try:
            super().pre_validate(form)
        except ValueError as error:
            raise ValidationError("Choose one of the list’s options.") from error


class DayField(DateField):
    """A day, refused in words when it is not one."""

    def process_formdata(self, valuelist) -> None:
        try:
            if (
                valuelist and not str(valuelist[0]).isascii()
            ):  # "２０２６-０３-０１" reads as a day
                raise ValueError("not plain digits")
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError("Enter a day as year-month-day, like 2026-03-01.") from error
