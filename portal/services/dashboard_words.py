"""The dashboard's comparisons and conclusions in words a merchant reads at a glance."""

from __future__ import annotations

from portal.mail.values import format_money
from portal.services.dashboard_lift import Lift, Verdict


def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 -> "12.3 %"; None -> "—" (no carts to divide by)."""
    return "—" if value is None else f"{value * 100:.{digits}f}\u00a0%"


def share(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage ("—" when `whole` is zero)."""
    return percent(part / whole if whole else None)


def count_change(now: int, before: int, days: int) -> str:
    """How a count moved against the previous period: "Up 12 % on the previous 30 days (340)"."""
    previous = f"the previous {days} days"
    if now == before:
        return f"None in {previous} either" if now == 0 else f"Same as {previous}"
    if before == 0:
        return f"Up from none in {previous}"
    change = (now - before) / before
    if abs(change) < 0.005:
        return f"About the same as {previous} ({before:,})"
    direction = "Up" if change > 0 else "Down"
    return f"{direction} {abs(change) * 100:.0f}\u00a0% on {previous} ({before:,})"


def rate_change(now: float | None, before: float | None, days: int) -> str:
    """How a rate moved, in percentage points: "Up 1.5 points on the previous 30 days (8.0 %)"."""
    previous = f"the previous {days} days"
    if before is None:
        return f"No carts in {previous} to compare with"
    if now is None:
        return f"{percent(before)} in {previous}"
    points = (now - before) * 100
    if abs(points) < 0.05:
        return f"Same as {previous} ({percent(before)})"
    direction = "Up" if points > 0 else "Down"
    return f"{direction} {abs(points):.1f} points on {previous} ({percent(before)})"


def money_change(now: int, before: int, currency: str, days: int) -> str:
    """How a currency's recovered revenue moved (compared within that currency only)."""
    if now == before or before == 0:
        return count_change(now, before, days)
    change = (now - before) / before
    direction = "Up" if change > 0 else "Down"
    return (
        f"{direction} {abs(change) * 100:.0f}\u00a0% on the previous {days} days "
        f"({format_money(before, currency)})"
    )


def points(value: float) -> str:
    """A difference of proportions as signed percentage points: 0.031 -> "+3.1 points"."""
    return f"{value * 100:+.1f} points"


def lift_sentence(lift: Lift) -> str:
    """What the holdout comparison allows one to say, plainly."""
    if lift.verdict == Verdict.TOO_SMALL:
        return (
            "Too few carts yet to tell whether the emails make a difference: the comparison "
            "needs at least 30 carts in each group and some purchases. Pick a longer period, "
            "or wait for more carts."
        )
    low, high = points(lift.low), points(lift.high)
    if lift.verdict == Verdict.UNCLEAR:
        return (
            f"The difference could be anywhere from {low} to {high}: that range includes zero, "
            "so these carts do not show that the emails change how often shoppers buy."
        )
    if lift.verdict == Verdict.HELPS:
        return (
            f"Emailed shoppers bought more often: the true difference is likely between {low} "
            f"and {high} (95 % interval)."
        )
    return (
        f"Emailed shoppers bought less often: the true difference is likely between {low} and "
        f"{high} (95 % interval)."
    )
