"""Vectorised reading of raw files vs a plain csv-module + datetime oracle, on awkward input.

The reader takes a fast columnar path for plain files and the csv module for quoted ones;
both must keep and skip exactly the rows the oracle does, with the same event times.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest

from retailpipe.errors import InputError
from retailpipe.replay.events import payloads
from retailpipe.replay.source import Source, read_source
from retailpipe.schemas import RAW_COLUMNS

HEADER = ",".join(RAW_COLUMNS)
INTEGER = re.compile(r"-?\d+")
DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")

AWKWARD = [
    "T1,1,2026-01-01T08:00:00-05:00,S1,P1,toys,1,1.00,0.10,card,C1",
    "T1,007,2026-01-01T08:00:00-05:00,S1,P1,toys,-0,1.00,,card,",  # non-canonical integers
    "T2,1,2026-01-01T13:00:00+00:00,S2,P1,to\\ys,1,.5,0.,cash,C2",  # backslash to escape
    "T3,1,2026-01-01T13:00:00-00:00,S2,P1,toys,1,5.,0.1,cash,C2",
    "T4,1,2026-01-01 13:00:00.123456+05:30,S2,P1,toys,1,5,0.1,cash,C2",
    "T5,1,2026-01-01T13:00:00Z,S2,P1,toys,1,5,0.1,cash,C2",
    "T6,1,2026-01-01T13:00:00,S2,P1,toys,1,5,0.1,cash,C2",  # no offset
    "T7,1,2026-02-29T13:00:00+00:00,S2,P1,toys,1,5,0.1,cash,C2",  # not a leap year
    "T8,1,2024-02-29T13:00:00+00:00,S2,P1,toys,1,5,0.1,cash,C2",
    "T9,1,2026-01-01T24:00:00+00:00,S2,P1,toys,1,5,0.1,cash,C2",
    "T10,\u0661\u0662,2026-01-01T10:00:00+00:00,S2,P1,toys,\u0663,5,0.1,cash,C2",  # Arabic digits
    "T11,1,2026-01-01T10:00:00+00:00,S2,P1,toys,1,1e5,0.1,cash,C2",
    "T12,1,2026-01-01T10:00:00+00:00,S2,P1,toys,1,5,0.1",  # too few fields
    "T13,1,2026-01-01T10:00:00+00:00,S2,P1,t\u00f6,1,5,0.1,cash,C2,extra",  # too many
    "T14,1,2026-01-01T10:00:00+23:59,S2,P1,\u00fcn\u00ef,1,5,0.1,cash,C2",
    "T15,1,2026-01-01T10:00:00+24:00,S2,P1,x,1,5,0.1,cash,C2",
    "T16,1,2026-01-01T10:00:00.5+00:00,S2,P1,x\x01y,1,5,0.1,cash,C2",  # control character
    "T18,1,2026-01-01T10:00:00+05:30:15,S2,P1,x,1,5,0.1,cash,C2",
    "T19,1,2026-01-01T07:00:00-05:00,,P1,,2,5,0.1,,",  # empty text -> null
    " ",
    "T20,1,1999-12-31T23:59:59+14:00,S2,P1,x,1,-5,-0.1,cash,C2",
    "T21,two,2026-01-01T10:00:00+00:00,S2,P1,x,1,5,0.1,cash,C2",
    "T22,1,yesterday,S2,P1,x,N/A,5,0.1,cash,C2",  # both bad: the number is reported
]


def oracle(path: Path) -> tuple[list[tuple[int, dt.datetime]], dict[int, str]]:
    """(kept rows as (line, event time), {skipped line: reason}), by csv + datetime."""
    kept, skipped = [], {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        width = len(next(reader))
        for values in reader:
            line = reader.line_num
            if len(values) != width:
                skipped[line] = "malformed_row"
                continue
            row = dict(zip(RAW_COLUMNS, values, strict=True))
            if not (
                INTEGER.fullmatch(row["line_no"])
                and INTEGER.fullmatch(row["quantity"])
                and all(
                    not row[c] or DECIMAL.fullmatch(row[c]) for c in ("unit_price", "discount_pct")
                )
            ):
                skipped[line] = "bad_number"
                continue
            try:
                when = dt.datetime.fromisoformat(row["timestamp"])
            except ValueError:
                when = None
            if when is None or when.tzinfo is None:
                skipped[line] = "bad_timestamp"
                continue
            kept.append((line, when))
    return kept, skipped


def check_against_oracle(source: Source, path: Path) -> None:
    kept, skipped = oracle(path)
    assert {(s.line_number, s.reason) for s in source.skipped} == set(skipped.items())
    rows = source.rows
    assert sorted(r.line_number for r in rows) == [line for line, _ in kept]
    times = dict(kept)
    for row in rows:
        want = times[row.line_number]
        assert row.event_time == want and row.event_time.utcoffset() == want.utcoffset()
        assert row.epoch == pytest.approx(want.timestamp(), abs=1e-6)
        assert row.event_time.isoformat() == want.isoformat()
    # Send order: event time, ties in line order.
    expected = sorted(kept, key=lambda item: (item[1].timestamp(), item[0]))
    assert [r.line_number for r in rows] == [line for line, _ in expected]


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.write_text(text, encoding="utf-8", newline=newline)
    return path


@pytest.mark.parametrize("variant", ["plain", "crlf", "empty_lines", "no_final_newline", "quoted"])
def test_awkward_rows_are_kept_and_skipped_like_the_oracle(tmp_path: Path, variant: str) -> None:
    body = AWKWARD
    if variant == "empty_lines":
        body = [*AWKWARD[:5], "", *AWKWARD[5:], ""]
    text = "\n".join([HEADER, *body]) + ("" if variant == "no_final_newline" else "\n")
    if variant == "quoted":
        text += 'T30,1,2026-01-01T10:00:00+00:00,"S,2",P1,"multi\nline",1,5,0.1,cash,"C""2"\n'
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    path = write(tmp_path / "transactions_2026-01-01.csv", text, newline="")
    source = read_source([path])
    check_against_oracle(source, path)
    assert len(source.skipped) >= 10
    by_line = {r.line_number: r for r in source.rows}
    assert by_line[3].fields[1] == "7" and by_line[3].fields[6] == "0"  # as int() writes them
    if variant == "quoted":
        quoted = next(r for r in source.rows if r.fields[0] == "T30")
        assert quoted.fields[3] == "S,2" and quoted.fields[5] == "multi\nline"
        assert quoted.fields[10] == 'C"2'


def test_quoted_and_plain_copies_read_the_same(tmp_path: Path) -> None:
    rows = [line.split(",") for line in AWKWARD if line.count(",") == 10]
    plain = write(tmp_path / "a.csv", "\n".join([HEADER, *map(",".join, rows)]) + "\n")
    with (tmp_path / "b.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(RAW_COLUMNS)
        writer.writerows(rows)
    fast, exact = read_source([plain]), read_source([tmp_path / "b.csv"])

    def view(source: Source) -> list[tuple[object, ...]]:
        return [(r.line_number, r.fields, r.event_time, r.iso_time) for r in source.rows]

    assert view(fast) == view(exact)
    assert [(s.line_number, s.reason, s.detail, s.raw) for s in fast.skipped] == [
        (s.line_number, s.reason, s.detail, s.raw) for s in exact.skipped
    ]


def test_random_timestamps_match_datetime(tmp_path: Path) -> None:
    rng = random.Random(7)
    stamps = []
    for _ in range(4000):
        year = rng.choice([1, 2, 1900, 1970, 2000, 2024, 2026, 2100, 9998, 9999])
        parts = (
            year,
            rng.randint(0, 13),
            rng.randint(0, 32),
            rng.randint(0, 24),
            rng.randint(0, 60),
            rng.randint(0, 60),
        )
        offset = f"{rng.choice('+-')}{rng.randint(0, 24):02d}:{rng.choice([0, 30, 45, 60]):02d}"
        stamps.append("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(*parts) + offset)
    lines = [f"T{i},1,{stamp},S1,P1,x,1,5,0.1,cash,C1" for i, stamp in enumerate(stamps)]
    path = write(tmp_path / "t.csv", "\n".join([HEADER, *lines]) + "\n")
    source = read_source([path])
    kept, skipped = oracle(path)
    assert len(kept) > 1000 and len(skipped) > 1000
    check_against_oracle(source, path)
    # Unshifted event_time is the CSV text when that is already ISO 8601 with an offset.
    texts = {i + 2: stamp for i, stamp in enumerate(stamps)}
    assert all(r.iso_time == texts[r.line_number] for r in source.rows)


def test_files_are_merged_in_event_time_order_ties_by_file_then_line(tmp_path: Path) -> None:
    first = write(
        tmp_path / "a.csv",
        "\n".join(
            [
                HEADER,
                "A1,1,2026-01-02T10:00:00+00:00,S1,P1,x,1,5,0.1,cash,C1",
                "A2,1,2026-01-01T05:00:00-05:00,S1,P1,x,1,5,0.1,cash,C1",  # 10:00 UTC
            ]
        )
        + "\n",
    )
    second = write(
        tmp_path / "b.csv",
        "\n".join(
            [
                HEADER,
                "B1,1,2026-01-01T11:00:00+01:00,S1,P1,x,1,5,0.1,cash,C1",  # 10:00 UTC
                "B2,1,2026-01-01T09:59:59+00:00,S1,P1,x,1,5,0.1,cash,C1",
            ]
        )
        + "\n",
    )
    source = read_source([first, second])
    assert [r.fields[0] for r in source.rows] == ["B2", "A2", "B1", "A1"]
    assert [r.file for r in source.rows] == ["b.csv", "a.csv", "b.csv", "a.csv"]


def test_local_times_are_read_in_batch_timezone(tmp_path: Path) -> None:
    """As the batch job reads them: in the zone, or skipped with the fix. Worked by hand:
    London moved from GMT to BST at 01:00 UTC on 30 March 2025."""
    path = tmp_path / "transactions_2025-03-30.csv"
    rows = [
        "L1,1,2025-03-30 00:30:00,S1,P1,toys,1,2.00,0,card,",  # GMT: 00:30Z
        "L2,1,2025-03-30T03:00:00,S1,P1,toys,1,2.00,0,card,",  # BST: 02:00Z
        "L3,1,2025-03-30T01:30:00Z,S1,P1,toys,1,2.00,0,card,",  # an instant already
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    with read_source([path]) as source:
        assert [s.reason for s in source.skipped] == ["bad_timestamp", "bad_timestamp"]
        assert "has no UTC offset; set batch.timezone" in source.skipped[0].detail
    with read_source([path], timezone="Europe/London") as source:
        assert not source.skipped
        sent = [row for batch in source.batches() for row in batch.to_pylist()]
    instants = [
        dt.datetime.fromtimestamp(row["_epoch_us"] / 1e6, dt.UTC).strftime("%H:%M") for row in sent
    ]
    assert [row["transaction_id"] for row in sent] == ["L1", "L3", "L2"]  # event-time order
    assert instants == ["00:30", "01:30", "02:00"]


def test_numbers_padded_with_spaces_are_sent_as_the_batch_reads_them(tmp_path: Path) -> None:
    """The batch job trims every field, so ` 2 ` is the quantity 2 there; replay sends it."""
    path = tmp_path / "transactions_2026-01-01.csv"
    row = "P1, 1 ,2026-01-01T10:00:00+00:00,S1,P1,toys, 2 , 2.50 ,0.1 ,card,"
    path.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
    with read_source([path]) as source:
        assert not source.skipped
        (batch,) = list(source.batches())
        (event,) = [json.loads(value) for value in payloads(batch)]
    assert (event["line_no"], event["quantity"]) == (1, 2)
    assert Decimal(event["unit_price"]) == Decimal("2.50")
    assert Decimal(event["discount_pct"]) == Decimal("0.1")


def test_an_unknown_zone_in_stores_csv_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "transactions_2026-01-01.csv"
    path.write_text(f"{HEADER}\nZ1,1,2026-01-01 10:00:00,S1,P1,toys,1,2.00,0,card,\n")
    (tmp_path / "stores.csv").write_text("store_id,timezone\nS1,Europe/Atlantis\n")
    with pytest.raises(InputError) as caught:
        read_source([path])
    assert caught.value.one_line().startswith(
        f"{tmp_path / 'stores.csv'} names the unknown time zone 'Europe/Atlantis'"
    )
