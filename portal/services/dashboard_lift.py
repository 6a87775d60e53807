"""The holdout comparison: how much more often the emailed group bought than the held-out group,
with a 95 % interval for the difference (Newcombe's hybrid score interval, method 10 of
Newcombe 1998, built from two Wilson score intervals: honest with small samples and with rates
near 0 %, where the textbook interval is not)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from math import sqrt

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95 % interval
# Fewer carts than this in either group, or no purchase in either: too little to conclude
# anything, whatever the interval says.
MIN_GROUP = 30


class Verdict(StrEnum):
    TOO_SMALL = "too_small"  # too few carts or purchases to conclude
    UNCLEAR = "unclear"  # the interval includes zero: no difference shown either way
    HELPS = "helps"  # the emailed group bought more, the whole interval above zero
    HURTS = "hurts"  # the emailed group bought less, the whole interval below zero


@dataclass(frozen=True)
class Lift:
    """Purchase rates of both groups (None without carts), their difference in proportion
    points (emailed minus held out) and its 95 % interval (None until both groups have carts)."""

    emailed_bought: int
    emailed: int
    held_out_bought: int
    held_out: int
    emailed_rate: float | None
    held_out_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    verdict: Verdict


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (trials > 0)."""
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 (both n > 0)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    difference = p1 - p2
    low = difference - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def lift(emailed_bought: int, emailed: int, held_out_bought: int, held_out: int) -> Lift:
    """The comparison of the two groups, with what may honestly be concluded from it."""
    rate1 = emailed_bought / emailed if emailed else None
    rate2 = held_out_bought / held_out if held_out else None
    if rate1 is None or rate2 is None:
        low = high = difference = None
    else:
        difference = rate1 - rate2
        low, high = newcombe(emailed_bought, emailed, held_out_bought, held_out)
    return Lift(
        emailed_bought,
        emailed,
        held_out_bought,
        held_out,
        rate1,
        rate2,
        difference,
        low,
        high,
        _verdict(emailed_bought + held_out_bought, min(emailed, held_out), low, high),
    )


def _verdict(purchases: int, smaller: int, low: float | None, high: float | None) -> Verdict:
    if low is None or high is None or smaller < MIN_GROUP or purchases == 0:
        return Verdict.TOO_SMALL
    if low > 0:
        return Verdict.HELPS
    if high < 0:
        return Verdict.HURTS
    return Verdict.UNCLEAR
