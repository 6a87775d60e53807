"""The subscriptions list: keyset pages, status tabs, prefix search, and its query count."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text

from portal import db as portal_db
from subscriptions_kit import _addresses, _contacts, _listing


def _next(html: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="next"', html)
    return found and found.group(1).replace("&amp;", "&")


def _prev(html: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="prev"', html)
    return found and found.group(1).replace("&amp;", "&")


def test_pages_have_no_gaps_or_repeats_even_when_rows_arrive_between_them(client, owner):
    emails = [f"shopper{n:03d}@example.com" for n in range(120)]
    _contacts(owner.merchant_id, emails)
    first = client.get("/subscriptions").get_data(as_text=True)
    seen = _addresses(first)
    assert len(seen) == 50 and seen == sorted(seen)
    _contacts(owner.merchant_id, ["aaa-before@example.com", "shopper050a@example.com"])
    url = _next(first)
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += _addresses(html)
        url = _next(html)
    # Rows added behind the cursor are not shown again; those ahead of it are found once.
    assert len(seen) == len(set(seen)) == 121
    assert set(seen) == set(emails) | {"shopper050a@example.com"}


def test_pages_go_back_the_way_they_came_with_a_search_and_a_status(client, owner):
    _contacts(owner.merchant_id, [f"shopper{n:03d}@example.com" for n in range(120)])
    _contacts(owner.merchant_id, ["other@example.com"])
    _contacts(owner.merchant_id, ["shopperx@example.com"], status="unsubscribed", source="csv")
    pages = [_listing(client, q="shopper", status="subscribed")]
    assert _prev(pages[0]) is None and "First page" not in pages[0]
    while url := _next(pages[-1]):
        pages.append(client.get(url).get_data(as_text=True))
    assert [len(_addresses(p)) for p in pages] == [50, 50, 20]
    back = client.get(_prev(pages[2])).get_data(as_text=True)
    assert _addresses(back) == _addresses(pages[1]) and "First page" in back
    first = client.get(_prev(back)).get_data(as_text=True)
    assert _addresses(first) == _addresses(pages[0]) and _prev(first) is None
    assert _next(first) == _next(pages[0])  # the same page, whichever way it was reached


@pytest.mark.parametrize("cursor", ["", "'", "%", "\U0010ffff", "z" * 5000, "a@b.c' OR 1=1 --"])
def test_any_cursor_gives_a_page(client, owner, cursor):
    _contacts(owner.merchant_id, ["ola@example.com", "zed@example.com"])
    for name in ("before", "after"):
        html = _listing(client, **{name: cursor})
        assert set(_addresses(html)) <= {"ola@example.com", "zed@example.com"}


def test_status_tabs_filter_and_count(client, owner):
    _contacts(owner.merchant_id, ["a@example.com", "b@example.com"])
    none_yet = _listing(client, status="unsubscribed")
    assert "No unsubscribed addresses." in none_yet and "No addresses yet" not in none_yet
    _contacts(owner.merchant_id, ["c@example.com"], status="unsubscribed", source="csv")
    html = _listing(client, status="unsubscribed")
    assert _addresses(html) == ["c@example.com"] and "CSV upload" in html
    assert _addresses(_listing(client, status="subscribed")) == ["a@example.com", "b@example.com"]
    assert len(_addresses(_listing(client, status="nonsense"))) == 3  # unknown: all
    assert re.search(r"Subscribed <span class=\"count\">2</span>", html)
    # A checkout's box, ticked or not, reads as such: a buyer who left it unticked did not
    # unsubscribe from anything.
    _contacts(owner.merchant_id, ["d@example.com"], status="unsubscribed")
    listed = _listing(client)
    assert "Checkout: agreed to marketing emails" in listed  # as the address's history says
    assert "Checkout: left the marketing box unticked" in listed
    # A search's tabs count what it finds, as the list below them shows it.
    searched = _listing(client, q="C")
    assert _addresses(searched) == ["c@example.com"]
    tabs = re.findall(r'<span class="count">([^<]*)</span>', searched)
    assert tabs == ["1", "0", "1"]  # All, Subscribed, Unsubscribed


def test_prefix_search_ignores_case_and_treats_wildcards_literally(client, owner):
    _contacts(owner.merchant_id, ["ola@example.com", "olav@example.com", "kari@ola.example"])
    _contacts(owner.merchant_id, ["o_a@example.com", "o%z@example.com"])
    assert _addresses(_listing(client, q="  OLA")) == ["ola@example.com", "olav@example.com"]
    assert _addresses(_listing(client, q="o_")) == ["o_a@example.com"]
    assert _addresses(_listing(client, q="o%")) == ["o%z@example.com"]
    assert "No address starts with" in _listing(client, q="zzz")


@pytest.mark.parametrize("query", ["\U0010ffff", "a\U0010ffff", "\ud7ff"])
def test_a_search_for_any_character_answers(client, owner, query):
    # The last character moved on by one was past Unicode or a surrogate: 500s. (A NUL in any
    # query gets a page in words: test_nul_requests.)
    _contacts(owner.merchant_id, ["ola@example.com"])
    assert _addresses(_listing(client, q=query)) == []


def test_a_direction_mark_in_a_search_is_written_out_where_it_is_echoed(client, owner):
    """A right-to-left override echoed raw would turn the rest of the sentence around."""
    page = client.get("/subscriptions?q=%E2%80%AEmoc.elpmaxe%40").get_data(as_text=True)
    assert "starts with “<bdi>\\u202emoc.elpmaxe@</bdi>”" in page
    assert page.count("\u202e") == 1  # only in the search field's value, where it was typed


def test_a_form_address_opened_on_its_own_leads_to_its_page(client, owner):
    # A refused erase leaves its address in the bar: opened again, the address's own page.
    again = client.get("/subscriptions/customer/erase?email=ola@example.com")
    assert again.status_code == 303
    assert again.location.endswith("/subscriptions/customer?email=ola@example.com#erase")
    assert client.get("/subscriptions/customer/erase").location.endswith("/subscriptions")
    response = client.get("/subscriptions/customer/status")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert "Nothing to show here" in response.get_data(as_text=True)


def test_list_query_count_does_not_grow_with_the_list(app, client, owner):
    def queries_for_a_page() -> int:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        engine = app.extensions["db_engine"]
        event.listen(engine, "before_cursor_execute", counter)
        try:
            assert client.get("/subscriptions").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", counter)
        return count

    _contacts(owner.merchant_id, [f"few{n}@example.com" for n in range(10)])
    few = queries_for_a_page()
    _contacts(owner.merchant_id, [f"many{n:05d}@example.com" for n in range(5000)])
    on_postgres = portal_db.session.get_bind().dialect.name == "postgresql"
    # Past the cap, PostgreSQL's planner is asked for an estimate, SQLite counts all: one
    # statement more per such tab.
    assert few <= queries_for_a_page() <= few + 3
    if on_postgres:
        portal_db.session.execute(text("ANALYZE contacts"))
        portal_db.session.commit()
    tabs = client.get("/subscriptions").get_data(as_text=True).split('class="status-tabs"')[1]
    all_tab = re.search(r'<span class="count">([^<]*)</span>', tabs).group(1)
    # 5,010 held: PostgreSQL's estimate in words, rounded to two figures; SQLite's exact count
    assert all_tab == ("about 5,000" if on_postgres else "5,010")
    searched = client.get("/subscriptions?q=many").get_data(as_text=True).split("status-tabs")[1]
    shown = re.search(r'<span class="count">([^<]*)</span>', searched).group(1)
    assert shown == ("1,000+" if on_postgres else "5,000")


def test_the_list_answers_with_a_trailing_slash_too(client, owner):
    response = client.get("/subscriptions/?q=ola")
    assert response.status_code == 301 and response.location.endswith("/subscriptions?q=ola")
    # Nothing else of the query string reaches url_for: no method, scheme or host of its choosing.
    for query in ("_method=POST", "_external=1", "_scheme=https", "_anchor=x"):
        response = client.get(f"/subscriptions/?q=ola&{query}", headers={"Host": "evil.example"})
        assert response.status_code == 301
        assert response.location == "/subscriptions?q=ola", query
