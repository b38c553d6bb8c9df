"""Kafka JSON events -> typed, validated line items, with a dead-letter reason for the rest."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from retailpipe.schemas import (
    ALL_STORES,
    EVENT_SCHEMA,
    LINE_AMOUNTS,
    LINE_FIELDS,
    MONEY,
    RATE,
    SCHEMA_VERSION,
)
from retailpipe.transforms.checks import Check, first_failed
from retailpipe.transforms.money import MAX_PRICE, MAX_QUANTITY, with_line_amounts

# Every field is read as text first, so a wrong type becomes a reason, not a silent NULL.
# Not JSON, or JSON but not an object (a number, an array, null): from_json puts the text
# here, so one parse tells a malformed message from an object with missing fields.
CORRUPT = "_retailpipe_not_an_object"
TEXT_SCHEMA = T.StructType(
    [
        *(T.StructField(f.name, T.StringType()) for f in EVENT_SCHEMA),
        T.StructField(CORRUPT, T.StringType()),
    ]
)
REQUIRED_FIELDS: tuple[str, ...] = (
    "event_id",
    "event_time",
    "transaction_id",
    "line_no",
    "store_id",
    "product_id",
    "quantity",
    "unit_price",
    "payment_method",
)
KAFKA_COLUMNS: tuple[str, ...] = ("topic", "partition", "offset", "kafka_timestamp")
# Dead-letter reason codes, checked in this order (the first that applies is recorded).
REASONS: tuple[str, ...] = (
    "malformed_json",
    "missing_field",
    "unsupported_schema_version",
    "bad_number",
    "bad_timestamp",
    "negative_price",
    "zero_quantity",
    "discount_out_of_range",
    "field_too_long",
    "unknown_store",
    "unknown_product",
)
# Text fields longer than this are dead letters: no till writes a 200-character id, and a
# huge one would otherwise become a key of the stream's state.
MAX_FIELD_CHARS = 200
TEXT_FIELDS: tuple[str, ...] = (
    "event_id",
    "transaction_id",
    "store_id",
    "product_id",
    "category",
    "payment_method",
    "customer_id",
)
VALID_COLUMNS: tuple[str, ...] = (
    "event_id",
    "event_ts",
    "transaction_id",
    "line_no",
    *LINE_FIELDS,
    *LINE_AMOUNTS,
    *KAFKA_COLUMNS,
)
DEAD_LETTER_COLUMNS: tuple[str, ...] = ("reason", "detail", "value", *KAFKA_COLUMNS)


ANY_RATE = T.DecimalType(38, RATE.scale)


def _exact_decimal(text: Column, target: T.DecimalType) -> Column:
    """`text` as `target`, or NULL when it is not a number or would lose digits."""
    wide = text.try_cast(T.DecimalType(38, 10))
    narrow = text.try_cast(target)
    return F.when(wide == narrow.cast(T.DecimalType(38, 10)), narrow)


def _typed(j: Column) -> list[Column]:
    return [
        j["schema_version"].try_cast("int").alias("schema_version_int"),
        j["line_no"].try_cast("int").alias("line_no_int"),
        j["quantity"].try_cast("int").alias("quantity_int"),
        _exact_decimal(j["unit_price"], MONEY).alias("unit_price_dec"),
        # Four places, any size: an exact discount outside [0, 1) is out of range (as in the
        # batch), not a bad number; valid ones fit RATE.
        _exact_decimal(F.coalesce(j["discount_pct"], F.lit("0")), ANY_RATE).alias("discount_dec"),
        j["event_time"].try_cast("timestamp").alias("event_ts"),
    ]


def _reason(j: Column, stores: bool, products: bool) -> tuple[Column, Column]:
    """The first failing check as (reason, detail); NULL reason for a valid event."""
    missing = [
        F.when(j[name].isNull() | (F.trim(j[name]) == ""), F.lit(name)) for name in REQUIRED_FIELDS
    ]
    missing_list = F.concat_ws(",", *missing)
    version = F.coalesce(F.col("schema_version_int"), F.lit(SCHEMA_VERSION))
    bad_numbers = F.concat_ws(
        ",",
        F.when(F.col("line_no_int").isNull() | (F.col("line_no_int") < 1), F.lit("line_no")),
        F.when(
            F.col("quantity_int").isNull() | (F.abs(F.col("quantity_int")) > MAX_QUANTITY),
            F.lit("quantity"),
        ),
        F.when(
            F.col("unit_price_dec").isNull() | (F.abs(F.col("unit_price_dec")) > MAX_PRICE),
            F.lit("unit_price"),
        ),
        F.when(F.col("discount_dec").isNull(), F.lit("discount_pct")),
    )
    discount_ok = (F.col("discount_dec") >= 0) & (F.col("discount_dec") < 1)
    too_long = F.concat_ws(
        ",", *(F.when(F.length(j[name]) > MAX_FIELD_CHARS, F.lit(name)) for name in TEXT_FIELDS)
    )
    checks = [
        Check("malformed_json", ~F.col("is_object"), F.lit("value is not a JSON object")),
        Check("missing_field", missing_list != "", missing_list),
        Check("unsupported_schema_version", version != SCHEMA_VERSION, j["schema_version"]),
        Check("bad_number", bad_numbers != "", bad_numbers),
        Check("bad_timestamp", F.col("event_ts").isNull(), j["event_time"]),
        Check("negative_price", F.col("unit_price_dec") < 0, j["unit_price"]),
        Check("zero_quantity", F.col("quantity_int") == 0, j["quantity"]),
        Check("discount_out_of_range", ~discount_ok, j["discount_pct"]),
        Check(
            "field_too_long", too_long != "", F.concat(too_long, F.lit(f" over {MAX_FIELD_CHARS}"))
        ),
    ]
    # ALL names the sum over stores in the windows; no store may take it.
    checks.append(Check("unknown_store", j["store_id"] == ALL_STORES, j["store_id"]))
    if stores:
        checks.append(Check("unknown_store", F.col("known_store").isNull(), j["store_id"]))
    if products:
        checks.append(Check("unknown_product", F.col("known_product").isNull(), j["product_id"]))
    failed = first_failed([c._replace(detail=c.detail.cast("string")) for c in checks])
    return failed["reason"], failed["detail"]


def _known(rows: DataFrame, ids: DataFrame | None, field: str, alias: str) -> DataFrame:
    """`rows` with `alias` = the id when `ids` (one column) has `j.<field>`, else NULL."""
    if ids is None:
        return rows
    known = F.broadcast(ids.select(F.col(ids.columns[0]).alias(alias)).distinct())
    return rows.join(known, F.col("j")[field] == F.col(alias), "left")


def parse_events(
    kafka: DataFrame, stores: DataFrame | None = None, products: DataFrame | None = None
) -> DataFrame:
    """Parse Kafka records (value, topic, partition, offset, timestamp) into checked events.

    `stores` / `products`: the known ids (one column each), when the dimension files exist;
    an event naming another is a dead letter, as batch quarantines it.
    Output: the raw text, Kafka coordinates, the typed fields, and `reason`/`detail`
    (NULL for a valid event).
    """
    value = F.col("value").cast("string")
    parsed = kafka.select(
        value.alias("value"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.from_json(value, TEXT_SCHEMA, {"columnNameOfCorruptRecord": CORRUPT}).alias("j"),
    )
    parsed = parsed.withColumn("is_object", F.col("j").isNotNull() & F.col("j")[CORRUPT].isNull())
    parsed = _known(
        _known(parsed, stores, "store_id", "known_store"), products, "product_id", "known_product"
    )
    typed = parsed.select("*", *_typed(F.col("j")))
    reason, detail = _reason(F.col("j"), stores is not None, products is not None)
    return typed.withColumn("reason", reason).withColumn("detail", detail)


def checked_events(
    kafka: DataFrame, stores: DataFrame | None = None, products: DataFrame | None = None
) -> DataFrame:
    """Every Kafka record once, checked: `reason`/`detail`/`value` for a dead letter, the
    typed fields and money amounts (`VALID_COLUMNS`, NULL on a dead letter) for a valid event.

    One projection and no filter, so the caller splits valid from dead on `reason` after
    collecting. Filtering in Spark would cost far more than the rows it saves: splitting
    one batch into two filtered DataFrames reads the Kafka batch twice, and the optimizer
    pushes a filter on `reason` below the parse, where it becomes one `from_json` per
    field it checks (a dozen JSON parses of every record).
    """
    checked = parse_events(kafka, stores, products)
    is_valid = F.col("reason").isNull()
    j = F.col("j")

    def if_valid(column: Column) -> Column:
        # NULL money inputs on dead letters: their numbers must not reach the (ANSI) maths.
        return F.when(is_valid, column)

    typed = checked.select(
        if_valid(j["event_id"]).alias("event_id"),
        if_valid(F.col("event_ts")).alias("event_ts"),
        if_valid(j["transaction_id"]).alias("transaction_id"),
        if_valid(F.col("line_no_int")).alias("line_no"),
        if_valid(j["store_id"]).alias("store_id"),
        if_valid(j["product_id"]).alias("product_id"),
        if_valid(j["category"]).alias("category"),
        if_valid(F.col("quantity_int")).alias("quantity"),
        if_valid(F.col("unit_price_dec")).alias("unit_price"),
        if_valid(F.col("discount_dec")).cast(RATE).alias("discount_pct"),
        if_valid(j["payment_method"]).alias("payment_method"),
        if_valid(j["customer_id"]).alias("customer_id"),
        *KAFKA_COLUMNS,
        "reason",
        "detail",
        "value",
    )
    return with_line_amounts(typed).select(*VALID_COLUMNS, "reason", "detail", "value")
