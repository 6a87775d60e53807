"""The time zones the settings page offers: each place's current name, grouped by region."""

from __future__ import annotations


from wtforms import SelectChoice

from portal.services import zone_table


def zone_choices(current: str | None = None) -> list[SelectChoice]:
    """UTC first, then each place's current name grouped by region ("America/New York" under
    "America"); old aliases (Asia/Calcutta, US/Eastern, Etc/GMT+5) are not offered, but a stored
    one stays, selected, so that saving the page never changes a merchant's zone."""
    names = set(_place_zones())
    if current and current != "UTC" and current in zone_table.time_zones():
        names.add(current)
    regions = {name.split("/", 1)[0] for name in _place_zones()}
    region = {n: n.split("/", 1)[0] if n.split("/", 1)[0] in regions else "Other" for n in names}
    return [SelectChoice("UTC")] + [
        SelectChoice(name, _label(name, region[name]), optgroup=region[name])
        for name in sorted(names, key=lambda n: (region[n] == "Other", region[n], n))
    ]


def _label(name: str, region: str) -> str:
    """ "New York (Eastern Time)" under America: the place first, as one looks it up."""
    place = name.split("/", 1)[1] if region != "Other" else name
    common = zone_table.common_name(name)
    place = place.replace("_", " ")
    return f"{place} ({common})" if common and common != place else place


def _place_zones() -> frozenset[str]:
    """The current name of every place in the zone database (Asia/Kolkata, Europe/Kyiv)."""
    places = {zone for _, zone in zone_table.places()}
    if not places:  # no zone.tab anywhere: every accepted name
        return zone_table.time_zones() - {"UTC"}
    return frozenset(places & zone_table.time_zones())
