"""One rule for names no mail reaches, in every form that takes a domain or an address: the
sending domain, the reply-to, an invitation (and sign-up, in tests/auth)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from factories import PASSWORD, make_owner
from helpers import error_beside, post_form
from portal.models import Invitation, SendingDomain, SendingSettings
from settings_kit import VALID

EXAMPLE_NAMES = ["example.com", "mail.example.org", "shop.test", "acme.example"]
PRIVATE_NAMES = ["printer.local", "nas.lan", "box.internal", "shop.onion", "x.localhost"]


def typed_everywhere(client, name: str) -> dict[str, tuple[int, str]]:
    """Each form's status and the page it answered, for `name` typed into it."""
    answers = {
        "domain": post_form(client, "/domain", {"domain": name, "local_part": "hello"}),
        "reply_to": post_form(client, "/settings", {**VALID, "reply_to": f"help@{name}"}),
        "email": post_form(
            client, "/team/invitations", {"email": f"nia@{name}", "name": ""}, page="/team/"
        ),
    }
    return {field: (r.status_code, r.get_data(as_text=True)) for field, r in answers.items()}


def stored(db) -> tuple[list, list, list]:
    db.expire_all()
    return (
        db.scalars(select(SendingDomain.domain)).all(),
        db.scalars(select(SendingSettings.reply_to)).all(),
        db.scalars(select(Invitation.email)).all(),
    )


def assert_refused_everywhere(client, db, name: str, said: str) -> None:
    """Each form refuses `name` beside its field, in words ending as the form's own, and keeps
    nothing."""
    answers = typed_everywhere(client, name)
    assert {field: status for field, (status, _) in answers.items()} == dict.fromkeys(answers, 400)
    assert error_beside(answers["domain"][1], "domain") == f"{said}: enter your business's domain."
    assert error_beside(answers["reply_to"][1], "reply_to") == f"{said}: replies would be lost."
    assert error_beside(answers["email"][1], "email") == f"{said}."
    assert stored(db) == ([], [], [])


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_names_for_examples_and_tests_are_refused_by_every_form_in_production(
    app, client, owner, db, monkeypatch, name
):
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    said = f"{name} is a reserved name that never receives email"
    assert_refused_everywhere(client, db, name, said)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_names_for_examples_and_tests_are_taken_by_every_form_in_development(
    client, owner, db, name
):
    # Mail in development and tests waits in the Outbox: the demo and the tests use these names.
    answers = typed_everywhere(client, name)
    assert {field: status for field, (status, _) in answers.items()} == {
        "domain": 302,
        "reply_to": 302,
        "email": 303,
    }
    assert stored(db) == ([name], [f"help@{name}"], [f"nia@{name}"])


@pytest.mark.parametrize("name", PRIVATE_NAMES)
def test_a_private_networks_names_are_refused_by_every_form_anywhere(client, owner, db, name):
    said = f"{name} cannot be reached from the internet"
    assert_refused_everywhere(client, db, name, said)


@pytest.mark.parametrize(
    "typed, kept",
    [
        ("help@Bücher.example", "help@xn--bcher-kva.example"),
        ("help@xn--BCHER-kva.example", "help@xn--bcher-kva.example"),
        ("Help.Desk@Acme.EXAMPLE", "Help.Desk@acme.example"),
    ],
)
def test_a_reply_to_domain_is_kept_in_lower_case_a_labels(client, owner, db, typed, kept):
    assert post_form(client, "/settings", {**VALID, "reply_to": typed}).status_code == 302
    assert stored(db)[1] == [kept]


def test_a_reply_to_with_letters_outside_ascii_before_the_at_says_which_part(client, owner, db):
    refused = post_form(client, "/settings", {**VALID, "reply_to": "hélp@bücher.example"})
    assert refused.status_code == 400
    assert error_beside(refused.get_data(as_text=True), "reply_to") == (
        "Write the part before the @ in plain ASCII letters: mail cannot carry this one."
    )
    assert stored(db)[1] == []


@pytest.mark.parametrize("address", ["owner@shop.test", "owner@example.com", "owner@shop.local"])
def test_an_account_under_a_name_kept_for_tests_still_signs_in_in_production(
    app, client, login, monkeypatch, address
):
    # Only new addresses are judged: an account made before (or by the demo) is not locked out.
    make_owner("Dev Shop", address)
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    assert login(client, address, PASSWORD).status_code == 302
    assert client.get("/team/").status_code == 200


def test_an_invitation_goes_only_to_a_plain_ascii_address(client, owner, db):
    refused = post_form(
        client, "/team/invitations", {"email": "nïa@example.com", "name": ""}, page="/team/"
    )
    assert refused.status_code == 400
    assert "plain ASCII" in error_beside(refused.get_data(as_text=True), "email")
    assert stored(db)[2] == []


