"""Cleanse and validate raw rows: trim, normalise, type, and give each bad row a reason code."""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from retailpipe.schemas import MONEY, RATE, RAW_COLUMNS, TRANSACTIONS_COLUMNS
from retailpipe.transforms.checks import Check, first_failed
from retailpipe.transforms.money import MAX_PRICE, MAX_QUANTITY, with_line_amounts

# ISO 8601 with a UTC offset, as docs/data-contract.md requires; a space may stand in for the `T`.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
# The same without an offset: a local time, read in the store's zone or batch.timezone.
LOCAL_TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$"
NO_OFFSET = "has no UTC offset; set batch.timezone"
PAYMENT_SYNONYMS: dict[str, str] = {
    "credit": "card",
    "debit": "card",
    "credit_card": "card",
    "debit_card": "card",
    "visa": "card",
    "mastercard": "card",
    "amex": "card",
    "card_payment": "card",
    "giftcard": "gift_card",
    "gift": "gift_card",
    "voucher": "gift_card",
    "apple_pay": "mobile",
    "google_pay": "mobile",
    "mobile_pay": "mobile",
    "wallet": "mobile",
    "nfc": "mobile",
    "phone": "mobile",
    "bar": "cash",
    "cash_payment": "cash",
}
REQUIRED_TEXT: tuple[str, ...] = (
    "timestamp",
    "store_id",
    "product_id",
    "quantity",
    "payment_method",
)
DERIVED_ID_PREFIX = "X"


def text(name: str) -> Column:
    """A trimmed string column, NULL when empty."""
    return F.nullif(F.trim(F.col(name)), F.lit(""))


# The characters a run of which becomes one underscore in a label: Java's `\s` (space, tab,
# newline, vertical tab, form feed, carriage return) and the hyphen, last so that it is
# literal in the regular expression's character class.
LABEL_SEPARATORS = " \t\n\x0b\f\r-"
_SEPARATOR_RUN = f"[{LABEL_SEPARATORS}]+"


def normalise_label(value: Column) -> Column:
    """`" Personal Care "` -> `personal_care`.

    Most labels have no separator: those skip the regular expression, which costs a Java
    string, a matcher and a buffer per value.
    """
    label = F.lower(F.trim(value))
    separated = reduce(Column.__or__, (label.contains(c) for c in LABEL_SEPARATORS))
    joined = F.when(separated, F.regexp_replace(label, _SEPARATOR_RUN, "_")).otherwise(label)
    return F.nullif(joined, F.lit(""))


def normalise_payment(value: Column) -> Column:
    """Lower-case, underscores, and common synonyms mapped onto card/cash/mobile/gift_card."""
    label = normalise_label(value)
    mapped = F.create_map(*(F.lit(x) for pair in PAYMENT_SYNONYMS.items() for x in pair))
    return F.coalesce(F.element_at(mapped, label), label)


def derived_transaction_id(source_file: Column, line_number: Column) -> Column:
    """A receipt id for files without one: from the file name and physical line, stable."""
    key = F.concat_ws(":", source_file, line_number.cast("string"))
    return F.concat(F.lit(DERIVED_ID_PREFIX), F.substring(F.sha2(key, 256), 1, 20))


# Every canonical column arrives as text; some exports carry `amount` instead of a price.
CANONICAL_TEXT: tuple[str, ...] = (*RAW_COLUMNS, "amount")
WIDE = "decimal(24,8)"


def _exact(wide: str, scale: int) -> Column:
    """True when a parsed decimal has at most `scale` places."""
    return F.col(wide) == F.col(wide).cast(f"decimal(24,{scale})")


