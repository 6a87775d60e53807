"""Forms that are not what a page of ours sends (crafted requests): text that is not UTF-8,
and a body that is not a form at all, are refused in words, with nothing changed. Before, the
text was kept with "%FF" in it, or read as an empty form blamed on an ended session."""

from __future__ import annotations

import pytest

from factories import PASSWORD, make_owner
from helpers import csrf_token
from portal.models import User

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def owner(client, login, db):
    owner = make_owner("Utf Shop", "utf@example.com")
    owner.name = "Ada"
    db.commit()
    assert login(client, owner.email, PASSWORD).status_code == 302
    return owner


@pytest.mark.parametrize("name", [b"ab%FFcd", b"ab\xffcd", b"caf%C3", b"%ED%A0%80"])
def test_form_text_that_is_not_utf8_is_refused_in_words(owner, client, db, name):
    token = csrf_token(client, "/account").encode()
    body = b"csrf_token=" + token + b"&name=" + name
    response = client.post("/account/name", data=body, content_type=FORM)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "the only encoding this site reads" in page
    db.expire_all()
    assert db.get(User, owner.id).name == "Ada"


def test_utf8_and_a_typed_percent_sign_still_go_through(owner, client, db):
    token = csrf_token(client, "/account").encode()
    body = b"csrf_token=" + token + b"&name=Z%C3%B6e+100%25"
    response = client.post("/account/name", data=body, content_type=FORM)
    assert response.status_code == 303
    db.expire_all()
    assert db.get(User, owner.id).name == "Zöe 100%"


@pytest.mark.parametrize("kind", ["text/plain", "application/json", "multipart/form-data"])
def test_a_body_that_is_no_form_is_not_blamed_on_the_session(owner, client, db, kind):
    response = client.post("/account/name", data=b'{"name": "Bea"}', content_type=kind)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "was not sent as a form" in page
    assert "session that has ended" not in page
    db.expire_all()
    assert db.get(User, owner.id).name == "Ada"
