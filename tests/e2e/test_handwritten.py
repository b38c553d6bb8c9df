"""A hand-written corpus (tests/corpus/handwritten/, see its README) end to end: batch, the
batch JSON API, replay to a real broker and the stream, each against the independent
oracle (tests/oracle.py's rules, local times read per docs/import.md).

The corpus is small and not generated: daylight-saving local times in Europe/Berlin,
4-place discounts whose cent rounding matters, label spellings, `Z` / `+02:00` / space
timestamps, returns, duplicates, bad rows and late rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import shutil
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from flask.testing import FlaskClient

from retailpipe.batch.job import run_batch
from retailpipe.replay.run import ReplayOptions, load_and_replay
from retailpipe.replay.source import read_source
from retailpipe.schemas import AGGREGATE_COLUMNS
from retailpipe.serve import create_app
from retailpipe.settings import Settings
from retailpipe.storage import AGGREGATES
from tests import processes
from tests.batch import oracle as batch_oracle
from tests.conftest import test_settings as settings_for  # not collected as a test
from tests.oracle import (
    Line,
    Reading,
    local_time,
    normalise_label,
    normalise_payment,
    parse_zoned,
    raw_rows,
    read_raw_zoned,
    store_zones,
    timestamp,
)
from tests.replay.helpers import consume
from tests.serve import oracle as serve_oracle
from tests.serve.batch_checks import check_view, get
from tests.stream.kafka_helpers import cli, cli_env, new_topic, stream_settings
from tests.stream.oracle import oracle_from_rows, read_late, read_windows

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "handwritten"
# batch.timezone and replay's zone: B02 has no zone in stores.csv and falls back to it.
ZONE = "Europe/Berlin"
UTC = dt.UTC
DAYS = (dt.date(2026, 3, 28), dt.date(2026, 3, 30))
# Local times at N01, whose zone (stores.csv) is not replay's: batch only (see the README).
BATCH_ONLY_DAY = "2026-03-31"


def _raw_root(root: Path) -> Path:
    """A storage root whose raw/ holds the corpus (day files and dimension files)."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    for path in CORPUS.glob("*.csv"):
        shutil.copy(path, raw / path.name)
    return root


def _settings(root: Path, **overrides: object) -> Settings:
    # A third of the corpus is bad on purpose: past the default 5 % gate.
    return settings_for(
        root, **{"batch.timezone": ZONE, "batch.max_invalid_fraction": 0.5, **overrides}
    )


def _table(path: Path) -> list[dict[str, Any]]:
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()


@pytest.fixture(scope="module")
def reading() -> Reading:
    return read_raw_zoned(CORPUS, ZONE)


