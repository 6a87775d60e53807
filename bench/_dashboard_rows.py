"""The bulk rows of bench/dashboard.py's merchants as SQL (`INSERT ... SELECT` over
`generate_series` and a seeded `random()`): what became of each expired session, its emails,
its recovery. Not a benchmark itself (`make bench` skips `_` files)."""

from __future__ import annotations

# What became of an expired session (the case's reason, or `emailed`), with its share: the
# rules' reasons, holdout near 10 % of the eligible cases (holdout_percent = 10).
FATES = (
    ("test_mode", 0.005),
    ("no_consent", 0.22),
    ("no_email", 0.04),
    ("no_recovery_url", 0.01),
    ("unsubscribed", 0.02),
    ("suppressed", 0.01),
    ("completed_elsewhere", 0.03),
    ("later_session", 0.08),
    ("frequency_cap", 0.03),
    ("recovery_url_expired", 0.005),
    ("holdout", 0.055),
)
SEND_STATUS = (
    "CASE WHEN {u} < 0.955 THEN 'sent' WHEN {u} < 0.98 THEN 'bounced' WHEN {u} < 0.99 "
    "THEN 'failed' WHEN {u} < 0.995 THEN 'deferred' ELSE 'unknown' END"
)


def statement_values() -> dict:
    """The CASE expressions the statements are formatted with."""
    return {"fate": _fate_case(), **_send_cases()}


def _fate_case() -> str:
    parts, edge = [], 0.0
    for reason, share in FATES:
        edge += share
        parts.append(f"WHEN u_fate < {edge:.4f} THEN '{reason}'")
    return f"CASE {' '.join(parts)} ELSE 'emailed' END"


def _send_cases() -> dict:
    return {"s0": SEND_STATUS.format(u="u_s0"), "s1": SEND_STATUS.format(u="u_s1")}


