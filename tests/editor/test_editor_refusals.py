"""The email editor refuses bad placeholders, lengths, characters, colours and logos beside the field."""

from __future__ import annotations

import html

import pytest

from helpers import error_beside, post_form
from editor_kit import VALID, frames, versions


def test_an_unknown_placeholder_is_refused_by_name_and_nothing_saved(client, db, owner):
    response = post_form(client, "/email/1", {**VALID, "subject": "Hi {first_name}!"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was saved" in page
    assert error_beside(page, "subject").startswith("Unknown placeholder {first_name}: use one of")
    assert versions(db, owner.merchant_id) == []


@pytest.mark.parametrize(
    "field, typed, says",
    [
        ("body", "Hi {{ customer_name }},", "Write {customer_name} in single braces:"),
        ("subject", "{{Merchant Name}} misses you", "Write {merchant_name} in single braces:"),
        (
            "headline",
            "Hi { customer_name }",
            "Unknown placeholder { customer_name }: did you mean",
        ),
    ],
)
def test_a_placeholder_written_as_other_tools_write_it_is_refused_with_the_right_form(
    client, db, owner, field, typed, says
):
    # "{{ name }}" is an escaped brace pair here: saved, the shopper would read "{ name }".
    response = post_form(client, "/email/1", {**VALID, field: typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was saved" in page
    assert error_beside(page, field).startswith(says)
    assert versions(db, owner.merchant_id) == []


def test_a_promotion_code_in_an_email_without_one_is_saved_with_a_warning(client, db, owner):
    with_code = {**VALID, "body": "Use {promotion_code} for 10% off."}
    warning = "Email 1 gets no promotion code, so {promotion_code} stays empty in it"
    preview = post_form(client, "/email/1/preview", with_code, page="/email/1")
    assert warning in html.unescape(preview.get_data(as_text=True))
    saved = post_form(client, "/email/1", with_code, follow_redirects=True)
    page = html.unescape(saved.get_data(as_text=True))
    assert "Saved as version 1." in page and warning in page
    assert len(versions(db, owner.merchant_id)) == 1
    plain = post_form(client, "/email/1", {**VALID, "headline": "Hi"}, follow_redirects=True)
    assert "stays empty" not in plain.get_data(as_text=True)


def test_a_field_too_long_is_refused_and_the_browser_is_told_the_limit(client, db, owner):
    response = post_form(client, "/email/1", {**VALID, "headline": "x" * 151})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert error_beside(page, "headline") == "Use at most 150 characters (this has 151)."
    assert versions(db, owner.merchant_id) == []


@pytest.mark.parametrize(
    ("field", "text", "says"),
    [
        ("subject", "Hi\u2028there", "Keep this to one line."),
        ("subject", "Hi\x0bthere", "Keep this to one line."),
        ("subject", "Hi\x00there", "Remove the invisible control character"),
        ("body", "Your cart\x07 waits", "Remove the invisible control character"),
    ],
)
def test_a_control_character_is_refused_beside_its_field(client, db, owner, field, text, says):
    response = post_form(client, "/email/1", {**VALID, field: text})
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), field).startswith(says)
    assert versions(db, owner.merchant_id) == []


def test_a_bad_colour_and_a_javascript_logo_are_refused(client, db, owner):
    data = {**VALID, "brand_color": "red;x", "logo_url": "javascript:alert(1)"}
    response = post_form(client, "/email/1", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "six hex digits" in error_beside(page, "brand_color")
    assert "https://" in error_beside(page, "logo_url")
    assert versions(db, owner.merchant_id) == [] and not frames(page)  # problems, no preview


@pytest.mark.parametrize(
    "logo", ["https://example.com:99999/x.png", "https://user:pass@example.com/x.png"]
)
def test_a_logo_address_with_a_port_past_65535_or_a_password_is_refused(client, db, owner, logo):
    response = post_form(client, "/email/1", {**VALID, "logo_url": logo})
    assert response.status_code == 400
    assert "https://" in error_beside(response.get_data(as_text=True), "logo_url")


def test_a_plain_http_logo_on_this_machine_is_for_development_only(
    app, client, db, owner, monkeypatch
):
    logo = "http://127.0.0.1:6379/logo.png"  # in production: each shopper's own machine
    with monkeypatch.context() as production:
        production.setitem(app.config, "PORTAL_ENV", "production")
        refused = post_form(client, "/email/1", {**VALID, "logo_url": logo})
    assert refused.status_code == 400
    assert "https://" in error_beside(refused.get_data(as_text=True), "logo_url")
    assert post_form(client, "/email/1", {**VALID, "logo_url": logo}).status_code == 302


@pytest.mark.parametrize(
    "logo, says",
    [
        ("https://printer.local/logo.png", "printer.local cannot be reached from the internet"),
        ("https://nas.lan/logo.png", "nas.lan cannot be reached from the internet"),
        ("https://127.0.0.1/logo.png", "127.0.0.1 is not an address on the internet"),
        ("https://[::1]/logo.png", "::1 is not an address on the internet"),
        ("https://10.0.0.8/logo.png", "10.0.0.8 is not an address on the internet"),
        ("https://shop%2elocal/logo.png", "shop.local cannot be reached from the internet"),
        ("https://127.1/logo.png", "127.1 is not an address on the internet"),
        ("https://2130706433/logo.png", "2130706433 is not an address on the internet"),
    ],
)
def test_a_logo_no_shoppers_mail_app_can_fetch_is_refused_in_production(
    app, client, db, owner, monkeypatch, logo, says
):
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    refused = post_form(client, "/email/1", {**VALID, "logo_url": logo})
    assert refused.status_code == 400
    assert error_beside(refused.get_data(as_text=True), "logo_url") == (
        f"{says}: shoppers’ mail apps could not show the logo from there."
    )
    documentation = post_form(
        client, "/email/1", {**VALID, "logo_url": "https://203.0.113.9/l.png"}
    )
    assert documentation.status_code == 400  # documentation's addresses are not global either
    assert (
        post_form(
            client, "/email/1", {**VALID, "logo_url": "https://cdn.shop.io/l.png"}
        ).status_code
        == 302
    )
