"""Dashboard and payments: the signed-in pages' latency over real HTTP on a year of one merchant.

Setup (not timed): a fresh PostgreSQL database (`--database`, default bench_dashboard, dropped
at the end unless `--keep`), migrated, holding one merchant with `--sessions` checkout sessions
over the last 365 days (recovering sessions included) and `--recoveries` recovered cases, plus a
small second merchant (2,000 sessions) for realism: about 70 % of the sessions expired, each with
a recovery case whose reason follows the rules (no_consent, no_email, later_session, holdout near
10 % of the eligible, frequency_cap... or emailed: one or two emails, mostly sent, some bounced,
failed or deferred, a share clicked), the recovered ones with their complete, paid recovering
session (`recovered_from` the expired session; usd, some eur and gbp), the consent ledger with
unsubscribes (unsubscribe_link, one_click) and the contacts; then VACUUM ANALYZE. See
bench/_dashboard_seed.py. Users log in with the password the portal's own code hashed.

Timed: the portal served for real as the Procfile serves it (gunicorn, 2 workers x 16 threads,
access log on) with production settings (PORTAL_ENV=production, SECRET_KEY, ENCRYPTION_KEY,
PUBLIC_URL; DATABASE_URL the bench database; REDIS_URL redis://127.0.0.1:6379/12), on a free
loopback port. The client logs in as the merchant's owner (GET /login, its csrf_token, POST),
then over one keep-alive connection, after `--warmup` rounds, takes `--requests` rounds of one
request to each page in turn:
- `dashboard`: GET /dashboard/ (its default period);
- `payments_first`: GET /payments/;
- `payments_deep`: GET /payments/?before=<id>, the recovered case at position `--position`
  (default 50,000, at most half the recoveries) in the list's order (recovered_at desc, id desc);
- `session`: GET /carts/<id> of a recovered case that was emailed twice;
- `baseline`: GET /_bench/ping, a `login_required` view answering a short word, on a blueprint
  the bench adds to the same app in the same gunicorn (`dashboard:served_app()`): what
  the server, Flask, the session cookie and loading the signed-in user cost on their own.
Each answer must be 200 and hold its words, or the run stops: "Recovered revenue" (dashboard),
"Recovered" and a link to the first payment the list should show (payments pages), "Recovered
payment" (the cart), the baseline's word.
The session cookie is Secure (production): the client sends it back itself over plain HTTP.
The last line printed is one JSON object. Target (issue 18): p95 < 100 ms for every page.
The defaults take about 3 minutes (seeding about 110 s); `--sessions 100000 --recoveries
10000` about one minute.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import _common as common  # noqa: E402  (first: it keeps bench/csv.py from shadowing csv)
import _cli as cli  # noqa: E402
import _dashboard_seed as seeding  # noqa: E402

REDIS_URL = os.environ.get("BENCH_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/12")
TARGET_P95_MS = 100.0
# The words each page must hold (`--no-content-check` only while trying the bench against
# unfinished pages); pages() adds the link each payments page must list.
EXPECT = {
    "dashboard": ("Recovered revenue",),
    "payments_first": ("Recovered",),
    "payments_deep": ("Recovered",),
    "session": ("Recovered payment",),
    "baseline": ("bench-ok",),
}
BASELINE_PATH = "/_bench/ping"


OPTIONS = (
    cli.option("--sessions", 1_000_000, "the measured merchant's sessions"),
    cli.option("--recoveries", 100_000, "its recovered cases"),
    cli.option("--requests", 100, "measured requests per page"),
    cli.option("--warmup", 10, "warm-up requests per page"),
    cli.option("--position", 50_000, "payments_deep: the cursor's position"),
    cli.option("--database", "bench_dashboard", "the bench database's name"),
    cli.flag("--keep", "keep the database at the end"),
    cli.flag("--reuse", "measure a database kept by --keep (no seeding)"),
    cli.option("--workers", 2, "gunicorn workers (the Procfile's)"),
    cli.option("--threads", 16, "gunicorn threads per worker (the Procfile's)"),
    cli.flag("--no-content-check", "accept any 200 (testing stubs only)"),
)


def parse_args(argv=None) -> argparse.Namespace:
    """The options given."""
    epilog = (
        "PostgreSQL: BENCH_PG_URL (maintenance database, default "
        "postgresql://postgres@127.0.0.1:5432/postgres); Redis: BENCH_DASHBOARD_REDIS_URL "
        f"(default {REDIS_URL})."
    )
    return cli.parser(__doc__, OPTIONS, epilog).parse_args(argv)


# --- the app gunicorn serves ----------------------------------------------------------------


def served_app():
    """The portal from the environment, as wsgi.py builds it, plus the baseline's blueprint."""
    from flask import Blueprint
    from flask_login import login_required

    from portal import create_app

    bp = Blueprint("bench_baseline", __name__)

    @bp.route(BASELINE_PATH)
    @login_required
    def ping():
        return EXPECT["baseline"][0]

    app = create_app()
    app.register_blueprint(bp)
    return app


def database_url(name: str) -> str:
    return f"{common.PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


# --- the client -----------------------------------------------------------------------------