# The bulk rows, in order. `gen`: one draw per original session; `plan`: the session's shape;
# `cp`: one row per expired session, its case and emails decided.
STATEMENTS = (
    """CREATE TEMP TABLE gen AS SELECT i,
    now() - interval '366 days' - interval '10 minutes'
      + (i::float8 / %(n)s) * interval '365 days' + random() * interval '10 minutes' AS created_at,
    random() AS u_kind, random() AS u_fate, random() AS u_cur, random() AS u_amt,
    random() AS u_mail, random() AS u_cust
    FROM generate_series(1, %(n)s) AS i""",
    """CREATE TEMP TABLE plan AS SELECT i, created_at, u_mail, u_amt,
    CASE WHEN u_kind < %(pexp)s THEN {fate} END AS fate,
    (i::bigint * 7919) %% %(pool)s AS shopper,
    CASE WHEN u_cur < 0.8 THEN 'usd' WHEN u_cur < 0.92 THEN 'eur' ELSE 'gbp' END AS currency,
    (500 + floor(u_amt * u_amt * 24500))::bigint AS amount, u_cust < 0.4 AS has_customer
    FROM gen""",
    """INSERT INTO checkout_sessions (merchant_id, session_id, livemode, created_at, expires_at,
    status, payment_status, amount_total, currency, customer, email, customer_name, locale,
    consent_promotions, recovery_url, recovery_expires_at, payment_intent, completed_at,
    expired_at, state_at, state_rank)
    SELECT %(m)s, session_id, fate IS DISTINCT FROM 'test_mode', created_at,
    created_at + interval '24 hours',
    CASE WHEN fate IS NULL THEN 'complete' ELSE 'expired' END,
    CASE WHEN fate IS NULL THEN 'paid' ELSE 'unpaid' END, amount, currency,
    CASE WHEN has_customer THEN 'cus_' || %(tag)s || shopper END,
    CASE WHEN fate = 'no_email' OR (fate IS NULL AND u_mail < 0.02) THEN NULL
      ELSE 'shopper' || shopper || '@mail' || shopper %% 40 || '.example' END,
    'Shopper ' || shopper, 'auto',
    CASE WHEN fate = 'no_consent' THEN CASE WHEN u_mail < 0.5 THEN 'opt_out' END
      WHEN fate IS NOT NULL THEN 'opt_in' WHEN u_mail < 0.6 THEN 'opt_in'
      WHEN u_mail < 0.8 THEN 'opt_out' END,
    CASE WHEN fate IS NOT NULL AND fate <> 'no_recovery_url'
      THEN 'https://checkout.stripe.com/c/pay/' || session_id END,
    CASE WHEN fate IS NOT NULL AND fate <> 'no_recovery_url'
      THEN created_at + interval '31 days' END,
    CASE WHEN fate IS NULL THEN 'pi_' || %(tag)s || i END,
    CASE WHEN fate IS NULL THEN created_at + u_amt * interval '20 minutes' END,
    CASE WHEN fate IS NOT NULL THEN created_at + interval '24 hours' END,
    CASE WHEN fate IS NULL THEN created_at + u_amt * interval '20 minutes'
      ELSE created_at + interval '24 hours' END, 1
    FROM (SELECT *, CASE WHEN fate = 'test_mode' THEN 'cs_test_' ELSE 'cs_live_' END
      || %(tag)s || lpad(i::text, 9, '0') AS session_id FROM plan) AS p ORDER BY i""",
    # Recovered: the first r_emailed emailed cases and r_own other ones, in a random order,
    # among cases expired over 3 days ago (live, with an address).
    """CREATE TEMP TABLE cp AS SELECT q.*,
    eligible AND row_number() OVER (PARTITION BY fate = 'emailed', eligible ORDER BY u_pick)
      <= CASE WHEN fate = 'emailed' THEN %(r_emailed)s ELSE %(r_own)s END AS recovered,
    expired_at > now() - interval '25 hours' AS recent
    FROM (SELECT p.i, p.fate, s.id AS sid, s.session_id, s.email, s.customer, s.amount_total,
      s.currency, s.expired_at, random() AS u_pick, random() AS u_s0, random() AS u_s1,
      random() AS u_c0, random() AS u_c1, random() AS u_rec, random() AS u_unsub,
      s.expired_at < now() - interval '3 days' AND p.fate NOT IN ('test_mode', 'no_email')
        AS eligible
      FROM plan p JOIN checkout_sessions s ON s.merchant_id = %(m)s AND s.session_id =
        CASE WHEN p.fate = 'test_mode' THEN 'cs_test_' ELSE 'cs_live_' END
        || %(tag)s || lpad(p.i::text, 9, '0')
      WHERE p.fate IS NOT NULL OFFSET 0) AS q""",
    """ALTER TABLE cp ADD COLUMN recovered_at timestamptz, ADD COLUMN s0 text,
    ADD COLUMN s1 text, ADD COLUMN clicked0 timestamptz, ADD COLUMN clicked1 timestamptz""",
    """UPDATE cp SET recovered_at = CASE WHEN recovered THEN expired_at
      + CASE WHEN fate = 'emailed' THEN interval '65 minutes' ELSE interval '10 minutes' END
      + u_rec * interval '70 hours' END,
    s0 = CASE WHEN fate = 'emailed' AND expired_at < now() - interval '1 hour'
      THEN CASE WHEN recovered THEN 'sent' ELSE {s0} END END""",
    """UPDATE cp SET s1 = CASE WHEN recovered THEN 'sent' ELSE {s1} END
    WHERE s0 IS NOT NULL AND s0 <> 'bounced' AND NOT recent
    AND (recovered_at IS NULL OR recovered_at > expired_at + interval '25 hours' + interval '5 s')""",
    """UPDATE cp SET
    clicked0 = CASE WHEN s0 = 'sent' AND u_c0 < CASE WHEN recovered THEN 0.7 ELSE 0.15 END
      THEN LEAST(expired_at + interval '1 hour' + u_c0 * interval '3 hours',
        recovered_at - interval '1 minute', now()) END,
    clicked1 = CASE WHEN s1 = 'sent' AND u_c1 < CASE WHEN recovered THEN 0.6 ELSE 0.08 END
      THEN LEAST(expired_at + interval '25 hours' + u_c1 * interval '3 hours',
        recovered_at - interval '1 minute', now()) END
    WHERE s0 IS NOT NULL""",
    """INSERT INTO recovery_cases (merchant_id, checkout_session_id, status, reason,
    next_action_at, created_at, recovered_session_id, recovered_amount, recovered_currency,
    recovered_at, recovered_step, attempts, expired_at, holdout, emailed_at, clicked_at,
    purchased_at, livemode)
    SELECT %(m)s, sid,
    CASE WHEN recovered THEN 'done' WHEN fate <> 'emailed' THEN 'skipped'
      WHEN recent THEN 'scheduled' ELSE 'done' END,
    CASE WHEN recovered THEN 'recovered' WHEN fate <> 'emailed' THEN fate
      WHEN recent THEN NULL ELSE 'sequence_finished' END,
    CASE WHEN fate = 'emailed' AND recent AND NOT recovered THEN expired_at
      + CASE WHEN s0 IS NULL THEN interval '1 hour' ELSE interval '25 hours' END END,
    expired_at + interval '1 minute',
    CASE WHEN recovered THEN 'cs_live_' || %(tag)s || 'r' || lpad(i::text, 9, '0') END,
    CASE WHEN recovered THEN CASE WHEN u_rec < 0.1 THEN amount_total * 9 / 10
      ELSE amount_total END END,
    CASE WHEN recovered THEN currency END, recovered_at,
    CASE WHEN recovered AND fate = 'emailed' THEN CASE WHEN s1 IS NULL THEN 0 ELSE 1 END END,
    0, expired_at,
    CASE WHEN fate = 'holdout' THEN TRUE
      WHEN fate IN ('emailed', 'frequency_cap', 'recovery_url_expired') THEN FALSE END,
    CASE WHEN s0 = 'sent' THEN expired_at + interval '1 hour 2 seconds'
      WHEN s1 = 'sent' THEN expired_at + interval '25 hours 2 seconds' END,
    LEAST(clicked0, clicked1), recovered_at, fate IS DISTINCT FROM 'test_mode'
    FROM cp ORDER BY i""",
    # The recovering sessions: complete, paid, recovered_from the expired session.
    """INSERT INTO checkout_sessions (merchant_id, session_id, livemode, created_at, expires_at,
    status, payment_status, amount_total, currency, customer, email, customer_name, locale,
    consent_promotions, recovered_from, payment_intent, completed_at, state_at, state_rank)
    SELECT %(m)s, c.recovered_session_id, TRUE, c.recovered_at - interval '6 minutes',
    c.recovered_at + interval '1 day', 'complete', 'paid', c.recovered_amount,
    c.recovered_currency, cp.customer, cp.email, 'Shopper', 'auto', 'opt_in', cp.session_id,
    'pi_' || %(tag)s || 'r' || cp.i, c.recovered_at, c.recovered_at, 1
    FROM cp JOIN recovery_cases c ON c.checkout_session_id = cp.sid
    WHERE cp.recovered ORDER BY c.recovered_at""",
    """INSERT INTO email_sends (merchant_id, case_id, step, to_address, status, message_id,
    attempts, next_attempt_at, last_error, created_at, sent_at, clicked_at)
    SELECT %(m)s, c.id, st.step, cp.email, st.status,
    '<' || c.id || '.' || st.step || '@dashboard-bench.example>',
    CASE WHEN st.status = 'deferred' THEN 3 ELSE 1 END,
    CASE WHEN st.status = 'deferred' THEN st.at + interval '30 minutes' END,
    CASE WHEN st.status = 'bounced' THEN '550 5.1.1 mailbox unavailable'
      WHEN st.status = 'failed' THEN '554 5.7.1 message rejected'
      WHEN st.status = 'deferred' THEN '451 4.7.1 try again later' END,
    st.at, CASE WHEN st.status = 'sent' THEN st.at + interval '2 seconds' END, st.clicked
    FROM cp JOIN recovery_cases c ON c.checkout_session_id = cp.sid
    CROSS JOIN LATERAL (VALUES (0, cp.s0, cp.expired_at + interval '1 hour', cp.clicked0),
      (1, cp.s1, cp.expired_at + interval '25 hours', cp.clicked1)) AS st(step, status, at, clicked)
    WHERE st.status IS NOT NULL ORDER BY st.at""",
    # The consent ledger: every checkout that asked, then unsubscribes from emails (~2.5 %).
    """INSERT INTO consent_changes (merchant_id, email, status, source, source_ref,
    occurred_at, recorded_at)
    SELECT %(m)s, email, CASE WHEN consent_promotions = 'opt_in' THEN 'subscribed'
      ELSE 'unsubscribed' END, 'checkout_session', session_id, state_at, state_at
    FROM checkout_sessions WHERE merchant_id = %(m)s AND email IS NOT NULL
    AND consent_promotions IS NOT NULL ORDER BY state_at""",
    """INSERT INTO consent_changes (merchant_id, email, status, source, source_ref,
    occurred_at, recorded_at)
    SELECT %(m)s, cp.email, 'unsubscribed',
    CASE WHEN u_unsub < 0.0175 THEN 'unsubscribe_link' ELSE 'one_click' END,
    '<' || c.id || '.0@dashboard-bench.example>', t.at, t.at
    FROM cp JOIN recovery_cases c ON c.checkout_session_id = cp.sid
    CROSS JOIN LATERAL (SELECT LEAST(now(), cp.expired_at + interval '1 hour'
      + cp.u_c1 * interval '2 days') AS at) AS t
    WHERE cp.s0 = 'sent' AND cp.u_unsub < 0.025 ORDER BY t.at""",
    """INSERT INTO contacts (merchant_id, email, status, updated_at, source)
    SELECT DISTINCT ON (email) %(m)s, email, status, occurred_at, source
    FROM consent_changes WHERE merchant_id = %(m)s ORDER BY email, occurred_at DESC""",
)
