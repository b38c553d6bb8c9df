"""Send order of a multi-day replay with late rows equals an independent sort of the raw rows.

The input is generated days (late rows one or two days older than their file) plus three
hand-written days (rows far out of order, ties at one instant within and across files,
skipped rows, a quoted CRLF file with a line break inside a value). The oracle
(`order_oracle.py`) reads them with csv + decimal + datetime only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from retailpipe.replay import runs
from retailpipe.replay.run import ReplayOptions, replay
from retailpipe.replay.source import read_source, select_files
from retailpipe.settings import load_settings
from retailpipe.storage import Storage
from tests.replay.helpers import consume, make_data, new_topic
from tests.replay.order_oracle import OracleRow, send_order

HAND = Path(__file__).parent / "order_data"
# Worked out by hand from the three files (UTC instants; ties by file, then line).
HAND_ORDER = [
    "B4",  # 2025-03-02 12:00, a year before the rest, in the second file
    "A2",  # 03-01 13:00, third line of the first file
    "C2",  # 03-01 13:00, two days late in the third file
    "C3",  # 03-01 13:00 (08:00-05:00)
    "A1",  # 03-01 14:00 (09:00-05:00), line 1 of the receipt
    "A1",  # the same instant, line 2
    "A5",  # 03-01 14:00 (+00:00), later in the same file
    "B2",  # 03-01 14:00, a day late in the second file
    "B5",  # 03-02 13:59:59.999999
    "A3",  # 03-02 14:00 (15:00+01:00), a day early in the first file
    "B1",  # 03-02 14:00, quoted value over two lines
    "B3",  # 03-02 14:00 (09:00-05:00)
    "C5",  # 03-03 04:30 (03-02 23:30-05:00)
    "C1",  # 03-03 10:00
    "C4",  # 03-03 10:00 (Z)
    "A4",  # 2027, in the first file
]


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Storage:
    storage = make_data(tmp_path_factory.mktemp("replay-order"), days=4, rows_per_day=1500)
    for path in HAND.glob("transactions_*.csv"):
        shutil.copy(path, storage.path("raw"))
    return storage


@pytest.fixture(scope="module")
def oracle(storage: Storage) -> list[OracleRow]:
    return send_order(storage.path("raw"))


def test_the_oracle_agrees_with_the_hand_worked_order() -> None:
    assert [row.values["transaction_id"] for row in send_order(HAND)] == HAND_ORDER


def test_the_input_has_late_rows_and_ties_across_files(oracle: list[OracleRow]) -> None:
    # Rows sent before the last row of an earlier file: plain file-by-file order is wrong.
    last_of_file: dict[int, int] = {}
    for position, row in enumerate(oracle):
        last_of_file[row.file_index] = position
    late = [
        row
        for position, row in enumerate(oracle)
        if any(last_of_file[earlier] > position for earlier in range(row.file_index))
    ]
    generated_late = [row for row in late if not row.file.startswith("transactions_2026-03")]
    assert len(generated_late) >= 30, "the generated days must hold late rows"
    # Ties at one instant across files: the tie-break by file is exercised.
    instants = [row.instant for row in oracle]
    tied = {
        (oracle[i].instant, oracle[i].file_index, oracle[i + 1].file_index)
        for i in range(len(oracle) - 1)
        if instants[i] == instants[i + 1] and oracle[i].file_index != oracle[i + 1].file_index
    }
    assert len(tied) >= 3


@pytest.mark.parametrize("batch_rows", [2, 97, runs.RUN_BATCH])
def test_rows_come_in_the_oracles_order(
    storage: Storage, oracle: list[OracleRow], batch_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches: each merge step sends a few rows, with several runs open at once.
    monkeypatch.setattr(runs, "RUN_BATCH", batch_rows)
    with read_source(select_files(storage, None, None, None)) as source:
        got = [(row.fields[0], row.fields[1], row.fields[2]) for row in source.rows]
        assert len(source.runs) == 7
    assert len(got) == len(oracle) > 5000
    assert got == [row.key for row in oracle]


@pytest.mark.integration
def test_a_consumer_reads_the_oracles_order(
    storage: Storage, oracle: list[OracleRow], kafka_broker: str
) -> None:
    settings = load_settings(
        None,
        {
            "storage.root": storage.root,
            "kafka.bootstrap_servers": kafka_broker,
            "kafka.partitions": 1,  # one partition: the consumer sees the send order
        },
    )
    want = [_event_key(row.key) for row in oracle]
    topic = new_topic()
    limit = len(oracle) + 40  # a second pass, cut by the limit
    with read_source(select_files(storage, None, None, None)) as source:
        options = ReplayOptions(topic=topic, mode="max", loop=True, limit=limit)
        summary = replay(settings, source, options)
    assert (summary.sent, summary.delivered, summary.passes) == (limit, limit, 2)
    messages = consume(kafka_broker, topic, limit)
    events = [json.loads(message.value()) for message in messages]
    assert [message.partition() for message in messages] == [0] * limit
    got = [(e["transaction_id"], e["line_no"], e["timestamp"]) for e in events]
    assert got == want + want[:40]
    assert summary.first_event_time == oracle[0].values["timestamp"]
    assert summary.last_event_time == oracle[39].values["timestamp"]


def _event_key(key: tuple[str, str, str]) -> tuple[str, int, str]:
    transaction_id, line_no, timestamp = key
    return transaction_id, int(line_no), timestamp


def test_a_file_starting_where_an_open_batch_ends_goes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second file's first batch (two rows) ends at 10:00, the instant of the first
    # file's only row: the first file must be opened then, and its row sent first.
    header = (HAND / "transactions_2026-03-01.csv").read_text().splitlines()[0]
    rows = {
        "transactions_2026-01-01.csv": ["10:00"],
        "transactions_2026-01-02.csv": ["09:00", "10:00", "11:00"],
    }
    for name, clocks in rows.items():
        lines = [
            f"{name[13:23]}-{n},1,2026-01-01T{clock}:00+00:00,S1,P1,toys,1,5.00,0.00,card,C1"
            for n, clock in enumerate(clocks)
        ]
        (tmp_path / name).write_text("\n".join([header, *lines]) + "\n")
    monkeypatch.setattr(runs, "RUN_BATCH", 2)
    with read_source(sorted(tmp_path.glob("transactions_*.csv"))) as source:
        got = [row.fields[0] for row in source.rows]
    want = ["2026-01-02-0", "2026-01-01-0", "2026-01-02-1", "2026-01-02-2"]
    assert [row.values["transaction_id"] for row in send_order(tmp_path)] == want
    assert got == want