class Client:
    """One keep-alive connection (requests if installed, else http.client) that keeps the
    cookies itself: the portal's are Secure, which a cookie jar never sends over plain HTTP."""

    def __init__(self, port: int):
        self.base, self.cookies = f"http://127.0.0.1:{port}", {}
        try:
            import requests

            self.http, self.conn = requests.Session(), None
        except ImportError:
            import http.client

            self.http, self.conn = None, http.client.HTTPConnection("127.0.0.1", port)

    def send(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, float]:
        """(status, body, seconds until the whole body arrived). Redirects are not followed."""
        from urllib.parse import urlencode

        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        began = time.perf_counter()
        if self.http is not None:
            resp = self.http.request(
                method, self.base + path, data=body, headers=headers, allow_redirects=False
            )
            status, text, cookies = resp.status_code, resp.text, resp.raw.headers.getlist
        else:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            status, text, cookies = resp.status, resp.read().decode(), resp.headers.get_all
        seconds = time.perf_counter() - began
        for header in cookies("Set-Cookie") or ():
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return status, text, seconds

    def log_in(self, email: str, password: str) -> None:
        status, page, _ = self.send("GET", "/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if status != 200 or token is None:
            raise RuntimeError(f"GET /login: {status}, csrf_token found: {token is not None}")
        form = {"email": email, "password": password, "csrf_token": token.group(1)}
        status, page, _ = self.send("POST", "/login", form)
        if status != 302:
            raise RuntimeError(f"POST /login: {status} {page[:300]!r}")


# --- measuring ------------------------------------------------------------------------------


def pages(t: dict) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each page's path and the strings its answer must hold: a payments page must link to the
    payment its list starts with (the newest one; the one just older than the cursor)."""
    return {
        "dashboard": ("/dashboard/", EXPECT["dashboard"]),
        "payments_first": ("/payments/", (*EXPECT["payments_first"], f"/payments/{t['newest']}")),
        "payments_deep": (
            f"/payments/?before={t['deep']}",
            (*EXPECT["payments_deep"], f"/payments/{t['after_deep']}"),
        ),
        "session": (f"/carts/{t['emailed']}", EXPECT["session"]),
        "baseline": (BASELINE_PATH, EXPECT["baseline"]),
    }


def measure(client: Client, paths: dict, args) -> dict[str, list[float]]:
    """Warm-up rounds, then `--requests` rounds of one request per page in turn; the seconds
    of each measured request, by page. RuntimeError on any answer but 200 with its word."""
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for round_no in range(args.warmup + args.requests):
        for name, (path, words) in paths.items():
            status, body, took = client.send("GET", path)
            missing = [] if args.no_content_check else [w for w in words if w not in body]
            if status != 200 or missing:
                raise RuntimeError(
                    f"{name} GET {path}: {status}, missing {missing}; "
                    f"{len(body)} chars: {body[:200]!r}"
                )
            if round_no >= args.warmup:
                seconds[name].append(took)
    return seconds


def serve_and_measure(args, env: dict, t: dict, logdir: Path) -> dict[str, list[float]]:
    port, log = common.free_port(), logdir / "gunicorn.log"
    command = [str(common.VENV_BIN / "gunicorn"), "--no-control-socket"]
    command += ["--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(args.workers), "--threads", str(args.threads)]
    # The bench's own modules import each other by their plain names, as when run as a script.
    command += ["--pythonpath", str(common.REPO / "bench")]
    command += ["--access-logfile", "-", "dashboard:served_app()"]
    proc = common.start(command, env, log)
    try:
        common.wait_for_port(port, proc)
        client = Client(port)
        client.log_in(seeding.EMAILS[0], seeding.PASSWORD)
        return measure(client, pages(t), args)
    except BaseException:
        cli.show_tail(log, "gunicorn")
        raise
    finally:
        common.stop(proc)


def report(t: dict, seconds: dict[str, list[float]]) -> dict:
    figures = {}
    for name, values in seconds.items():
        ordered = sorted(values)
        p50, p95 = (round(common.percentile(ordered, p) * 1000, 2) for p in (50, 95))
        figures[name] = {"p50_ms": p50, "p95_ms": p95}
        print(f"{name:15s} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   ({len(values)} requests)")
    baseline = figures.pop("baseline")["p95_ms"]
    worst = max(f["p95_ms"] for f in figures.values())
    verdict = "met" if worst < TARGET_P95_MS else "NOT met"
    print(f"target: p95 < {TARGET_P95_MS:.0f} ms for every page: {verdict} (max {worst} ms)")
    return {
        "sessions": t["sessions"],
        "recoveries": t["recoveries"],
        "pages": figures,
        "max_p95_ms": worst,
        "baseline_p95_ms": baseline,
        "ratio": round(worst / baseline, 2) if baseline else None,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    url = database_url(args.database)
    env = {**common.portal_env(url), "REDIS_URL": REDIS_URL}
    try:
        if not args.reuse:
            seeding.prepare(env, args.database, args.sessions, args.recoveries)
        t = seeding.targets(url, args.position)
        print(
            f"merchant {t['merchant']}: {t['sessions']} sessions, {t['recoveries']} recovered; "
            f"payments_deep before case {t['deep']} (position {t['position']}, next "
            f"{t['after_deep']}), "
            f"session: case {t['emailed']}",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as logdir:
            seconds = serve_and_measure(args, env, t, Path(logdir))
        result = report(t, seconds)
    finally:
        if not args.keep:
            common._admin(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