def typed(df: DataFrame) -> DataFrame:
    """Trim and type the canonical string columns; flags say which fields failed to parse.

    Three projections on purpose: Spark does not inline a projection's costly expressions
    into the next when they are used more than once, so each value is parsed once.
    """
    trimmed = df.withColumns({c: text(c) for c in CANONICAL_TEXT})
    parsed = trimmed.select(
        "*",
        F.col("timestamp").alias("_timestamp"),
        F.when(
            F.col("timestamp").rlike(TIMESTAMP_PATTERN), F.col("timestamp").try_cast("timestamp")
        ).alias("_ts_offset"),
        F.when(
            F.col("timestamp").rlike(LOCAL_TIMESTAMP_PATTERN),
            F.col("timestamp").try_cast("timestamp"),  # the wall-clock time, read as UTC
        ).alias("_ts_local"),
        F.col("quantity").try_cast("int").alias("_quantity"),
        F.col("unit_price").try_cast(WIDE).alias("_price_w"),
        F.col("amount").try_cast(WIDE).alias("_amount_w"),
        F.col("discount_pct").try_cast(WIDE).alias("_discount_w"),
        F.col("line_no").try_cast("int").alias("_line_no"),
    )
    return parsed.select(
        "*",
        (F.col("quantity").isNotNull() & F.col("_quantity").isNull()).alias("_bad_quantity"),
        (
            F.col("unit_price").isNotNull() & (F.col("_price_w").isNull() | ~_exact("_price_w", 2))
        ).alias("_bad_price"),
        (
            F.col("amount").isNotNull() & (F.col("_amount_w").isNull() | ~_exact("_amount_w", 2))
        ).alias("_bad_amount"),
        (
            F.col("discount_pct").isNotNull()
            & (F.col("_discount_w").isNull() | ~_exact("_discount_w", 4))
        ).alias("_bad_discount"),
        (F.col("line_no").isNotNull() & F.col("_line_no").isNull()).alias("_bad_line_no"),
        F.when(F.col("_price_w").between(-MAX_PRICE, MAX_PRICE), F.col("_price_w"))
        .cast("decimal(12,2)")
        .alias("_price"),
        F.when(F.col("_amount_w").between(-MAX_PRICE, MAX_PRICE), F.col("_amount_w"))
        .cast("decimal(12,2)")
        .alias("_amount"),
        F.coalesce(F.when(F.col("_discount_w").between(-10, 10), F.col("_discount_w")), F.lit(0))
        .cast("decimal(10,4)")
        .alias("_discount"),
    )


def _checks() -> list[Check]:
    """(reason code, failed, detail) of every check, in the order they are applied."""
    missing = [F.when(F.col(c).isNull(), F.lit(c)) for c in REQUIRED_TEXT]
    missing_price = F.when(F.col("amount_only") & F.col("amount").isNull(), F.lit("amount")).when(
        ~F.col("amount_only") & F.col("unit_price").isNull(), F.lit("unit_price")
    )
    no_id = ~F.col("derived_id") & F.col("transaction_id").isNull()
    no_line = F.col("has_line_no") & F.col("line_no").isNull()
    missing_names = F.concat_ws(
        ", ",
        F.when(no_id, F.lit("transaction_id")),
        F.when(no_line, F.lit("line_no")),
        *missing,
        missing_price,
    )
    quantity = F.col("_quantity")
    checks: list[tuple[str, Column, Column]] = [
        ("unmappable_file", F.col("unmappable").isNotNull(), F.col("unmappable")),
        ("malformed_row", F.col("malformed"), F.lit("field count differs from the header")),
        ("missing_field", missing_names != "", F.concat(F.lit("empty: "), missing_names)),
        (
            "bad_timestamp",
            F.col("event_ts").isNull(),
            F.concat_ws(
                " ",
                F.lit("timestamp"),
                F.col("_timestamp"),
                F.when(F.col("_ts_local").isNotNull(), F.lit(NO_OFFSET)),
            ),
        ),
        (
            "bad_number",
            F.col("_bad_quantity") | (F.abs(quantity) > MAX_QUANTITY),
            F.concat(F.lit("quantity "), F.col("quantity")),
        ),
        (
            "bad_number",
            F.col("_bad_price") | (F.abs(F.col("_price_w")) > MAX_PRICE),
            F.concat(F.lit("unit_price "), F.col("unit_price")),
        ),
        (
            "bad_number",
            F.col("_bad_amount") | (F.abs(F.col("_amount_w")) > MAX_PRICE),
            F.concat(F.lit("amount "), F.col("amount")),
        ),
        (
            "bad_number",
            F.col("_bad_discount"),
            F.concat(F.lit("discount_pct "), F.col("discount_pct")),
        ),
        (
            "bad_number",
            F.col("_bad_line_no") | (F.col("_line_no") < 1),
            F.concat(F.lit("line_no "), F.col("line_no")),
        ),
        (
            "negative_price",
            F.col("_price") < 0,
            F.concat(F.lit("unit_price "), F.col("unit_price")),
        ),
        (
            "negative_price",
            F.col("amount_only") & (F.col("_amount") * quantity < 0),
            F.lit("amount and quantity have opposite signs"),
        ),
        ("zero_quantity", quantity == 0, F.lit("quantity 0")),
        (
            "discount_out_of_range",
            (F.coalesce(F.col("_discount_w"), F.lit(0)) < 0)
            | (F.coalesce(F.col("_discount_w"), F.lit(0)) >= 1),
            F.concat(F.lit("discount_pct "), F.col("discount_pct"), F.lit(" not in [0, 1)")),
        ),
        (
            "unknown_store",
            F.col("store_id_d").isNull(),
            F.concat(F.lit("store_id "), F.col("store_id")),
        ),
        (
            "unknown_product",
            F.col("product_id_d").isNull(),
            F.concat(F.lit("product_id "), F.col("product_id")),
        ),
    ]
    return [Check(*check) for check in checks]


