"""One merchant never sees another's rows, pages or ids."""

from __future__ import annotations

import pytest
from flask_login import login_user
from werkzeug.exceptions import NotFound, Unauthorized

from factories import PASSWORD, make_member, make_owner
from portal.models import User
from portal.tenancy import current_merchant, get_owned_or_404


def test_team_lists_only_the_merchants_own_people(client, login):
    alice = make_owner("Alice Shop", "alice@example.com")
    make_member(alice.merchant_id, "alice.helper@example.com")
    make_owner("Bob Shop", "bob@example.com")
    login(client, "bob@example.com", PASSWORD)
    page = client.get("/team/").get_data(as_text=True)
    assert "bob@example.com" in page
    assert "alice" not in page.lower()


def test_another_merchants_member_page_is_404(client, login):
    alice = make_owner("Alice Shop", "alice@example.com")
    make_owner("Bob Shop", "bob@example.com")
    login(client, "bob@example.com", PASSWORD)
    response = client.get(f"/team/{alice.id}")
    assert response.status_code == 404
    assert "alice@example.com" not in response.get_data(as_text=True)
    assert "belongs to another account" in response.get_data(as_text=True)
    assert client.get("/team/999999").status_code == 404


def test_a_missing_page_tells_a_visitor_who_is_not_signed_in_where_to_go(client):
    response = client.get("/r/no-such-link/extra")
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and "Sign in to the portal" in page
    assert "another account" not in page and "your home page" not in page


def test_own_member_page_is_shown(client, login):
    bob = make_owner("Bob Shop", "bob@example.com")
    login(client, "bob@example.com", PASSWORD)
    assert "bob@example.com" in client.get(f"/team/{bob.id}").get_data(as_text=True)


def test_helpers_scope_to_the_signed_in_merchant(app):
    alice, bob = make_owner("A", "a@example.com"), make_owner("B", "b@example.com")
    with app.test_request_context():
        login_user(bob)
        assert current_merchant().id == bob.merchant_id
        assert get_owned_or_404(User, bob.id).email == "b@example.com"
        with pytest.raises(NotFound):
            get_owned_or_404(User, alice.id)


def test_helpers_refuse_without_a_signed_in_user(app):
    with app.test_request_context(), pytest.raises(Unauthorized):
        current_merchant()


def test_pages_require_login(client):
    for path in ("/team/", "/team/1"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith(
            "/login?next="
        )
    assert client.get("/").headers["Location"] == "/login"


def test_ids_beyond_what_a_column_holds_are_404_on_every_id_route(app, client, login):
    bob = make_owner("Bob Shop", "bob@example.com")
    login(client, "bob@example.com", PASSWORD)
    routes = [rule.rule for rule in app.url_map.iter_rules() if "<id:" in rule.rule]
    assert {"/carts/<id:case_id>", "/team/<id:user_id>", "/outbox/<id:message_id>"} <= set(routes)
    for rule in routes:
        for ident in ("2147483648", "99999999999999999999999", "0", "-1"):
            path = rule.split("<")[0] + ident
            assert client.get(path).status_code == 404, path
    assert client.get(f"/team/{bob.id}").status_code == 200


def test_a_number_in_a_path_is_ascii_digits_alone_on_every_route(app, client, login):
    # int() reads "１" (full width) and "١" (Arabic-Indic) as 1: page 1 under another address.
    bob = make_owner("Bob Shop", "bob@example.com")
    login(client, "bob@example.com", PASSWORD)
    wide = "".join(chr(0xFF10 + int(d)) for d in str(bob.id))
    assert client.get(f"/team/{bob.id}").status_code == client.get("/email/1").status_code == 200
    assert client.get(f"/team/{wide}").status_code == client.get("/email/１").status_code == 404
    routes = app.url_map.bind("localhost")
    numbered = [r for r in app.url_map.iter_rules() if "<int:" in r.rule or "<id:" in r.rule]
    assert {"/email/<int:step>", "/team/<id:user_id>/remove"} <= {r.rule for r in numbered}
    for rule in numbered:
        head, _, rest = rule.rule.partition("<")
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        assert routes.match(head + "1" + rest.partition(">")[2], method=method)[0] == rule.endpoint
        for digits in (wide, "１", "١", "۱", "𝟏"):
            with pytest.raises(NotFound):
                routes.match(head + digits + rest.partition(">")[2], method=method)
