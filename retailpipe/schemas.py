"""The data contract: raw CSV columns, the Kafka JSON event, and the curated tables."""

from __future__ import annotations

from pyspark.sql import types as T

# What a line of a receipt says, in the order every table that carries it keeps it.
LINE_FIELDS: tuple[str, ...] = (
    "store_id",
    "product_id",
    "category",
    "quantity",
    "unit_price",
    "discount_pct",
    "payment_method",
    "customer_id",
)
# A line's amounts by the money rules (docs/data-contract.md, "Money").
LINE_AMOUNTS: tuple[str, ...] = ("gross_amount", "discount_amount", "net_amount")
# Raw transaction CSV, in file order (docs/data-contract.md, "Raw transaction CSV").
RAW_COLUMNS: tuple[str, ...] = ("transaction_id", "line_no", "timestamp", *LINE_FIELDS)
# Each raw column's position in RAW_COLUMNS, so code that holds a row as a tuple reads its
# fields by name: `fields[RAW_INDEX["quantity"]]`.
RAW_INDEX: dict[str, int] = {name: index for index, name in enumerate(RAW_COLUMNS)}
REQUIRED_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "store_id",
    "product_id",
    "quantity",
    "unit_price",
    "payment_method",
)

STORE_COLUMNS: tuple[str, ...] = ("store_id", "store_name", "city", "region", "size", "opened")
PRODUCT_COLUMNS: tuple[str, ...] = ("product_id", "product_name", "category", "brand", "list_price")

CATEGORIES: tuple[str, ...] = (
    "grocery",
    "beverages",
    "household",
    "personal_care",
    "electronics",
    "apparel",
    "home",
    "toys",
)
PAYMENT_METHODS: tuple[str, ...] = ("card", "cash", "mobile", "gift_card")

# Money: line amounts are DECIMAL(12,2); sums are DECIMAL(18,2). Never floats.
MONEY = T.DecimalType(12, 2)
MONEY_SUM = T.DecimalType(18, 2)
RATE = T.DecimalType(5, 4)

# The Kafka event (docs/kafka.md, "Event schema"); money and rates travel as decimal strings so
# no JSON parser can round them.
SCHEMA_VERSION = 1
EVENT_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("event_time", T.StringType()),
        T.StructField("schema_version", T.IntegerType()),
        T.StructField("transaction_id", T.StringType()),
        T.StructField("line_no", T.IntegerType()),
        T.StructField("timestamp", T.StringType()),
        T.StructField("store_id", T.StringType()),
        T.StructField("product_id", T.StringType()),
        T.StructField("category", T.StringType()),
        T.StructField("quantity", T.IntegerType()),
        T.StructField("unit_price", T.StringType()),
        T.StructField("discount_pct", T.StringType()),
        T.StructField("payment_method", T.StringType()),
        T.StructField("customer_id", T.StringType()),
    ]
)

# Curated tables: the columns users and the dashboards rely on, in order.
TRANSACTIONS_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "line_no",
    "event_ts",
    "timestamp",
    *LINE_FIELDS,
    *LINE_AMOUNTS,
    "is_return",
    "hour",
    "store_name",
    "city",
    "region",
    "product_name",
    "brand",
    "source_file",
    "source_line",
    "sale_date",
)
# The measures of a day's sales that add up (receipts only across days and stores).
SALES_MEASURES: tuple[str, ...] = (
    "transactions",
    "lines",
    "units",
    "gross_revenue",
    "discount_amount",
    "net_revenue",
    "return_amount",
)
DAILY_MEASURES: tuple[str, ...] = (*SALES_MEASURES, "avg_basket")
# The cube's measures: all additive over days and stores; `transactions` (receipts with a
# line in the category) not over categories, as one receipt spans several.
CUBE_MEASURES: tuple[str, ...] = (*SALES_MEASURES, "promo_revenue")
BREAKDOWN_MEASURES: tuple[str, ...] = ("lines", "units", "net_revenue")
AGGREGATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "daily_sales": ("sale_date", *DAILY_MEASURES),
    "daily_store_sales": ("sale_date", "store_id", *DAILY_MEASURES),
    "daily_category_sales": ("sale_date", "category", *DAILY_MEASURES),
    "daily_product_sales": ("sale_date", "product_id", "lines", "units", "net_revenue"),
    "daily_payment_sales": ("sale_date", "payment_method", "transactions", "net_revenue"),
    "hourly_sales": ("sale_date", "hour", "transactions", "units", "net_revenue"),
    # The dashboards' cube and its breakdowns: every batch figure for any date range, store
    # and category (docs/api.md, "Where the data comes from").
    "daily_store_category_sales": ("sale_date", "store_id", "category", *CUBE_MEASURES),
    "daily_store_product_sales": (
        "sale_date",
        "store_id",
        "category",
        "product_id",
        *BREAKDOWN_MEASURES,
    ),
    "daily_store_payment_sales": (
        "sale_date",
        "store_id",
        "category",
        "payment_method",
        *BREAKDOWN_MEASURES,
    ),
    "hourly_store_sales": ("sale_date", "store_id", "category", "hour", *BREAKDOWN_MEASURES),
    # Where each receipt with lines on several sale dates or stores has lines.
    "split_receipts": ("sale_date", "transaction_id", "store_id", "category"),
}
STREAM_WINDOW_COLUMNS: tuple[str, ...] = (
    "window_start",
    "window_end",
    "store_id",
    "transactions",
    "units",
    "net_revenue",
)
ALL_STORES = "ALL"

QUARANTINE_COLUMNS: tuple[str, ...] = (
    "source_file",
    "line_number",
    "reason",
    "detail",
    "raw_line",
)


def normalise_name(name: str) -> str:
    """`" Order Time "` -> `order_time`: case, spaces, hyphens and a BOM do not matter."""
    cleaned = name.replace("\ufeff", "").strip().strip('"').strip().lower()
    return "_".join(cleaned.replace("-", " ").replace(".", " ").split())


# Each dimension table's columns: the name the job uses -> the header names it accepts
# (normalised, first match wins). The first column is required; the others may be absent.
STORE_HEADERS: dict[str, tuple[str, ...]] = {
    "store_id_d": ("store_id", "store", "id"),
    "store_name": ("store_name", "name"),
    "city": ("city",),
    "region": ("region",),
    "store_tz": ("timezone", "time_zone", "tz"),
}
PRODUCT_HEADERS: dict[str, tuple[str, ...]] = {
    "product_id_d": ("product_id", "product", "sku", "id"),
    "product_name": ("product_name", "name"),
    "brand": ("brand",),
    "product_category": ("category",),
}
