"""One business day of receipts: vectorised with numpy, formatted and written by pyarrow."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retailpipe.generate.dimensions import (
    OPEN_HOUR,
    Products,
    Stores,
    day_factor,
    hour_weights,
    promotions,
    seeded_rng,
)
from retailpipe.schemas import PAYMENT_METHODS, RAW_COLUMNS

PAYMENT_SHARE = np.array([0.55, 0.18, 0.22, 0.05])  # card, cash, mobile, gift_card
LOYALTY_SHARE = 0.42
RETURN_RECEIPT_SHARE = 0.015
MEAN_EXTRA_LINES = 1.6
QUANTITIES = np.array([1, 2, 3, 4, 5, 6])
QUANTITY_SHARE = np.array([0.68, 0.18, 0.07, 0.04, 0.02, 0.01])
# Where each raw column sits in a CSV line: defects edit fields by name.
FIELD = {name: i for i, name in enumerate(RAW_COLUMNS)}
TIMESTAMP, QUANTITY, UNIT_PRICE = FIELD["timestamp"], FIELD["quantity"], FIELD["unit_price"]
DEFECT_KINDS = ("malformed_row", "bad_number", "bad_timestamp", "negative_price", "zero_quantity")


@dataclass(frozen=True)
class World:
    """Everything a day needs besides its date: parameters and dimensions."""

    seed: int
    rows_per_day: int
    timezone: str
    stores: Stores
    products: Products
    customers: int
    bad_row_rate: float = 0.0
    duplicate_rate: float = 0.0
    late_rate: float = 0.0

    @functools.cached_property
    def texts(self) -> _Texts:
        """The dimension values as text, built on first use and kept as long as the world."""
        return _Texts.of(self)


@dataclass
class DayResult:
    """What the manifest records for one file."""

    date: str
    file: str
    rows: int
    defects: list[dict[str, object]] = field(default_factory=list)
    # per sale date: [valid unique lines, net cents, units]
    by_sale_date: dict[str, list[int]] = field(default_factory=dict)


SMALL_INT_OFFSET = 10  # quantities down to -10 index the small-int table at +10


@dataclass(frozen=True)
class _Texts:
    """The string forms of a world's dimension values, built once per process."""

    stores: pa.Array
    product_category: pa.Array  # "P00001,grocery": the two columns side by side
    prices: pa.Array
    customers: pa.Array  # index 0 is the anonymous customer: ""
    payments: pa.Array

    @classmethod
    def of(cls, world: World) -> _Texts:
        cents = world.products.price_cents.tolist()
        width = max(6, len(str(world.customers)))
        return cls(
            stores=pa.array(world.stores.ids),
            product_category=pa.array(
                [
                    f"{p},{c}"
                    for p, c in zip(world.products.ids, world.products.categories, strict=True)
                ]
            ),
            prices=pa.array([f"{c // 100}.{c % 100:02d}" for c in cents]),
            customers=pa.array(["", *(f"C{i:0{width}d}" for i in range(1, world.customers + 1))]),
            payments=pa.array(PAYMENT_METHODS),
        )


def _padded(values: np.ndarray, width: int) -> pa.Array:
    """Non-negative integers as zero-padded decimal strings."""
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width, "0")


@functools.cache
def _counter(size: int) -> pa.Array:
    """'000001', '000002', ...: `size` receipt sequence numbers (a power of two, so that a
    process builds few of these); past 999,999 they have seven digits."""
    return _padded(np.arange(1, size + 1, dtype=np.int64), 6)


def _receipt_numbers(n: int) -> pa.Array:
    return _counter(1 << max(n - 1, 1).bit_length()).slice(0, n)


@functools.cache
def _small_ints() -> pa.Array:
    """'-10' ... '99' indexed by value + SMALL_INT_OFFSET."""
    return pa.array(
        [str(i - SMALL_INT_OFFSET) for i in range(SMALL_INT_OFFSET)] + [str(i) for i in range(100)]
    )


