"""A NUL character in a query or a form (a crafted request: no page of ours sends one) is refused
in words, never a 500 from the database (PostgreSQL refuses NUL in text)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from factories import PASSWORD, make_owner
from helpers import csrf_token
from portal.models import CsvImport


@pytest.fixture
def owner(client, login):
    owner = make_owner("Nul Shop", "nul@example.com")
    assert login(client, owner.email, PASSWORD).status_code == 302
    return owner


@pytest.mark.parametrize(
    "path",
    [
        "/subscriptions/?after=%00",
        "/subscriptions/?q=x%00y",
        "/subscriptions/customer?email=%00",
        "/subscriptions/customer/export.json?email=a%00@b.example",
        "/carts/?show=%00",
        "/login?next=/%00",
    ],
)
def test_a_nul_in_a_query_is_refused_in_words(owner, client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


def test_a_nul_in_the_erase_form_is_refused_in_words(owner, client):
    token = csrf_token(client, "/subscriptions/import")
    data = {"csrf_token": token, "email": "a\x00b@x.example", "confirm": "y"}
    response = client.post("/subscriptions/customer/erase", data=data)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "That is not a complete email address: nothing was erased." in page


def test_an_upload_named_with_a_nul_keeps_the_name_on_one_line(owner, client, db):
    token = csrf_token(client, "/subscriptions/import")
    body = b"Email address,Subscription status,Updated at\r\nann@x.example,Subscribed,\r\n"
    response = client.post(
        "/subscriptions/import",
        data={"csrf_token": token, "file": (io.BytesIO(body), "a\x00b.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert db.scalar(select(CsvImport.filename)) == "a b.csv"
