"""The synthetic world: stores, a product catalogue, customers and daily promotions."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from retailpipe.generate.profiles import Profile, get_profile
from retailpipe.schemas import CATEGORIES

CITIES: tuple[tuple[str, str], ...] = (
    ("New York", "Northeast"),
    ("Boston", "Northeast"),
    ("Philadelphia", "Northeast"),
    ("Chicago", "Midwest"),
    ("Detroit", "Midwest"),
    ("Minneapolis", "Midwest"),
    ("Atlanta", "South"),
    ("Miami", "South"),
    ("Dallas", "South"),
    ("Houston", "South"),
    ("Denver", "West"),
    ("Seattle", "West"),
    ("San Francisco", "West"),
    ("Los Angeles", "West"),
    ("Phoenix", "West"),
)
STORE_SIZES: tuple[tuple[str, float], ...] = (
    ("small", 0.5),
    ("medium", 1.0),
    ("large", 1.8),
    ("flagship", 3.0),
)
# (low, high) shelf price in dollars per category.
CATEGORY_PRICES: dict[str, tuple[float, float]] = {
    "grocery": (0.79, 24.99),
    "beverages": (0.99, 39.99),
    "household": (1.49, 49.99),
    "personal_care": (1.99, 59.99),
    "electronics": (9.99, 899.99),
    "apparel": (4.99, 149.99),
    "home": (3.99, 299.99),
    "toys": (2.99, 119.99),
}
# Within a category, unit velocity falls with price (velocity ~ price ** -ELASTICITY), times
# a SKU's own appeal, drawn log-normal: a few SKUs sell far more than the rest. Revenue per
# SKU then rises gently with price and is Pareto-shaped overall.
PRICE_ELASTICITY = 0.65
APPEAL_SIGMA = 1.4
# No single SKU may expect more than this share of revenue (small catalogues get more room).
MAX_SKU_SHARE = 0.023
SQUEEZE_STEPS = 50
BRANDS: tuple[str, ...] = (
    "Acme",
    "Northwind",
    "Bluebird",
    "Evergreen",
    "Summit",
    "Harbor",
    "Maple",
    "Orbit",
    "Pioneer",
    "Riverside",
    "Solstice",
    "Tandem",
)
NOUNS: dict[str, tuple[str, ...]] = {
    "grocery": (
        "Pasta",
        "Rice",
        "Cereal",
        "Bread",
        "Cheese",
        "Coffee",
        "Tea",
        "Soup",
        "Olive Oil",
        "Yogurt",
    ),
    "beverages": ("Sparkling Water", "Cola", "Orange Juice", "Lemonade", "Cold Brew", "Kombucha"),
    "household": ("Detergent", "Paper Towels", "Dish Soap", "Trash Bags", "Sponges", "Light Bulbs"),
    "personal_care": ("Shampoo", "Toothpaste", "Body Wash", "Sunscreen", "Razor", "Lotion"),
    "electronics": ("Headphones", "Charger", "Speaker", "Smartwatch", "Tablet", "Keyboard"),
    "apparel": ("T-Shirt", "Jeans", "Hoodie", "Socks", "Jacket", "Sneakers"),
    "home": ("Lamp", "Pillow", "Towel Set", "Cookware", "Mug Set", "Blanket"),
    "toys": ("Puzzle", "Building Blocks", "Plush Bear", "Board Game", "Toy Car", "Kite"),
}
PROMO_DISCOUNTS_H = np.array([5, 10, 15, 20, 25, 30, 40, 50], dtype=np.int64)  # hundredths
PROMO_SHARE = 0.06


def seeded_rng(seed: int, *labels: object) -> np.random.Generator:
    """An RNG for one labelled stream: the same labels always give the same numbers."""
    digest = hashlib.sha256(repr((seed, *labels)).encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))


def id_width(count: int, minimum: int) -> int:
    return max(minimum, len(str(count)))


@dataclass(frozen=True)
class Stores:
    ids: list[str]
    names: list[str]
    cities: list[str]
    regions: list[str]
    sizes: list[str]
    opened: list[str]
    weight: np.ndarray  # traffic share, sums to 1


@dataclass(frozen=True)
class Products:
    ids: list[str]
    names: list[str]
    categories: list[str]
    brands: list[str]
    price_cents: np.ndarray
    popularity: np.ndarray  # each SKU's share of sale lines; sums to 1


def make_stores(count: int, seed: int) -> Stores:
    """Stores of different sizes across cities and regions."""
    rng = seeded_rng(seed, "stores")
    width = id_width(count, 3)
    size_idx = rng.choice(len(STORE_SIZES), size=count, p=[0.3, 0.4, 0.22, 0.08])
    city_idx = rng.integers(0, len(CITIES), size=count)
    opened_days = rng.integers(365, 365 * 25, size=count)
    weight = np.array([STORE_SIZES[i][1] for i in size_idx]) * rng.uniform(0.8, 1.2, size=count)
    ids = [f"S{i + 1:0{width}d}" for i in range(count)]
    cities = [CITIES[i][0] for i in city_idx]
    return Stores(
        ids=ids,
        names=[f"{cities[i]} {STORE_SIZES[size_idx[i]][0].title()} #{i + 1}" for i in range(count)],
        cities=cities,
        regions=[CITIES[i][1] for i in city_idx],
        sizes=[STORE_SIZES[i][0] for i in size_idx],
        opened=[(dt.date(2026, 1, 1) - dt.timedelta(days=int(d))).isoformat() for d in opened_days],
        weight=weight / weight.sum(),
    )


def make_products(count: int, seed: int, profile: Profile | None = None) -> Products:
    """A catalogue across categories with shelf prices, and how often each SKU sells.

    The profile sets each category's share of SKUs and of revenue; within a category,
    cheaper SKUs sell more units (see PRICE_ELASTICITY).
    """
    profile = profile or get_profile("general")
    rng = seeded_rng(seed, "products")
    width = id_width(count, 5)
    shares = np.array([profile.catalogue[c] for c in CATEGORIES])
    cat_idx = rng.choice(len(CATEGORIES), size=count, p=shares / shares.sum())
    low = np.array([CATEGORY_PRICES[CATEGORIES[c]][0] for c in cat_idx])
    high = np.array([CATEGORY_PRICES[CATEGORIES[c]][1] for c in cat_idx])
    # Log-uniform prices, ending in .x9 like shelf prices.
    dollars = np.exp(rng.uniform(np.log(low), np.log(high)))
    cents = np.maximum(np.floor(dollars * 10).astype(np.int64) * 10 + 9, 9)
    appeal = rng.lognormal(0.0, APPEAL_SIGMA, size=count)
    brand_idx = rng.integers(0, len(BRANDS), size=count)
    names = []
    for i in range(count):
        category = CATEGORIES[cat_idx[i]]
        nouns = NOUNS[category]
        names.append(f"{BRANDS[brand_idx[i]]} {nouns[i % len(nouns)]} {i + 1}")
    revenue = _revenue_shares(cat_idx, cents, appeal, profile)
    # A sale line's expected revenue is proportional to its price (quantities do not depend
    # on the SKU), so a SKU's share of lines is its revenue share over its price.
    lines = revenue / cents
    return Products(
        ids=[f"P{i + 1:0{width}d}" for i in range(count)],
        names=names,
        categories=[CATEGORIES[c] for c in cat_idx],
        brands=[BRANDS[b] for b in brand_idx],
        price_cents=cents,
        popularity=lines / lines.sum(),
    )


def _revenue_shares(
    cat_idx: np.ndarray, cents: np.ndarray, appeal: np.ndarray, profile: Profile
) -> np.ndarray:
    """Each SKU's expected share of revenue: its category's share from the profile, split
    by velocity x price within the category, no SKU above the cap."""
    velocity = appeal * (cents / 100.0) ** -PRICE_ELASTICITY
    weight = velocity * cents
    present = np.unique(cat_idx)
    target = np.array([profile.revenue[CATEGORIES[c]] for c in present])
    target = target / target.sum()
    cap = max(MAX_SKU_SHARE, 2.0 / len(cents))
    out = np.zeros(len(cents))
    for c, share in zip(present, target, strict=True):
        members = np.flatnonzero(cat_idx == c)
        out[members] = _capped(share * weight[members] / weight[members].sum(), cap)
    return out


def _capped(shares: np.ndarray, cap: float) -> np.ndarray:
    """`shares` squeezed below `cap` without changing their sum or order.

    The squeeze, cap x tanh(a x share / cap), leaves small shares nearly proportional and
    bends large ones towards the cap, so the best sellers stay distinct instead of forming
    a plateau at a hard limit; `a` (>= 1) is found by bisection so that the sum holds.
    Equal shares when the cap cannot hold.
    """
    total = shares.sum()
    if total >= cap * len(shares) * 0.9:
        return np.full(len(shares), total / len(shares))
    low, high = 1.0, 2.0
    while (cap * np.tanh(high * shares / cap)).sum() < total:
        high *= 2
    for _ in range(SQUEEZE_STEPS):
        middle = (low + high) / 2
        if (cap * np.tanh(middle * shares / cap)).sum() < total:
            low = middle
        else:
            high = middle
    return cap * np.tanh(high * shares / cap)


@functools.lru_cache(maxsize=64)
def promotions(day: dt.date, n_products: int, seed: int) -> np.ndarray:
    """Discount (hundredths) per product on `day`; 0 for products not on promotion.

    Cached: returns look up the promotions of earlier days. Callers must not modify it.
    """
    rng = seeded_rng(seed, "promo", day.toordinal())
    discount = np.zeros(n_products, dtype=np.int64)
    share = PROMO_SHARE * (2.5 if _is_black_friday_week(day) else 1.0)
    chosen = rng.random(n_products) < share
    discount[chosen] = rng.choice(PROMO_DISCOUNTS_H, size=int(chosen.sum()))
    discount.flags.writeable = False
    return discount


def _is_black_friday_week(day: dt.date) -> bool:
    if day.month != 11:
        return False
    first = dt.date(day.year, 11, 1)
    fourth_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7 + 21)
    return fourth_thursday <= day <= fourth_thursday + dt.timedelta(days=4)


WEEKDAY_FACTOR = np.array([0.86, 0.88, 0.92, 0.98, 1.12, 1.30, 1.05])
MONTH_FACTOR = np.array([0.85, 0.88, 0.95, 0.97, 1.0, 1.02, 1.0, 1.03, 0.98, 1.0, 1.08, 1.25])


def day_factor(day: dt.date) -> float:
    """Relative trading volume of a day: weekday, month and holiday effects."""
    factor = WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month - 1]
    if _is_black_friday_week(day):
        factor *= 1.6
    if day.month == 12 and day.day <= 24:
        factor *= 1.0 + day.day / 48
    return float(factor / 1.05)


OPEN_HOUR, CLOSE_HOUR = 8, 22
_WEEKDAY_HOURS = np.array([2, 3, 5, 6, 9, 11, 8, 6, 7, 10, 12, 10, 7, 4], dtype=float)
_WEEKEND_HOURS = np.array([2, 4, 6, 9, 11, 12, 12, 11, 10, 9, 8, 6, 4, 3], dtype=float)


def hour_weights(day: dt.date) -> np.ndarray:
    """Share of receipts per trading hour (08:00-21:59): lunch and after-work peaks."""
    weights = _WEEKEND_HOURS if day.weekday() >= 5 else _WEEKDAY_HOURS
    return weights / weights.sum()
