"""State kept across restarts, and a Connect endpoint registered at start-up with a fixed secret."""

from __future__ import annotations

from stripe_sandbox import create_app


def test_a_restart_keeps_accounts_catalog_sessions_and_keys(tmp_path, kit, start_sandbox):
    state = str(tmp_path / "state.json")
    first = start_sandbox(STATE_FILE=state)
    account, keys = first.account("Kept Shop")
    price = kit.make_price(first.client(), account)
    session = kit.make_session(first.client(), account, price.id)
    start_sandbox.stop(first)  # saves on stop

    again = start_sandbox(STATE_FILE=state)
    assert again.client().v1.accounts.retrieve(account).business_profile.name == "Kept Shop"
    direct = again.client(keys["sk_live"])
    assert direct.v1.checkout.sessions.retrieve(session.id).amount_total == session.amount_total
    new_price = kit.make_price(again.client(), account)  # insertion order goes on after a restore
    listed = [p.id for p in again.client().v1.prices.list(options={"stripe_account": account})]
    assert listed == [new_price.id, price.id]


def test_connect_endpoint_registered_at_start_signs_with_the_given_secret(
    tmp_path, receiver, kit, start_sandbox
):
    box = start_sandbox(
        STATE_FILE=str(tmp_path / "state.json"),
        CONNECT_WEBHOOK_URL=receiver.url,
        CONNECT_WEBHOOK_SECRET="whsec_fixed_for_tests",
    )
    account, _ = box.account()
    session = kit.make_session(box.client(), account, kit.make_price(box.client(), account).id)
    box.post(f"/_sandbox/checkout/sessions/{session.id}/expire")
    assert box.runtime.wait_idle(5)
    (event,) = receiver.of_type("whsec_fixed_for_tests", "checkout.session.expired")
    assert event.account == account
    start_sandbox.stop(box)

    again = create_app(
        {
            "STATE_FILE": str(tmp_path / "state.json"),
            "CONNECT_WEBHOOK_URL": receiver.url,
            "CONNECT_WEBHOOK_SECRET": "whsec_new",
        }
    )
    endpoints = again.extensions["sandbox"].store.all("webhook_endpoint")
    assert (
        len(endpoints) == 1 and endpoints[0].extra["secret"] == "whsec_new"
    )  # updated, not doubled


def test_open_sessions_still_expire_after_a_restart_and_finished_ones_never_do(
    tmp_path, kit, start_sandbox
):
    state = str(tmp_path / "state.json")
    first = start_sandbox(STATE_FILE=state)
    account, keys = first.account("Kept Shop")
    price = kit.make_price(first.client(), account)
    waiting = kit.make_session(first.client(), account, price.id)
    expired_early = kit.make_session(first.client(), account, price.id)
    first.client(keys["sk_live"]).v1.checkout.sessions.expire(expired_early.id)
    start_sandbox.stop(first)

    again = start_sandbox(STATE_FILE=state)
    again.post("/_sandbox/clock/advance", seconds=str(24 * 3600 + 5))
    direct = again.client(keys["sk_live"])
    assert direct.v1.checkout.sessions.retrieve(waiting.id).status == "expired"
    expired_events = [e for e in direct.v1.events.list({"type": "checkout.session.expired"}).data]
    # One expiry each: the early one is not expired a second time when its deadline passes.
    assert sorted(e.data.object["id"] for e in expired_events) == sorted(
        [waiting.id, expired_early.id]
    )


def test_saves_from_many_threads_at_once_leave_the_latest_state_on_disk(tmp_path):
    """Every API request and the clock's ticker save the state; they run in different threads.
    No save may fail or leave another's half-written file behind."""
    import json

    from helpers import run_in_threads
    from stripe_sandbox.persist import StateFile, snapshot

    store = create_app({}).extensions["sandbox"].store
    state = StateFile(store, str(tmp_path / "state.json"))

    def change_then_save(n: int) -> None:
        for _ in range(40):
            store.advance(1)  # a change, so each save has something new to write
            state.save_if_changed()

    assert run_in_threads(change_then_save, 8) == []
    state.save_if_changed()
    saved = (tmp_path / "state.json").read_text()
    assert saved == snapshot(store) and json.loads(saved)["offset"] == 8 * 40