@pytest.fixture(scope="module")
def batch_root(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One batch run over the corpus, read by the batch and API tests."""
    root = _raw_root(tmp_path_factory.mktemp("handwritten-batch"))
    run_batch(spark, _settings(root))
    return root


def _utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def test_the_oracle_agrees_with_figures_worked_out_by_hand(reading: Reading) -> None:
    """The oracle itself, against a few lines worked out on paper."""
    lines = {(x.transaction_id, x.line_no): x for x in reading.lines}

    def utc_of(key: tuple[str, int]) -> str:
        return lines[key].ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    # 10.00 x 12.25 % = 1.225: half-up 1.23 (half-even would give 1.22); a return alike.
    assert (lines[("T0328-003", 1)].discount, lines[("T0328-003", 1)].net) == (
        Decimal("1.23"),
        Decimal("8.77"),
    )
    assert lines[("T0328-006", 1)].net == Decimal("-8.77")
    assert lines[("T0328-003", 2)].discount == Decimal("0.01")  # 1.00 x 0.5 % = 0.005
    assert lines[("T0329-008", 1)].discount == Decimal("1.25")  # 9.96 x 12.5 % = 1.245
    # Berlin, 29 March 2026: CET (UTC+1) until 02:00, then CEST (UTC+2).
    assert utc_of(("T0329-002", 1)) == "2026-03-29 00:59:59"
    assert utc_of(("T0329-003", 1)) == "2026-03-29 01:00:00"  # 02:00 skipped: 03:00 CEST
    assert utc_of(("T0329-004", 1)) == "2026-03-29 01:30:00"  # 02:30 (B02: batch.timezone)
    assert utc_of(("T0329-006", 1)) == "2026-03-29 01:00:00"  # 03:00 CEST
    assert utc_of(("T1026-001", 1)) == "2025-10-26 00:30:00"  # twice: the earlier, CEST
    assert utc_of(("T0330-001", 1)) == "2026-03-29 22:10:00"
    assert (lines[("T0329-004", 1)].sale_date, lines[("T0329-004", 1)].hour) == ("2026-03-29", 2)
    assert lines[("T0329-012", 1)].sale_date == "2026-03-30"  # Z: its own offset's date
    assert (reading.rows, len(reading.lines), reading.duplicates) == (67, 44, 3)
    assert sum(reading.reasons.values()) == 20


# ---------------------------------------------------------------- batch


def _expected_row(x: Line) -> dict[str, Any]:
    return {
        "sale_date": x.sale_date,
        "event_ts": x.ts.astimezone(UTC),
        "hour": x.hour,
        "store_id": x.store_id,
        "product_id": x.product_id,
        "category": normalise_label(x.category),
        "payment_method": normalise_payment(x.payment_method),
        "customer_id": x.customer_id or None,
        "quantity": x.quantity,
        "unit_price": x.unit_price,
        "discount_pct": x.discount_pct,
        "gross_amount": x.gross,
        "discount_amount": x.discount,
        "net_amount": x.net,
        "is_return": x.quantity < 0,
    }


def test_batch_lines_and_quarantine_equal_the_oracle(batch_root: Path, reading: Reading) -> None:
    rows = _table(batch_root / "curated" / "transactions")
    got = {
        (r["transaction_id"], r["line_no"]): {
            **{k: r[k] for k in _expected_row(reading.lines[0]) if k in r},
            "sale_date": str(r["sale_date"]),  # the hive partition's text
            "event_ts": _utc(r["event_ts"]),
        }
        for r in rows
    }
    assert len(rows) == len(got)  # one row per key
    expected = {(x.transaction_id, x.line_no): _expected_row(x) for x in reading.lines}
    assert got == expected

    quarantine = _table(batch_root / "quarantine")
    assert {(q["source_file"], q["line_number"]): q["reason"] for q in quarantine} == {
        (name, line): reason for name, line, reason in reading.rejected
    }
    texts = {p.name: p.read_text(encoding="utf-8").split("\n") for p in CORPUS.glob("t*.csv")}
    for q in quarantine:
        assert q["raw_line"] == texts[q["source_file"]][q["line_number"] - 1]
        assert q["detail"]

    (path,) = (batch_root / "runs").glob("batch-*.json")
    counts = json.loads(path.read_text())["counts"]
    assert counts["rows_read"] == reading.rows
    assert counts["valid"] == len(reading.lines)
    assert counts["duplicates"] == reading.duplicates
    assert counts["quarantined"] == len(reading.rejected)
    assert {k: v for k, v in counts["by_reason"].items() if v} == dict(reading.reasons)


def _truth(reading: Reading) -> batch_oracle.Truth:
    lines = [
        batch_oracle.Line(
            x.transaction_id,
            x.line_no,
            x.sale_date,
            x.hour,
            x.store_id,
            x.product_id,
            normalise_label(x.category),
            normalise_payment(x.payment_method),
            x.quantity,
            x.gross,
            x.discount,
            x.net,
            x.discount_pct,
        )
        for x in reading.lines
    ]
    return batch_oracle.Truth(
        lines, reading.reasons, reading.rejected, reading.duplicates, reading.rows
    )


def test_batch_aggregates_equal_the_oracle(batch_root: Path, reading: Reading) -> None:
    expected = batch_oracle.expected_aggregates(_truth(reading))
    keys = (*batch_oracle.KEY_COLUMNS, "transaction_id")
    for name in AGGREGATES:
        columns = AGGREGATE_COLUMNS[name]
        key_columns = [c for c in columns if c in keys]
        got = {}
        for row in _table(batch_root / "curated" / name):
            key = tuple(row[k].isoformat() if k == "sale_date" else row[k] for k in key_columns)
            got[key] = {m: row[m] for m in columns if m not in key_columns}
        assert got == expected[name], name
    # The days of the files: the DST day and its neighbours, figures worked out by hand.
    daily = expected["daily_sales"]
    assert daily[("2026-03-29",)]["net_revenue"] == Decimal("194.82")


# ---------------------------------------------------------------- batch API


def _serve_lines(reading: Reading) -> list[serve_oracle.Line]:
    return [
        serve_oracle.Line(
            x.transaction_id,
            x.line_no,
            x.ts,  # the wall clock as written: its date and hour are the sale date and hour
            x.store_id,
            x.product_id,
            normalise_label(x.category),
            x.quantity,
            x.unit_price,
            x.discount_pct,
            normalise_payment(x.payment_method),
            x.customer_id,
        )
        for x in reading.lines
    ]


def test_batch_api_equals_the_oracle(batch_root: Path, reading: Reading) -> None:
    client: FlaskClient = create_app(
        settings_for(batch_root, **{"serve.refresh_s": 0}), ["batch"]
    ).test_client()
    lines = _serve_lines(reading)
    check_view(client, lines)
    check_view(client, lines, start=DAYS[0], end=DAYS[1])
    check_view(client, lines, start=DAYS[0], end=DAYS[1], store="B02")
    check_view(client, lines, start=DAYS[0], end=DAYS[1], category="personal_care")
    daily = get(client, "/api/batch/daily", start="2026-03-28", end="2026-03-30")["rows"]
    by_day: dict[str, Decimal] = defaultdict(Decimal)
    for x in reading.lines:
        by_day[x.sale_date] += x.net
    assert {r["sale_date"]: r["net_revenue"] for r in daily} == {
        day: serve_oracle.money(by_day[day]) for day in ("2026-03-28", "2026-03-29", "2026-03-30")
    }
    quality = get(client, "/api/batch/quality")["quality"]
    assert (quality["rows_read"], quality["valid"], quality["duplicates"]) == (
        reading.rows,
        len(reading.lines),
        reading.duplicates,
    )
    assert quality["quarantined"] == len(reading.rejected)


# ---------------------------------------------------------------- replay and stream

_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")


def _instant(text: str) -> dt.datetime | None:
    """The UTC instant replay must give a timestamp: its own offset, or a local time read in
    replay's zone (docs/import.md); None when the row cannot become an event."""
    when = timestamp(text) or local_time(text, ZONE)
    return None if when is None else when.astimezone(UTC)


def _expected_events() -> tuple[list[dict[str, Any]], dict[tuple[str, int], str]]:
    """The events replay must send (docs/kafka.md: every row that parses, business rules
    aside), with each one's UTC instant; and the rows it must skip, with their reasons."""
    events, skipped = [], {}
    for name, line_number, header, fields in raw_rows(CORPUS):
        if BATCH_ONLY_DAY in name:
            continue
        if len(fields) != len(header):
            skipped[(name, line_number)] = "malformed_row"
            continue
        row = dict(zip(header, fields, strict=True))
        numbers_ok = all(_INTEGER.fullmatch(row[c]) for c in ("line_no", "quantity")) and all(
            not row[c] or _DECIMAL.fullmatch(row[c]) for c in ("unit_price", "discount_pct")
        )
        when = _instant(row["timestamp"])
        if not numbers_ok or when is None:
            skipped[(name, line_number)] = "bad_number" if not numbers_ok else "bad_timestamp"
            continue
        ident = f"{row['transaction_id']}\x1f{int(row['line_no'])}".encode()
        events.append(
            {
                "event_id": hashlib.blake2b(ident, digest_size=16).hexdigest(),
                "event_time": when,
                "schema_version": 1,
                **{k: v or None for k, v in row.items()},
                "line_no": int(row["line_no"]),
                "quantity": int(row["quantity"]),
                "timestamp": row["timestamp"],
            }
        )
    return events, skipped


@pytest.fixture(scope="module")
def replayed(kafka_broker: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The corpus replayed (at full speed, replay's zone Europe/Berlin) to a new topic."""
    root = _raw_root(tmp_path_factory.mktemp("handwritten-stream"))
    settings = stream_settings(
        root, kafka_broker, new_topic("handwritten"), **{"batch.timezone": ZONE}
    )
    files = [
        p for p in sorted((root / "raw").glob("transactions_*.csv")) if BATCH_ONLY_DAY not in p.name
    ]
    summary = load_and_replay(settings, files, ReplayOptions(topic=settings.kafka.topic))
    events, skipped = _expected_events()
    assert (summary.sent, summary.delivered, summary.failed) == (len(events), len(events), 0)
    assert {(s.file, s.line_number): s.reason for s in summary.skipped} == skipped
    return settings


def _sortable(event: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f"{k}={event[k]!r}" for k in sorted(event))


def test_replayed_events_equal_the_oracle(replayed: Settings) -> None:
    expected, _ = _expected_events()
    messages = consume(replayed.kafka.bootstrap_servers, replayed.kafka.topic, len(expected))
    events = [json.loads(m.value()) for m in messages]
    assert all(m.key().decode() == e["store_id"] for m, e in zip(messages, events, strict=True))
    for event in events:
        when = dt.datetime.fromisoformat(event["event_time"])
        assert when.tzinfo is not None, event  # every event carries a real instant
        event["event_time"] = when.astimezone(UTC)
    assert sorted(map(_sortable, events)) == sorted(map(_sortable, expected))


@pytest.fixture(scope="module")
def streamed(replayed: Settings) -> Path:
    """`retailpipe stream --available-now` over the replayed topic; its storage root."""
    done = processes.run([*cli(), "stream", "--available-now"], env=cli_env(replayed), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(replayed.storage.root)


def test_stream_windows_equal_the_oracle(streamed: Path, reading: Reading) -> None:
    # The valid, de-duplicated lines at their UTC instants, through the stream oracle.
    rows = [
        {
            "transaction_id": x.transaction_id,
            "line_no": str(x.line_no),
            "timestamp": x.ts.astimezone(UTC).isoformat(),
            "store_id": x.store_id,
            "product_id": x.product_id,
            "quantity": str(x.quantity),
            "unit_price": str(x.unit_price),
            "discount_pct": str(x.discount_pct),
            "payment_method": x.payment_method,
        }
        for x in reading.lines
        if x.sale_date != BATCH_ONLY_DAY
    ]
    seen = read_windows(streamed / "stream")
    assert max(Counter(k for k, _ in seen).values()) == 1, "a window appears twice"
    assert dict(seen) == oracle_from_rows(rows)
    # Replay sends each store's events in time order: none is late.
    assert read_late(streamed / "stream_late") == {}


def test_stream_dead_letters_have_the_batch_reasons(streamed: Path) -> None:
    """The events replay sent that break a rule are dead letters with the reason batch
    gives the row (docs/stream.md)."""
    events, _ = _expected_events()
    zones = store_zones(CORPUS / "stores.csv")
    with (CORPUS / "stores.csv").open(newline="") as handle:
        stores = {r["store_id"] for r in csv.DictReader(handle)}
    with (CORPUS / "products.csv").open(newline="") as handle:
        products = {r["product_id"] for r in csv.DictReader(handle)}
    expected: Counter[tuple[str, str, str]] = Counter()
    for event in events:
        rec = {k: "" if v is None else str(v) for k, v in event.items()}
        parsed = parse_zoned(rec, zones, ZONE, stores, products)
        if isinstance(parsed, str):
            expected[(rec["transaction_id"], rec["line_no"], parsed)] += 1
    assert len(expected) == 12
    got: Counter[tuple[str, str, str]] = Counter()
    for dead in _table(streamed / "stream_dead_letter"):
        value = json.loads(dead["value"])
        got[(value["transaction_id"], str(value["line_no"]), dead["reason"])] += 1
    assert got == expected


def test_batch_reads_a_local_time_in_its_stores_zone(batch_root: Path) -> None:
    """transactions_2026-03-31.csv: local noon at N01 (America/New_York in stores.csv) is
    16:00Z (EDT), at B02 (no zone: batch.timezone, Europe/Berlin) 10:00Z (CEST)."""
    rows = _table(batch_root / "curated" / "transactions")
    got = {
        r["transaction_id"]: _utc(r["event_ts"])
        for r in rows
        if r["timestamp"][:10] == BATCH_ONLY_DAY
    }
    assert got == {
        "T0331-001": dt.datetime(2026, 3, 31, 16, tzinfo=UTC),
        "T0331-002": dt.datetime(2026, 3, 31, 10, tzinfo=UTC),
    }


def test_replay_reads_a_local_time_in_its_stores_zone(reading: Reading) -> None:
    """Replay (zone Europe/Berlin) must read N01's local noon as batch and the oracle do."""
    expected = {
        x.transaction_id: x.ts.astimezone(UTC)
        for x in reading.lines
        if x.sale_date == BATCH_ONLY_DAY
    }
    with read_source([CORPUS / f"transactions_{BATCH_ONLY_DAY}.csv"], timezone=ZONE) as source:
        got = {row.fields[0]: row.event_time.astimezone(UTC) for row in source.rows}
    assert got == expected
