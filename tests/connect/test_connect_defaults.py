"""What connecting an account fills in: the email's defaults, sender name, amounts and dates."""

from __future__ import annotations

import pytest

from portal.models import SendingSettings
from portal.services import settings
from connect_kit import _account, _connect, _owner, _stored, _text


def test_connecting_an_existing_account_stores_it_and_fills_the_emails_defaults(
    app, db, login, sandbox_server
):
    client, owner = _owner(app, login)
    account_id = _account(
        sandbox_server,
        "Leaf & Co",
        business_profile={
            "name": "Leaf & Co",
            "url": "https://leaf.example",
            "support_email": "help@leaf.example",
            "support_address": {"line1": "1 Leaf Lane", "city": "Portland", "country": "US"},
        },
        settings={"branding": {"primary_color": "#AA3300"}},
    )
    page = _connect(client, sandbox_server, account=account_id)
    assert "Stripe is connected: Leaf &amp; Co." in page
    said = "From your Stripe account, as defaults you can change in Settings: the sender name "
    said += "“Leaf &amp; Co”, the brand colour #aa3300, the postal address, amounts and dates "
    said += "written as in English (United States)."
    assert said in page  # the merchant is told where the From name came from
    assert account_id in page and "Leaf &amp; Co" in page and ">Live<" in page
    assert "Next step: Accept the cart-recovery terms" in _text(page)  # where setup goes on
    (account,) = _stored(db)
    assert (account.merchant_id, account.account_id, account.method) == (
        owner.merchant_id,
        account_id,
        "oauth",
    )
    assert account.livemode is True and account.is_connected
    assert (account.shop_url, account.support_email) == (
        "https://leaf.example",
        "help@leaf.example",
    )
    sending = db.get(SendingSettings, owner.merchant_id)
    assert (sending.sender_name, sending.brand_color) == ("Leaf & Co", "#aa3300")
    assert sending.postal_address == "1 Leaf Lane\nPortland\nUS"


def test_defaults_never_overwrite_what_the_merchant_set(app, db, login, sandbox_server):
    client, owner = _owner(app, login)
    sending = settings.settings_for(owner.merchant_id)
    sending.sender_name, sending.postal_address = "Mine", "My address"
    db.commit()
    page = _connect(client, sandbox_server, account="new", business_name="Theirs")
    assert "Stripe is connected: Theirs." in page and "sender name" not in page
    db.expire_all()
    sending = db.get(SendingSettings, owner.merchant_id)
    assert (sending.sender_name, sending.postal_address) == ("Mine", "My address")


def test_a_stripe_name_on_several_lines_becomes_a_one_line_sender_name(
    app, db, login, sandbox_server
):
    client, owner = _owner(app, login)
    _connect(client, sandbox_server, account="new", business_name="Gamma\r\nBcc: evil")
    db.expire_all()
    sending = db.get(SendingSettings, owner.merchant_id)
    assert sending.sender_name == "Gamma Bcc: evil"
    (account,) = _stored(db)
    assert account.display_name == "Gamma Bcc: evil"


def test_a_stripe_name_that_reads_as_an_address_is_no_sender_name(app, db, login, sandbox_server):
    client, owner = _owner(app, login)
    _connect(client, sandbox_server, account="new", business_name="Help <help@bank.example>")
    db.expire_all()
    assert db.get(SendingSettings, owner.merchant_id).sender_name == ""  # the business name


@pytest.mark.parametrize(
    ("country", "chosen", "expected"),
    [
        ("GB", None, "en_GB"),
        ("US", None, "en_US"),
        ("CN", None, "en_US"),
        ("GB", "fr_FR", "fr_FR"),
    ],
)
def test_the_accounts_country_sets_how_amounts_and_dates_are_written_unless_chosen(
    app, db, login, sandbox_server, country, chosen, expected
):
    client, owner = _owner(app, login)
    if chosen:
        settings.settings_for(owner.merchant_id).locale = chosen
        db.commit()
    _connect(client, sandbox_server, account=_account(sandbox_server, country=country))
    db.expire_all()
    assert db.get(SendingSettings, owner.merchant_id).locale == expected
