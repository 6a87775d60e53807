"""The direct-mode form: a self-hoster's restricted key and webhook signing secret, checked
for their shape (and length) before Stripe is asked, each problem in words beside its field."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, ValidationError

from portal.web.forms import strip

KEY_MAX = 255  # Stripe's keys and secrets are far shorter: a longer one was pasted twice, or worse
KEY_FORMAT = re.compile(r"(rk|sk)_(live|test)_[0-9A-Za-z]{8,}")
SECRET_FORMAT = re.compile(r"whsec_[0-9A-Za-z+/=]{8,}")
CUT_SHORT = "{} is cut short or holds unexpected characters: copy it again, whole, from Stripe."
TOO_LONG = "{} is longer than any Stripe gives: copy it again, whole, from Stripe."


def _key_format(_form, field) -> None:
    if len(field.data) > KEY_MAX:
        raise ValidationError(TOO_LONG.format("This key"))
    if field.data.startswith("pk_"):
        raise ValidationError("This is a publishable key: paste a restricted key (rk_live_…).")
    if not KEY_FORMAT.fullmatch(field.data):
        cut = re.match(r"(rk|sk)_(live|test)_", field.data)
        raise ValidationError(
            CUT_SHORT.format("This key")
            if cut
            else "A restricted key starts with rk_live_ (rk_test_, sk_live_ or sk_test_ also work)."
        )


def _secret_format(_form, field) -> None:
    if len(field.data) > KEY_MAX:
        raise ValidationError(TOO_LONG.format("This secret"))
    if not SECRET_FORMAT.fullmatch(field.data):
        cut = field.data.startswith("whsec_")
        raise ValidationError(
            CUT_SHORT.format("This secret")
            if cut
            else "A webhook signing secret starts with whsec_."
        )


class DirectForm(FlaskForm):
    # Password fields: a key typed in is never sent back in a page, even beside an error.
    api_key = PasswordField(
        "Restricted API key",
        filters=[strip],
        validators=[DataRequired("Paste your restricted key."), _key_format],
    )
    webhook_secret = PasswordField(
        "Webhook signing secret",
        filters=[strip],
        validators=[DataRequired("Paste the endpoint's signing secret."), _secret_format],
    )


class SecretForm(FlaskForm):
    """A direct-mode endpoint's new signing secret alone: the key and the account stay."""

    webhook_secret = PasswordField(
        "New webhook signing secret",
        filters=[strip],
        validators=[DataRequired("Paste the endpoint's signing secret."), _secret_format],
    )
