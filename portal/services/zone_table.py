"""The zone database's table of places (zone.tab): the time zones of each country, by their
current names, read where ZoneInfo reads zones (this machine's database, then tzdata's)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from functools import cache, lru_cache
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import get_timezone, get_timezone_name


@cache  # read from disk once, when first needed
def places() -> tuple[tuple[str, str], ...]:
    """(country code, zone name) for each place: ("DE", "Europe/Berlin"), ("US",
    "America/New_York")...; () where no zone.tab is found."""
    # zone.tab rather than zone1970.tab: a zone per country (Europe/Oslo, not Berlin's for Oslo)
    tables = [Path(folder, "zone.tab") for folder in TZPATH]
    if find_spec("tzdata"):
        tables.append(resources.files("tzdata") / "zoneinfo" / "zone.tab")
    for table in tables:
        if table.is_file():
            rows = [line.split("\t") for line in table.read_text("utf-8").splitlines()]
            return tuple((r[0], r[2]) for r in rows if len(r) > 2 and not r[0].startswith("#"))
    return ()


@cache
def _by_country() -> dict[str, tuple[str, ...]]:
    zones = defaultdict(list)
    for country, zone in places():
        zones[country].append(zone)
    return {country: tuple(names) for country, names in zones.items()}


def country_zone(country: str | None) -> str | None:
    """The time a country keeps, when it keeps one: its first zone (Germany: Europe/Berlin,
    though Busingen is listed too), when all of its zones keep the same clock through the year;
    None for a country with several clocks (the US, Australia, Spain with the Canaries), or
    one not known."""
    zones = _by_country().get((country or "").upper(), ())
    if not zones:
        return None
    return zones[0] if len({_clock(zone) for zone in zones}) == 1 else None


@cache
def _clock(zone: str) -> tuple:
    """A zone's offsets from UTC across a year (each season), to tell its clock from another's."""
    moments = [datetime(2026, month, 15, 12, tzinfo=timezone.utc) for month in (1, 4, 7, 10)]
    return tuple(moment.astimezone(ZoneInfo(zone)).utcoffset() for moment in moments)


@cache  # reads the zone database from disk: once per process, and only when asked
def time_zones() -> frozenset[str]:
    """The IANA zone names the settings accept: none of those that name no place at all."""
    return frozenset(available_timezones()) - {"localtime", "Factory", "posixrules"}


def zone(name: str | None) -> ZoneInfo:
    """The named time zone; UTC for a name this machine does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=1024)
def common_name(name: str) -> str | None:
    """The name people give a zone's time ("Pacific Time"), or None for a zone of no place
    (UTC, Etc/GMT+5) or one the locale data has no common name for."""
    if "/" not in name or name.startswith("Etc/"):
        return None
    try:
        common = get_timezone_name(get_timezone(name), locale="en_US")
    except LookupError:
        return None
    if not common[:1].isupper() or "(" in common or common.startswith("Unknown"):
        return None  # babel's fallbacks: "Unknown Region (…) Time", "world (…) Time"
    return common


def in_words(name: str) -> str:
    """A time zone as people name it, with its place: "Pacific Time (Los Angeles)", "Central
    European Time (Berlin)"; a zone of no place or no common name keeps its own name, words
    spaced ("UTC", "Etc/GMT+5")."""
    common, place = common_name(name), name.rsplit("/", 1)[-1].replace("_", " ")
    if common is None:
        return name.replace("_", " ")
    return common if place in common else f"{common} ({place})"
