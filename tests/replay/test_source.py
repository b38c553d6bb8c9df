"""Reading raw files for replay: what is skipped, what is kept, and in which order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from retailpipe.errors import InputError
from retailpipe.replay.source import read_source, select_files
from retailpipe.storage import Storage
from tests.replay.helpers import PARSE_DEFECTS, defect_lines, make_data, sendable, utc


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Storage:
    return make_data(tmp_path_factory.mktemp("replay-source"), days=3, rows_per_day=400, bad=0.03)


def test_skips_exactly_the_unparsable_defects(storage: Storage) -> None:
    source = read_source(select_files(storage, None, None, None))
    skipped = {(row.file, row.line_number) for row in source.skipped}
    expected = defect_lines(storage, PARSE_DEFECTS)
    assert expected, "the fixture must contain unparsable rows"
    assert skipped == expected
    kinds = {d["file"] + str(d["line_number"]): d["kind"] for d in _defects(storage)}
    assert all(kinds[row.file + str(row.line_number)] == row.reason for row in source.skipped)


def test_keeps_every_other_row_once_in_event_time_order(storage: Storage) -> None:
    source = read_source(select_files(storage, None, None, None))
    expected = sendable(storage)
    assert sorted((r.file, r.line_number) for r in source.rows) == sorted(
        (r.file, r.line_number) for r in expected
    )
    # Invalid-but-parsable rows (negative price, zero quantity) still travel: the stream
    # dead-letters them with a reason.
    kept = {(r.file, r.line_number) for r in source.rows}
    assert defect_lines(storage, {"negative_price", "zero_quantity"}) <= kept
    by_position = {(r.file, r.line_number): r for r in expected}
    times = [utc(by_position[(r.file, r.line_number)].values["timestamp"]) for r in source.rows]
    assert times == sorted(times)


def test_late_rows_move_to_their_true_time(storage: Storage) -> None:
    source = read_source(select_files(storage, None, None, None))
    late = defect_lines(storage, {"late_row"})
    assert late
    order = [(r.file, r.line_number) for r in source.rows]
    first_of_own_file: dict[str, int] = {}
    for index, key in enumerate(order):
        if key not in late:
            first_of_own_file.setdefault(key[0], index)
    # A late row dated on an earlier day is sent before the first row of its own file.
    assert all(order.index(key) < first_of_own_file[key[0]] for key in late)


def test_selects_files_by_date_and_range(storage: Storage) -> None:
    day = dt.date(2026, 1, 2)
    assert [p.name for p in select_files(storage, day, None, None)] == [
        "transactions_2026-01-02.csv"
    ]
    names = [p.name for p in select_files(storage, None, dt.date(2026, 1, 2), None)]
    assert names == ["transactions_2026-01-02.csv", "transactions_2026-01-03.csv"]
    names = [p.name for p in select_files(storage, None, None, dt.date(2026, 1, 1))]
    assert names == ["transactions_2026-01-01.csv"]


def test_missing_input_is_a_clear_error(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no raw transaction files for 2030-01-01"):
        select_files(storage, dt.date(2030, 1, 1), None, None)
    with pytest.raises(InputError, match="no raw folder"):
        select_files(Storage(str(tmp_path / "empty")), None, None, None)


def test_a_file_without_required_columns_is_rejected(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "transactions_2026-01-01.csv").write_text("order_time,store\n2026-01-01T10:00:00Z,S1\n")
    files = select_files(Storage(str(tmp_path)), None, None, None)
    with pytest.raises(InputError, match="lacks the column"):
        read_source(files)


def _defects(storage: Storage) -> list[dict[str, object]]:
    from tests.replay.helpers import manifest

    return manifest(storage)["defects"]
