"""The time zones the settings page offers: each place's current name, grouped by region."""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from zoneinfo import TZPATH

from wtforms import SelectChoice

from portal.services import settings


def zone_choices(current: str | None = None) -> list[SelectChoice]:
    """UTC first, then each place's current name grouped by region ("America/New York" under
    "America"); old aliases (Asia/Calcutta, US/Eastern, Etc/GMT+5) are not offered, but a stored
    one stays, selected, so that saving the page never changes a merchant's zone."""
    names = set(_place_zones())
    if current and current != "UTC" and current in settings.time_zones():
        names.add(current)
    regions = {name.split("/", 1)[0] for name in _place_zones()}
    region = {n: n.split("/", 1)[0] if n.split("/", 1)[0] in regions else "Other" for n in names}
    return [SelectChoice("UTC")] + [
        SelectChoice(name, name.replace("_", " "), optgroup=region[name])
        for name in sorted(names, key=lambda n: (region[n] == "Other", region[n], n))
    ]


@cache  # read from disk once, and only when the settings page is first shown
def _place_zones() -> frozenset[str]:
    """The current name of every place in the zone database's zone.tab (Asia/Kolkata,
    Europe/Kyiv), read where ZoneInfo reads zones: this machine's database, then tzdata's."""
    # zone.tab rather than zone1970.tab: a zone per country (Europe/Oslo, not Berlin's for Oslo)
    tables = [Path(folder, "zone.tab") for folder in TZPATH]
    if find_spec("tzdata"):
        tables.append(resources.files("tzdata") / "zoneinfo" / "zone.tab")
    for table in tables:
        if table.is_file():
            rows = [line.split("\t") for line in table.read_text("utf-8").splitlines()]
            places = {row[2] for row in rows if len(row) > 2 and not row[0].startswith("#")}
            return frozenset(places & settings.time_zones())
    return settings.time_zones() - {"UTC"}  # no zone.tab anywhere: every accepted name
