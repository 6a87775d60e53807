"""What bench/delivery.py checks and prints once both sides have run: the database's and the
sinks' counts, the workers' profile, the human lines and the result object.

Not a benchmark itself (`make bench` skips the `_` files): delivery.py uses it.
"""

from __future__ import annotations

import _cli as cli
from _delivery_phases import Phase

TARGET_RATIO = 0.4  # with the sandbox answering at once (--stripe-latency-ms 0)


def slope_per_1000(samples: list[tuple[int, float]], every: int) -> float | None:
    """Least-squares growth of RSS in MB per 1000 emails, over the samples taken every `every`
    emails after the first (the first batch warms caches up); None with fewer than two."""
    points = [(n, mb) for n, mb in samples if n >= every and n % every == 0]
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var * 1000


def check(
    database_url: str, emails: list[str], portal: Phase, baseline: Phase, signed: Phase | None
) -> dict:
    """What the database and the sinks hold, and whether it is what it should be (with
    --dkim: every signed-round email signed, no unsigned-round email signed)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        sends = dict(
            conn.execute("SELECT status, count(*) FROM email_sends GROUP BY 1").fetchall()
        )
        cases = dict(
            conn.execute(
                "SELECT coalesce(reason, status), count(*) FROM recovery_cases GROUP BY 1"
            ).fetchall()
        )
    n, expected = len(emails), set(emails)
    sent = portal.received + (signed.received if signed else 0)
    recipients = portal.recipients | (signed.recipients if signed else set())
    facts = {
        "sends": sends,
        "cases": cases,
        "portal_received": sent,
        "baseline_received": baseline.received,
        "portal_recipients_ok": recipients == expected,
        "signing_ok": portal.signed == 0 and (signed is None or signed.signed == signed.received),
        "baseline_recipients_ok": baseline.recipients == expected,
    }
    facts["ok"] = (
        sent == baseline.received == n
        and facts["signing_ok"]
        and sends == {"sent": n}
        and facts["portal_recipients_ok"]
        and facts["baseline_recipients_ok"]
    )
    return facts


def print_profile(paths: list[str], cases: int, lines: int) -> None:
    """Where the workers' time went (their profiles added up): portal/ functions, then the I/O
    layers, by cumulative time, then the top own-time entries overall."""
    import io
    import pstats

    stats = pstats.Stats(*paths, stream=io.StringIO())
    total = stats.total_tt
    print(
        f"\n--- cProfile of the timed loop: {total:.2f} s profiled for {cases} cases = "
        f"{total / max(cases, 1) * 1000:.2f} ms per case (profiling overhead included)"
    )
    tables = (
        ("cumulative", r"/portal/", "portal/ functions by cumulative time"),
        (
            "cumulative",
            r"stripe/_|requests/|urllib3/|http/client|smtplib|socket|sqlalchemy/"
            r"engine/base|psycopg/|email/|jinja2/|ssl",
            "I/O, SDK and library layers by cumulative time",
        ),
        ("tottime", None, "own time, everything"),
    )
    for sort, pattern, title in tables:
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats(sort)
        stats.print_stats(*((pattern, lines) if pattern else (25,)))
        body = out.getvalue().split("\n", 1)[-1]
        print(
            f"\n--- {title}\n"
            + "\n".join(
                line for line in body.splitlines() if line.strip() and "function calls" not in line
            )
        )


def print_portal(args, portal: Phase) -> dict:
    """Print the portal side's lines; its CPU ms per email."""
    busy = portal.seconds * args.workers  # worker-seconds in the timed phase
    per_call = portal.stripe_seconds / max(portal.stripe_calls, 1) * 1000
    print(
        f"portal  : {portal.received} emails in {portal.seconds:.2f} s = {portal.per_s:.1f} emails/s "
        f"with {args.workers} worker process(es) = {portal.per_s / args.workers:.1f} emails/s per "
        f"worker process ({busy / max(portal.received, 1) * 1000:.2f} worker-ms each); "
        f"outcomes {portal.outcomes}"
    )
    print(
        f"  the Stripe re-check + line items over HTTP (sandbox time included, each call answered "
        f"{args.stripe_latency_ms} ms late): {portal.stripe_calls} calls, {per_call:.2f} ms each, "
        f"{portal.stripe_seconds / busy if busy else 0.0:.0%} of the workers' time"
    )
    per_email = {
        name: round(sec / max(portal.received, 1) * 1000, 2) for name, sec in portal.cpu.items()
    }
    print(
        f"  CPU ms per email: {per_email} (2 cores: {2000 / max(sum(per_email.values()), 0.01):.0f}"
        f" emails/s if nothing else ran)"
    )
    return per_email