def test_a_reply_to_is_shown_in_its_own_letters_and_saving_it_again_changes_nothing(
    client, owner, db
):
    assert (
        post_form(client, "/settings", {**VALID, "reply_to": "help@Bücher.example"}).status_code
        == 302
    )
    page = client.get("/settings").get_data(as_text=True)
    assert 'value="help@bücher.example"' in page and "xn--" not in page
    assert "help@bücher.example" in client.get("/domain").get_data(as_text=True)
    again = post_form(client, "/settings", {**VALID, "reply_to": "help@bücher.example"})
    assert "Nothing changed" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert stored(db)[1] == ["help@xn--bcher-kva.example"]


ODD_ADDRESSES = [
    ("=?utf-8?q?a?=@example.com", "without “=?”"),
    ("a=?x?=b@example.com", "without “=?”"),
    ("b" * 65 + "@example.com", "at most 64 characters before the @"),
    ("x@example.c", "Enter a complete email address"),
    ("x@localhost", "localhost cannot be reached from the internet"),
    ("x@printer.Local.", "printer.local cannot be reached from the internet"),
    ("x@printer．ＬＯＣＡＬ", "printer.local cannot be reached from the internet"),
]


@pytest.mark.parametrize("address, says", ODD_ADDRESSES, ids=[a[:20] for a, _ in ODD_ADDRESSES])
def test_an_address_mail_cannot_carry_is_refused_by_every_form_in_words(
    app, client, owner, db, address, says
):
    answers = {
        "reply_to": post_form(client, "/settings", {**VALID, "reply_to": address}),
        "email": post_form(
            client, "/team/invitations", {"email": address, "name": ""}, page="/team/"
        ),
    }
    for field, answer in answers.items():
        assert answer.status_code == 400, field
        assert says in error_beside(answer.get_data(as_text=True), field), field
    signup = post_form(
        app.test_client(),
        "/signup",
        {
            "business_name": "B",
            "email": address,
            "password": "a long pass!",
            "confirm": "a long pass!",
        },
    )
    assert signup.status_code == 400 and says in error_beside(
        signup.get_data(as_text=True), "email"
    )
    assert stored(db) == ([], [], [])


@pytest.mark.parametrize("local_part", ["o'brien", "=?utf-8?q?a?=", "a=b", "x{y}"])
def test_a_from_address_holds_only_what_the_page_says(client, owner, db, local_part):
    answer = post_form(client, "/domain", {"domain": "shop.example", "local_part": local_part})
    assert answer.status_code == 400
    assert "letters, digits, dots, - _ and +" in error_beside(
        answer.get_data(as_text=True), "local_part"
    )
    assert stored(db)[0] == []


def test_a_private_networks_address_may_ask_for_a_reset_link_as_any_other(client, db):
    make_owner("Dev Shop", "owner@shop.local")
    answer = post_form(client, "/password/forgot", {"email": "owner@shop.local"})
    assert answer.status_code == 303


def test_one_message_beside_a_field_for_each_fault(app, client, owner, db):
    too_long = "a" * 250 + "@example.com"
    turned = "nia@\u202eb.local"  # a right-to-left override would turn the rest of the words
    for address, says in [
        (too_long, "Use at most 254 characters."),
        (turned, "b.local cannot be reached from the internet."),
    ]:
        answer = post_form(
            client, "/team/invitations", {"email": address, "name": ""}, page="/team/"
        )
        field = answer.get_data(as_text=True).split('id="email"')[1].split("</div>")[0]
        assert re.findall(r'<p class="error"[^>]*>([^<]+)</p>', field) == [says]


@pytest.mark.parametrize(
    "name",
    [
        "p\u0430ypal.example",
        "xn--pypal-4ve.example",
        "\u03b1pple.example",
        "g\u0585ogle.example",  # an Armenian օ
        "\u0430\u0440\u0440\u04cf\u0435.example",  # аррӏе: Cyrillic alone, under a Latin ending
    ],
)
def test_a_name_mixing_look_alike_alphabets_is_refused_for_sending_and_replies(
    client, owner, db, name
):
    """A Cyrillic а or a Greek α among Latin letters reads as another name (pаypal)."""
    answers = typed_everywhere(client, name)
    for field in ("domain", "reply_to"):
        assert answers[field][0] == 400
        said = error_beside(answers[field][1], field)
        assert "a shopper could take it for another name" in said
    assert stored(db)[:2] == ([], [])


@pytest.mark.parametrize(
    "name", ["bücher.example", "παράδειγμα.example", "пример.example", "пример.рф", "日本語.jp"]
)
def test_a_name_in_one_alphabet_is_taken_for_sending_and_replies(client, owner, db, name):
    answers = typed_everywhere(client, name)
    assert (answers["domain"][0], answers["reply_to"][0]) == (302, 302)


def test_a_refused_reply_to_sent_in_xn_form_comes_back_in_its_own_letters(client, owner, db):
    """Chromium sends an email field's domain in xn-- form: the merchant typed help@αpple.com."""
    refused = post_form(client, "/settings", {**VALID, "reply_to": "help@xn--pple-zld.com"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'value="help@αpple.com"' in html
    assert "xn--" not in html
