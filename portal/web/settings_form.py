"""The sending settings' form: its fields, the values it holds, and the stored values as it
shows them."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.mail.values import locale_choices
from portal.models import TestModeSends
from portal.services import domain_names, settings_values
from portal.services.rules import MAX_STEPS
from portal.web.filters import money
from portal.web.forms import ChoiceField, WholeNumberField, hour, one_line, sender_worthy, strip
from portal.web.zones import zone_choices

UNITS = [SelectChoice("minutes"), SelectChoice("hours")]
HOURS = [SelectChoice(str(hour), f"{hour:02d}:00") for hour in range(24)]
NO_QUIET_HOURS = SelectChoice("", "No quiet hours")
TEST_MODE_WORDS = {
    TestModeSends.RECORD: "Record only, never email",
    TestModeSends.TEAM: "Send to your team only: a team member’s own checkouts to them, others to the owner",
}
QUIET_ZONE_WORDS = {
    "merchant": "Your time zone",
    "shopper": "The shopper’s: their billing country’s time (yours when it has several zones)",
}


class DelayForm(Form):
    delay = WholeNumberField("After expiry", validators=[Optional()])
    unit = ChoiceField("Unit", choices=UNITS, default="minutes")

    def minutes(self) -> int:
        """The delay in minutes (the row must have one)."""
        return self.delay.data * (60 if self.unit.data == "hours" else 1)


class StepForm(DelayForm):
    promotion = BooleanField("Include a promotion code")


class RuleFields(FlaskForm):
    """The fields that decide when emails go, the same on Settings and in a dry run.

    A subclass adds `steps`, a list of DelayForm rows.
    """

    quiet_start = ChoiceField("Quiet from", choices=[NO_QUIET_HOURS, *HOURS])
    quiet_end = ChoiceField("Quiet until", choices=[NO_QUIET_HOURS, *HOURS])
    quiet_zone = RadioField(
        "Quiet hours follow",
        choices=[SelectChoice(zone, words) for zone, words in QUIET_ZONE_WORDS.items()],
        validate_choice=False,
    )
    frequency_cap_hours = WholeNumberField(
        "Frequency cap (hours)", validators=[InputRequired("Enter a number of hours.")]
    )
    holdout_percent = WholeNumberField(
        "Holdout share (%)", validators=[InputRequired("Enter a percentage (0 for none).")]
    )
    test_mode = RadioField(
        "Test-mode carts",
        choices=[SelectChoice(mode.value, words) for mode, words in TEST_MODE_WORDS.items()],
        validate_choice=False,
    )

    def step_rows(self) -> list[int]:
        """The form rows that hold a step (empty rows are left out)."""
        return [i for i, row in enumerate(self.steps) if row.delay.data is not None]

    def rule_values(self) -> dict:
        """The typed quiet hours, cap, holdout and test mode, by their settings' names."""
        return dict(
            quiet_start=hour(self.quiet_start.data),
            quiet_end=hour(self.quiet_end.data),
            quiet_zone=self.quiet_zone.data or "merchant",  # a form from before the choice
            frequency_cap_hours=self.frequency_cap_hours.data,
            holdout_percent=self.holdout_percent.data,
            test_mode=self.test_mode.data or "",
        )

    def show(self, problems: list[tuple[str, str]], rows: list[int]) -> None:
        """Put each problem beside its field ("steps.<i>": the delay of that step's row)."""
        for name, message in problems:
            if name.startswith("steps."):
                field = self.steps[rows[int(name.removeprefix("steps."))]].delay
            else:
                field = self[name]
            if not field.errors:  # the form's own word on a field comes first, and alone
                field.errors = [message]


class SettingsForm(RuleFields):
    stamp = HiddenField()  # the stored settings the page was made from (see _stamp)
    business_name = StringField(
        "Business name",
        filters=[strip],
        validators=[
            DataRequired("Your business name is in every email: enter it."),
            Length(max=200, message="Use at most 200 characters."),
            one_line,
            sender_worthy,
        ],
    )
    sender_name = StringField("Sender name", filters=[strip], validators=[one_line])
    reply_to = EmailField("Reply-to address", filters=[strip])
    postal_address = TextAreaField("Postal address", filters=[strip])
    locale = SelectField("Language, amounts and dates", validate_choice=False)
    # Unknown names and modes are refused by the service, which says so in words.
    timezone = SelectField("Time zone", validate_choice=False)
    # More rows than MAX_STEPS are read, so that the service can refuse them by name.
    steps = FieldList(FormField(StepForm), min_entries=MAX_STEPS, max_entries=10)
    coupon_id = SelectField("Coupon for promotion codes", validate_choice=False)

    def __init__(self, *args, coupons: list[dict] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = zone_choices(self.timezone.data)
        self.locale.choices = [SelectChoice(ident, name) for ident, name in locale_choices()]
        self.coupon_id.choices = [SelectChoice("", "No coupon")] + [
            SelectChoice(c["id"], coupon_words(c)) for c in coupons or []
        ]

    def show(self, problems: list[tuple[str, str]], rows: list[int]) -> None:
        super().show(problems, rows)
        # A browser sends an email field's domain in xn-- form: shown back in its own letters.
        self.reply_to.data = _shown(self.reply_to.data)

    def values(self) -> tuple[settings_values.Values, list[int]]:
        """The typed values, and the form row each step came from (empty rows are left out)."""
        rows = self.step_rows()
        steps = tuple(
            settings_values.StepValues(self.steps[i].minutes(), self.steps[i].promotion.data)
            for i in rows
        )
        values = settings_values.Values(
            sender_name=self.sender_name.data or "",
            reply_to=settings_values.reply_to_address(self.reply_to.data or "") or None,
            postal_address=self.postal_address.data or "",
            timezone=self.timezone.data or "",
            steps=steps,
            coupon_id=self.coupon_id.data or None,
            locale=self.locale.data or "",
            **self.rule_values(),
        )
        return values, rows


def coupon_words(coupon: dict) -> str:
    """A coupon as the merchant knows it: "SUMMER (10% off)", "$5.00 off"."""
    if coupon.get("percent_off") is not None:
        off = f"{coupon['percent_off']:g}% off"
    elif coupon.get("amount_off") is not None:
        off = f"{money(coupon['amount_off'], coupon.get('currency'))} off"
    else:  # the chosen coupon, while Stripe cannot be asked about it
        return coupon["id"]
    return f"{coupon['name'] or coupon['id']} ({off})"


def form_data(values: settings_values.Values) -> dict:
    """What the form shows for stored values: whole hours in hours, blank rows to fill."""
    steps = [
        {"delay": s.delay_minutes // 60, "unit": "hours", "promotion": s.promotion}
        if s.delay_minutes and s.delay_minutes % 60 == 0
        else {"delay": s.delay_minutes, "unit": "minutes", "promotion": s.promotion}
        for s in values.steps
    ]
    hours = {
        name: "" if hour is None else str(hour)
        for name, hour in (("quiet_start", values.quiet_start), ("quiet_end", values.quiet_end))
    }
    return {**vars(values), **hours, "steps": steps, "reply_to": _shown(values.reply_to)}


def _shown(address: str | None) -> str:
    return domain_names.display_address(address) if address else ""