def report(args, portal: Phase, baseline: Phase, facts: dict, setup_s: float) -> dict:
    """Print the human lines; return the result object."""
    ratio = portal.per_s / baseline.per_s if baseline.per_s else 0.0
    slope = slope_per_1000(portal.samples, args.sample_every)
    print(
        f"setup (not timed): {args.emails} expired sandbox sessions + due cases in {setup_s:.1f} s"
    )
    per_email = print_portal(args, portal)
    rounds = print_baseline(portal, baseline, ratio)
    print_memory(portal, slope)
    print(
        f"send rows {facts['sends']}; cases {facts['cases']}; recipients match: portal "
        f"{facts['portal_recipients_ok']}, baseline {facts['baseline_recipients_ok']}; "
        f"checks {cli.verdict(facts['ok'])}"
    )
    figures = {"ratio": ratio, "rounds": rounds, "per_email": per_email, "slope": slope}
    return result(args, portal, baseline, figures, facts["ok"])


def print_baseline(portal: Phase, baseline: Phase, ratio: float) -> list:
    """Print the baseline's line and the ratio's; the emails/s of each round, [portal, baseline]."""
    print(
        f"baseline: {baseline.received} emails in {baseline.seconds:.2f} s = {baseline.per_s:.1f} "
        f"emails/s over {baseline.outcomes.get('connections')} connection(s)"
    )
    rounds = [
        [round(p / ps, 1) if ps else 0.0, round(b / bs, 1) if bs else 0.0]
        for (p, ps), (b, bs) in zip(portal.rounds, baseline.rounds)
    ]
    print(
        f"ratio portal/baseline: {ratio:.3f} (target >= {TARGET_RATIO} at 0 ms); per round, "
        f"emails/s portal vs baseline: " + ", ".join(f"{p} vs {b}" for p, b in rounds)
    )
    return rounds


def print_memory(portal: Phase, slope: float | None) -> None:
    """Print the workers' RSS samples, the largest one's peak and the growth per 1000 emails."""
    print(
        "VmRSS during the timed loop (emails: MB): "
        + ", ".join(f"{n}: {mb:.1f}" for n, mb in portal.samples)
    )
    print(
        f"largest worker's peak RSS {portal.worker_peak:.1f} MB; slope "
        f"{'n/a' if slope is None else f'{slope:+.3f}'} MB per 1000 emails (VmHWM; target: flat, "
        f"< 200 MB at 100k)"
    )


def result(args, portal: Phase, baseline: Phase, figures: dict, ok: bool) -> dict:
    """The result object, from the phases and report()'s `figures` (ratio, rounds, per_email,
    slope)."""
    busy = portal.seconds * args.workers
    samples, slope = portal.samples, figures["slope"]
    return {
        "emails_per_s": round(portal.per_s, 1),
        "emails_per_s_per_worker": round(portal.per_s / args.workers, 1),
        "baseline_per_s": round(baseline.per_s, 1),
        "ratio": round(figures["ratio"], 3),
        "stripe_latency_ms": args.stripe_latency_ms,
        "peak_rss_mb": round(portal.worker_peak, 1),
        "emails": args.emails,
        "workers": args.workers,
        "rounds": figures["rounds"],
        "seconds": round(portal.seconds, 3),
        "stripe_ms_per_call": round(portal.stripe_seconds / max(portal.stripe_calls, 1) * 1000, 2),
        "stripe_share": round(portal.stripe_seconds / busy, 3) if busy else 0.0,
        "cpu_ms_per_email": figures["per_email"],
        "baseline_seconds": round(baseline.seconds, 3),
        "rss_start_mb": round(samples[0][1], 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "rss_slope_mb_per_1000": None if slope is None else round(slope, 3),
        "rss_samples": [[n, round(mb, 1)] for n, mb in samples],
        "profiled": args.profile,
        "checks_ok": ok,
    }


def signed_figures(portal: Phase, signed: Phase) -> dict:
    """The signed rounds beside the unsigned ones of the same run (printed and returned)."""
    ratio = signed.per_s / portal.per_s if portal.per_s else 0.0
    print(
        f"DKIM: {signed.received} emails signed From the merchant's domain in {signed.seconds:.2f}"
        f" s = {signed.per_s:.1f} emails/s vs {portal.per_s:.1f}/s unsigned in the same run: "
        f"signed/unsigned {ratio:.3f} (target >= 0.8); per round "
        + ", ".join(f"{n / s:.1f}" for n, s in signed.rounds if s)
    )
    return {"signed_emails_per_s": round(signed.per_s, 1), "signed_ratio": round(ratio, 3)}
