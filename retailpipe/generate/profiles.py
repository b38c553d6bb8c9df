"""Category mix profiles: what kind of retailer the generated chain is."""

from __future__ import annotations

from dataclasses import dataclass

from retailpipe.errors import ConfigError
from retailpipe.schemas import CATEGORIES


@dataclass(frozen=True)
class Profile:
    """Per category: its share of the catalogue (SKUs) and its share of net revenue.

    Both are relative weights over `CATEGORIES`; they are normalised where they are used.
    Units follow from revenue and price: cheap categories sell many more units per dollar.
    """

    name: str
    description: str
    catalogue: dict[str, float]
    revenue: dict[str, float]


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            name="general",
            description="general merchandise: a supermarket aisle plus hardlines and apparel",
            catalogue={
                "grocery": 0.26,
                "beverages": 0.12,
                "household": 0.12,
                "personal_care": 0.11,
                "electronics": 0.08,
                "apparel": 0.13,
                "home": 0.11,
                "toys": 0.07,
            },
            revenue={
                "grocery": 0.24,
                "beverages": 0.10,
                "household": 0.11,
                "personal_care": 0.09,
                "electronics": 0.15,
                "apparel": 0.13,
                "home": 0.11,
                "toys": 0.07,
            },
        ),
        Profile(
            name="grocery",
            description="a grocer: food and drink first, a small non-food range",
            catalogue={
                "grocery": 0.42,
                "beverages": 0.18,
                "household": 0.12,
                "personal_care": 0.10,
                "electronics": 0.03,
                "apparel": 0.04,
                "home": 0.07,
                "toys": 0.04,
            },
            revenue={
                "grocery": 0.46,
                "beverages": 0.19,
                "household": 0.11,
                "personal_care": 0.09,
                "electronics": 0.04,
                "apparel": 0.03,
                "home": 0.05,
                "toys": 0.03,
            },
        ),
    )
}
DEFAULT_PROFILE = "general"


def get_profile(name: str) -> Profile:
    """The profile called `name`; a ConfigError listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown generate profile {name!r}",
            f"choose one of: {', '.join(PROFILES)}",
        ) from None


def _check(profile: Profile) -> None:
    for weights in (profile.catalogue, profile.revenue):
        assert set(weights) == set(CATEGORIES), profile.name
        assert all(w > 0 for w in weights.values()), profile.name


for _profile in PROFILES.values():
    _check(_profile)