# The attributes of the dimension tables, and what they are when a table is absent (every
# id in the data is known, its name is the id, the rest unknown).
STORE_ATTRIBUTES: dict[str, str | None] = {
    "store_id_d": "store_id",
    "store_name": "store_id",
    "city": None,
    "region": None,
    "store_tz": None,
}
PRODUCT_ATTRIBUTES: dict[str, str | None] = {
    "product_id_d": "product_id",
    "product_name": "product_id",
    "brand": None,
    "product_category": None,
}


def _from_data(rows: DataFrame, attributes: dict[str, str | None], wanted: list[str]) -> DataFrame:
    """`rows` with the attributes of an absent dimension table, as `_with_...` would join."""
    return rows.withColumns(
        {
            name: F.col(source) if source else F.lit(None).cast("string")
            for name, source in attributes.items()
            if name in wanted
        }
    )


def _with_dimensions(
    stores: DataFrame | None, products: DataFrame | None
) -> Callable[[DataFrame], DataFrame]:
    """Left-join the (broadcast) store and product attributes; the same join wherever it is
    used, so Spark broadcasts each table once per query. An absent table (None): every id
    is known and named by itself."""

    def join(rows: DataFrame) -> DataFrame:
        if stores is None:
            with_store = _from_data(rows, STORE_ATTRIBUTES, list(STORE_ATTRIBUTES))
        else:
            with_store = rows.join(
                F.broadcast(stores), F.col("store_id") == F.col("store_id_d"), "left"
            )
        return _with_product(with_store, products)

    return join


def _with_product(
    rows: DataFrame, products: DataFrame | None, wanted: list[str] | None = None
) -> DataFrame:
    """Left-join the (broadcast) product columns of `products` by product_id."""
    if products is None:
        return _from_data(rows, PRODUCT_ATTRIBUTES, wanted or list(PRODUCT_ATTRIBUTES))
    return rows.join(F.broadcast(products), F.col("product_id") == F.col("product_id_d"), "left")


def check(
    rows: DataFrame,
    stores: DataFrame | None,
    products: DataFrame | None,
    timezone: str | None = None,
) -> DataFrame:
    """Typed rows, each with a `reason` code and its `detail` (NULL when valid); valid rows
    carry their de-duplication key (sale_date, transaction_id, line_no).

    `stores` and `products` (store_id_d / product_id_d plus attributes; stores also
    `store_tz`) are small and broadcast; their attributes are joined again in `finish`,
    after the shuffle. A timestamp without a UTC offset is a local time in its store's
    `store_tz`, else in `timezone`; with neither it is quarantined. `sale_date` and `hour`
    are the local calendar date and hour as written.
    """
    joined = typed(rows).transform(_with_dimensions(stores, products))
    # A local time is converted from its store's zone (stores.csv) or batch.timezone.
    zone = F.coalesce(F.col("store_tz"), F.lit(timezone).cast("string"))
    instants = joined.withColumn(
        "event_ts", F.coalesce("_ts_offset", F.to_utc_timestamp("_ts_local", zone))
    )
    failed = instants.select("*", first_failed(_checks()).alias("_failed"))
    valid = F.col("_failed").isNull()
    transaction_id = F.when(
        F.col("derived_id"), derived_transaction_id(F.col("source_file"), F.col("line_number"))
    ).otherwise(F.col("transaction_id"))
    line_no = F.coalesce(
        F.col("_line_no"),
        F.when(F.col("derived_id"), F.lit(1)).otherwise(F.col("line_number").cast("int")),
    )
    sale_date = F.substring(F.col("_timestamp"), 1, 10).try_cast("date")
    return failed.select(
        F.when(valid, sale_date).alias("sale_date"),
        F.when(valid, transaction_id).alias("transaction_id"),
        F.when(valid, line_no).alias("line_no"),
        "source_file",
        F.col("line_number").alias("source_line"),
        "event_ts",
        F.col("_timestamp").alias("timestamp"),
        "store_id",
        "product_id",
        "category",
        F.when(valid, F.col("_quantity")).alias("quantity"),
        F.when(valid, F.col("_price")).alias("unit_price"),
        F.when(valid, F.col("_discount")).cast(RATE).alias("discount_pct"),
        F.when(valid, F.col("_amount")).alias("amount"),
        "amount_only",
        "payment_method",
        "customer_id",
        F.col("_failed.reason").alias("reason"),
        F.col("_failed.detail").alias("detail"),
        F.when(~valid, F.col("raw_line")).alias("raw_line"),
    )