@functools.cache
def _rates() -> pa.Array:
    """'0.00' ... '0.99' indexed by hundredths."""
    return pa.array([f"0.{h:02d}" for h in range(100)])


@functools.cache
def _clock() -> pa.Array:
    """'HH:MM:SS' for every second of a day, built once per process."""
    second = np.arange(86400)
    return pc.binary_join_element_wise(
        _padded(second // 3600, 2), _padded(second // 60 % 60, 2), _padded(second % 60, 2), ":"
    )


def _offsets(day: dt.date, timezone: str) -> list[str]:
    """The UTC offset string ('-05:00') of each local hour of `day`."""
    zone = ZoneInfo(timezone)
    out = []
    for hour in range(24):
        delta = dt.datetime(day.year, day.month, day.day, hour, tzinfo=zone).utcoffset()
        minutes = int(delta.total_seconds() // 60) if delta else 0
        sign = "+" if minutes >= 0 else "-"
        out.append(f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}")
    return out


def _money(cents: np.ndarray) -> pa.Array:
    """Cents -> '12.34' strings (non-negative input)."""
    dollars = pc.cast(pa.array(cents // 100), pa.string())
    rest = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(dollars, rest, ".")


def _draw(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to `weights` (rng.choice without its checks)."""
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right"), len(cdf) - 1)


def round_half_up_div(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """numerator / denominator rounded half away from zero, in exact integer arithmetic."""
    magnitude = (np.abs(numerator) * 2 + denominator) // (2 * denominator)
    return np.sign(numerator) * magnitude


def build_day(world: World, day: dt.date, n_lines: int) -> tuple[DayRows, dict[str, np.ndarray]]:
    """The day's clean CSV lines, plus the numeric columns the manifest needs."""
    rng = seeded_rng(world.seed, "day", day.toordinal())

    expected = int(n_lines / (1 + MEAN_EXTRA_LINES) * 1.1) + 16
    sizes = 1 + np.minimum(rng.poisson(MEAN_EXTRA_LINES, size=expected), 11)
    while sizes.sum() < n_lines:  # rare: a day with unusually small baskets
        sizes = np.concatenate([sizes, 1 + np.minimum(rng.poisson(MEAN_EXTRA_LINES, 64), 11)])
    ends = np.cumsum(sizes)
    n_receipts = int(np.searchsorted(ends, n_lines) + 1)
    sizes = sizes[:n_receipts].copy()
    sizes[-1] -= int(ends[n_receipts - 1] - n_lines)

    seconds = np.sort(
        (OPEN_HOUR + _draw(rng, hour_weights(day), n_receipts)) * 3600
        + rng.integers(0, 3600, size=n_receipts)
    )
    store = rng.choice(len(world.stores.ids), size=n_receipts, p=world.stores.weight)
    payment = rng.choice(len(PAYMENT_METHODS), size=n_receipts, p=PAYMENT_SHARE)
    loyal = rng.random(n_receipts) < LOYALTY_SHARE
    # Loyalty members shop with very different frequency: a power law over member numbers.
    customer = (world.customers * rng.random(n_receipts) ** 3).astype(np.int64) + 1
    is_return = rng.random(n_receipts) < RETURN_RECEIPT_SHARE
    sizes[is_return] = np.minimum(sizes[is_return], 2)
    n_lines = int(sizes.sum())

    receipt = np.repeat(np.arange(n_receipts), sizes)
    starts = np.cumsum(sizes) - sizes
    line_no = np.arange(n_lines) - np.repeat(starts, sizes) + 1

    promo = promotions(day, len(world.products.ids), world.seed)
    boosted = world.products.popularity * np.where(promo > 0, 1.8, 1.0)
    product = _draw(rng, boosted, n_lines)
    quantity = QUANTITIES[_draw(rng, QUANTITY_SHARE, n_lines)]
    discount_h = promo[product]

    # Returns refer to an earlier sale: same product, its shelf price and the promotion
    # that applied on the day it was bought (1-14 days before).
    line_return = is_return[receipt]
    if line_return.any():
        back = rng.integers(1, 15, size=int(line_return.sum()))
        idx = np.flatnonzero(line_return)
        for days_back in np.unique(back):
            earlier = promotions(day - dt.timedelta(days=int(days_back)), len(promo), world.seed)
            sel = idx[back == days_back]
            discount_h[sel] = earlier[product[sel]]
        quantity = np.where(line_return, -np.minimum(quantity, 2), quantity)

    price_cents = world.products.price_cents[product]
    gross = quantity * price_cents
    net = gross - round_half_up_div(gross * discount_h, 100)

    text = world.texts
    receipt_store = pc.take(text.stores, pa.array(store))
    # Receipt ids carry the business day: T (sale) or R (return) + YYYYMMDD, store, number.
    ymd = day.strftime("%Y%m%d")
    txn = pc.binary_join_element_wise(
        pc.take(pa.array(["T" + ymd, "R" + ymd]), pa.array(is_return.astype(np.int8))),
        receipt_store,
        _receipt_numbers(n_receipts),
        "-",
    )
    hour = seconds // 3600
    customer_ids = pc.take(text.customers, pa.array(np.where(loyal, customer, 0)))
    # A CSV line is five pieces: three of its receipt's (with the commas around them and the
    # line end) and two of its own (line number; product, category, quantity, price and
    # discount). All pieces sit in one array, and one `take` of them, line by line, gives
    # an array whose data buffer is the file. No generated value holds a comma, quote or
    # line break: nothing needs quoting.
    head = pc.binary_join_element_wise(txn, ",", "")
    middle = pc.binary_join_element_wise(  # ",<timestamp>,<store_id>,"
        "," + day.isoformat() + "T",
        pc.take(_clock(), pa.array(seconds)),
        pc.take(pa.array(_offsets(day, world.timezone)), pa.array(hour)),
        ",",
        receipt_store,
        ",",
        "",
    )
    payment_text = pc.take(text.payments, pa.array(payment))
    tail = pc.binary_join_element_wise(",", payment_text, ",", customer_ids, "\n", "")
    items, item = _items(text, promo, product, quantity, discount_h, line_return)
    pieces = pa.concat_arrays([head, middle, tail, _small_ints(), items])
    first_item = 3 * n_receipts + len(_small_ints())
    order = np.empty((n_lines, 5), dtype=np.int64)
    order[:, 0] = receipt
    order[:, 1] = 3 * n_receipts + SMALL_INT_OFFSET + line_no
    order[:, 2] = n_receipts + receipt
    order[:, 3] = first_item + item
    order[:, 4] = 2 * n_receipts + receipt
    lines = pc.take(pieces, pa.array(order.reshape(-1)))
    rows = DayRows(body=_data_buffer(lines), txn=txn, receipt=receipt, line_no=line_no, n=n_lines)
    numbers = {"net": net, "units": quantity, "hour": hour[receipt]}
    return rows, numbers


def _items(
    text: _Texts,
    promo: np.ndarray,
    product: np.ndarray,
    quantity: np.ndarray,
    discount_h: np.ndarray,
    is_return: np.ndarray,
) -> tuple[pa.Array, np.ndarray]:
    """The texts 'product_id,category,quantity,unit_price,discount_pct' and, for every
    line, the index of its text.

    A sale line's text depends only on (product, quantity) on a given day, so it is one of
    a small table of every such pair; the few return lines' texts follow, one per line.
    """
    n_products, n_quantities = len(promo), len(QUANTITIES)
    pair_product = pa.array(np.repeat(np.arange(n_products), n_quantities))
    pair_quantity = pa.array(np.tile(QUANTITIES, n_products) + SMALL_INT_OFFSET)
    pairs = pc.binary_join_element_wise(
        pc.take(text.product_category, pair_product),
        pc.take(_small_ints(), pair_quantity),
        pc.take(text.prices, pair_product),
        pc.take(_rates(), pa.array(np.repeat(promo, n_quantities))),
        ",",
    )
    quantity_idx = np.clip(quantity, 1, n_quantities) - 1
    item = product * n_quantities + quantity_idx
    if not is_return.any():
        return pairs, item
    rows = np.flatnonzero(is_return)
    returned = pc.binary_join_element_wise(
        pc.take(text.product_category, pa.array(product[rows])),
        pc.take(_small_ints(), pa.array(quantity[rows] + SMALL_INT_OFFSET)),
        pc.take(text.prices, pa.array(product[rows])),
        pc.take(_rates(), pa.array(discount_h[rows])),
        ",",
    )
    item[rows] = len(pairs) + np.arange(len(rows))
    return pa.concat_arrays([pairs, returned]), item


# The order `build_day` assembles a line's pieces in. It must be the contract's column
# order; checked here so that a change to the contract cannot shift columns silently.
LINE_LAYOUT = (
    "transaction_id",  # head
    "line_no",
    "timestamp",  # middle
    "store_id",
    "product_id",  # item
    "category",
    "quantity",
    "unit_price",
    "discount_pct",
    "payment_method",  # tail
    "customer_id",
)
if LINE_LAYOUT != RAW_COLUMNS:
    raise ImportError(f"generate/day.py writes {LINE_LAYOUT}, the contract says {RAW_COLUMNS}")
HEADER = (",".join(RAW_COLUMNS) + "\n").encode()


@dataclass(frozen=True)
class DayRows:
    """A day's CSV lines (without the header) and the keys of each row."""

    body: pa.Buffer
    txn: pa.Array  # receipt-level transaction ids
    receipt: np.ndarray  # row -> receipt
    line_no: np.ndarray
    n: int

    def key(self, row: int) -> tuple[str, int]:
        return self.txn[int(self.receipt[row])].as_py(), int(self.line_no[row])


def _data_buffer(lines: pa.Array) -> pa.Buffer:
    """The concatenated values of a string array, as one zero-copy buffer."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return lines.buffers()[2].slice(int(first), int(last - first))


def write_body(body: pa.Buffer | bytes, sink: Any) -> None:
    """Write the header and the lines to a binary file object."""
    sink.write(HEADER)
    sink.write(body)


def day_targets(world: World, days: list[dt.date]) -> list[int]:
    """Lines per day: weekday/season/holiday shape, averaging `rows_per_day` over the period."""
    factors = np.array([day_factor(day) for day in days])
    return [max(1, round(world.rows_per_day * f)) for f in factors / factors.mean()]


def render_day(
    world: World, day: dt.date, n_lines: int, file_name: str
) -> tuple[pa.Buffer | bytes, DayResult]:
    """The day's CSV lines (header not included) with any defects, and its manifest entry."""
    table, numbers = build_day(world, day, n_lines)
    body: pa.Buffer | bytes = table.body
    n = table.n
    sale_date = np.full(n, day.toordinal(), dtype=np.int64)
    valid = np.ones(n, dtype=bool)
    result = DayResult(date=day.isoformat(), file=file_name, rows=n)
    if world.bad_row_rate or world.duplicate_rate or world.late_rate:
        body = _inject_defects(world, day, table, sale_date, valid, result)
    # Net revenue per sale date over valid rows (duplicates excluded: they are extra lines).
    for ordinal in np.unique(sale_date[valid]):
        mask = valid & (sale_date == ordinal)
        result.by_sale_date[dt.date.fromordinal(int(ordinal)).isoformat()] = [
            int(mask.sum()),
            int(numbers["net"][mask].sum()),
            int(numbers["units"][mask].sum()),
        ]
    return body, result


def _inject_defects(
    world: World,
    day: dt.date,
    table: DayRows,
    sale_date: np.ndarray,
    valid: np.ndarray,
    result: DayResult,
) -> bytes:
    rng = seeded_rng(world.seed, "defects", day.toordinal())
    n = table.n
    lines = [HEADER[:-1], *table.body.to_pybytes().split(b"\n")]  # lines[i + 1] is row i
    counts = [int(rng.binomial(n, rate)) for rate in (world.bad_row_rate, world.late_rate)]
    picked = rng.choice(n, size=min(n, sum(counts)), replace=False)
    bad_rows, late_rows = picked[: counts[0]], picked[counts[0] :]
    tz = world.timezone
    for row in sorted(bad_rows):
        kind = DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))]
        lines[row + 1] = _break(lines[row + 1], kind, rng)
        valid[row] = False
        result.defects.append(_defect(kind, file_name=result.file, row=int(row), table=table))
    for row in sorted(late_rows):
        days_back = int(rng.integers(1, 3))
        fields = lines[row + 1].split(b",")
        earlier = day - dt.timedelta(days=days_back)
        clock = fields[TIMESTAMP][11:19].decode()
        offset = _offsets(earlier, tz)[int(clock[:2])]
        fields[TIMESTAMP] = f"{earlier.isoformat()}T{clock}{offset}".encode()
        lines[row + 1] = b",".join(fields)
        sale_date[row] = earlier.toordinal()
        defect = _defect("late_row", file_name=result.file, row=int(row), table=table)
        defect["sale_date"] = earlier.isoformat()
        result.defects.append(defect)
    n_dupes = int(rng.binomial(n, world.duplicate_rate))
    dupes = set(
        rng.choice(
            np.flatnonzero(valid), size=min(n_dupes, int(valid.sum())), replace=False
        ).tolist()
    )
    out = [lines[0]]
    for row in range(n):
        out.append(lines[row + 1])
        if row in dupes:
            out.append(lines[row + 1])
            defect = _defect("duplicate", file_name=result.file, row=row, table=table)
            defect["line_number"] = len(out)  # the copy's physical line (header is line 1)
            result.defects.append(defect)
    # Physical line numbers shift after each inserted duplicate; restate them at the end.
    _renumber(result, dupes)
    result.rows = n + len(dupes)
    return b"\n".join(out[1:]) + b"\n"


def _defect(kind: str, *, file_name: str, row: int, table: DayRows) -> dict[str, object]:
    transaction_id, line_no = table.key(row)
    return {
        "kind": kind,
        "file": file_name,
        "line_number": row + 2,
        "transaction_id": transaction_id,
        "line_no": line_no,
    }


def _renumber(result: DayResult, dupes: set[int]) -> None:
    ordered = sorted(dupes)
    for defect in result.defects:
        if defect["kind"] == "duplicate":
            continue
        row = int(defect["line_number"]) - 2  # type: ignore[call-overload]
        defect["line_number"] = row + 2 + int(np.searchsorted(ordered, row))


def _break(line: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """Turn a valid CSV line into one with the given defect."""
    fields = line.split(b",")
    if kind == "malformed_row":
        return b",".join(fields[:-3]) if rng.random() < 0.5 else line + b",EXTRA"
    if kind == "bad_number":
        column = QUANTITY if rng.random() < 0.5 else UNIT_PRICE
        fields[column] = (b"two", b"12,5x", b"N/A", b"1.2.3")[int(rng.integers(4))].replace(
            b",", b";"
        )
    elif kind == "bad_timestamp":
        fields[TIMESTAMP] = (
            b"2026-13-45T25:61:00+00:00",
            b"yesterday",
            b"2026-01-32T10:00:00Z",
            b"31/01/2026 10:00",
        )[int(rng.integers(4))]
    elif kind == "negative_price":
        fields[UNIT_PRICE] = b"-" + fields[UNIT_PRICE]
    elif kind == "zero_quantity":
        fields[QUANTITY] = b"0"
    return b",".join(fields)
