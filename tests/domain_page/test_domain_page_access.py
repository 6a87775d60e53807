"""Who may use the sending domain page: members read only, other merchants see nothing, CSRF."""

from __future__ import annotations

import re


from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token, post_form

from domain_page_kit import add, page, stored


def test_a_member_sees_the_page_but_cannot_change_it(owner, app, client, db, login):
    add(client, "shop.example")
    member = make_member(owner.merchant_id, "member@bean.example")
    member_client = app.test_client()
    login(member_client, member.email, PASSWORD)
    html = page(member_client)
    assert "Only the account’s owner can add, verify or remove" in html
    assert "shop.example" in html and 'id="record-dkim-value"' in html
    assert "Verify now" not in html and "Remove shop.example" not in html
    for path, data in [
        ("/domain", {"domain": "other.example", "local_part": "hello"}),
        ("/domain/verify", {}),
        ("/domain/remove", {}),
    ]:
        assert post_form(member_client, path, data, page="/domain").status_code == 403
    [row] = stored(db)
    assert (row.domain, row.status) == ("shop.example", "pending")
    assert app.test_client().get("/domain").status_code == 302  # signed out: the login page


def test_another_merchant_sees_nothing_of_this_domain(owner, app, client, db, login):
    add(client, "beanery.example")
    [row] = stored(db)
    make_owner("Other Shop", "other@shop.example")
    other = app.test_client()
    login(other, "other@shop.example", PASSWORD)
    html = page(other)
    assert "beanery" not in html
    assert row.selector not in html and row.public_key[:40] not in html
    assert "Add the domain" in html
    verified = post_form(other, "/domain/verify", {}, page="/domain", follow_redirects=True)
    assert "There is no domain to verify" in verified.get_data(as_text=True)
    assert post_form(other, "/domain/remove", {}, page="/domain").status_code == 302
    assert [r.id for r in stored(db)] == [row.id]


def test_every_form_needs_the_csrf_token(owner, client, db):
    assert client.post("/domain", data={"domain": "shop.example"}).status_code == 400
    assert stored(db) == []
    add(client, "shop.example")
    for path in ("/domain/verify", "/domain/remove"):
        response = client.post(path, data={"csrf_token": "forged"})
        assert response.status_code == 400, path
    [row] = stored(db)
    assert row.checked_at is None


def test_the_home_page_links_the_step(owner, client):
    home = client.get("/").get_data(as_text=True)
    step = re.search(r'data-step="domain">(.*?)</li>', home, re.S).group(1)
    assert '<a href="/domain">Add a custom sending domain</a>' in step
    assert csrf_token(client, "/domain")