def finish(checked: DataFrame, products: DataFrame | None) -> DataFrame:
    """The curated columns of `check`ed rows but the store and product attributes
    (TRANSACTIONS_COLUMNS without store_name, city, region, product_name and brand, then
    reason, detail and raw_line): line amounts by the money rules and normalised labels; a
    missing category is the product's.

    A step of its own so that the batch job can place the de-duplication shuffle between
    the two halves: each half then compiles to a method small enough for the JIT. The
    attributes are left to `with_attributes`, so that the batch job's cache of these lines
    does not hold (and compress) five more text columns.
    """
    valid = F.col("reason").isNull()
    amount_only = F.col("amount_only")
    category = None if products is None else products.select("product_id_d", "product_category")
    with_product = _with_product(checked, category, ["product_id_d", "product_category"])
    with_amounts = with_product.transform(with_line_amounts)
    return with_amounts.select(
        "transaction_id",
        "line_no",
        "event_ts",
        "timestamp",
        "store_id",
        "product_id",
        F.coalesce(normalise_label(F.col("category")), F.col("product_category")).alias("category"),
        "quantity",
        F.when(~amount_only, F.col("unit_price")).alias("unit_price"),
        F.when(~amount_only, F.col("discount_pct")).alias("discount_pct"),
        normalise_payment(F.col("payment_method")).alias("payment_method"),
        "customer_id",
        F.when(amount_only & valid, F.col("amount"))
        .otherwise(F.col("gross_amount"))
        .cast(MONEY)
        .alias("gross_amount"),
        F.when(amount_only & valid, F.lit(0))
        .otherwise(F.col("discount_amount"))
        .cast(MONEY)
        .alias("discount_amount"),
        F.when(amount_only & valid, F.col("amount"))
        .otherwise(F.col("net_amount"))
        .cast(MONEY)
        .alias("net_amount"),
        (F.col("quantity") < 0).alias("is_return"),
        F.substring(F.col("timestamp"), 12, 2).try_cast("int").alias("hour"),
        "source_file",
        "source_line",
        "sale_date",
        "reason",
        "detail",
        "raw_line",
    )


def with_attributes(
    lines: DataFrame, stores: DataFrame | None, products: DataFrame | None
) -> DataFrame:
    """`finish`ed lines with the store and product attributes joined from the (broadcast)
    dimension tables: TRANSACTIONS_COLUMNS in contract order, then the other columns of
    `lines` (reason, detail, raw_line)."""
    others = [c for c in lines.columns if c not in TRANSACTIONS_COLUMNS]
    joined = lines.transform(_with_dimensions(stores, products))
    return joined.select(*TRANSACTIONS_COLUMNS, *others)


def cleanse(
    rows: DataFrame,
    stores: DataFrame | None,
    products: DataFrame | None,
    timezone: str | None = None,
) -> DataFrame:
    """Typed, normalised rows with line amounts and attributes; `reason` NULL when valid."""
    checked = check(rows, stores, products, timezone)
    return with_attributes(finish(checked, products), stores, products)
