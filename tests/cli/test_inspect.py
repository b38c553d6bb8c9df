"""`retailpipe inspect` on hand-written files: mapping, first rows and reasons, no Spark."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from retailpipe.cli.app import app
from retailpipe.inspect import inspect_file
from retailpipe.settings import default_aliases

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
runner = CliRunner()


def _outcomes(output: str) -> dict[str, int]:
    """The reason table's rows: `outcome │ rows │ example`."""
    counts = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) == 3 and cells[1].replace(",", "").isdigit():
            counts[cells[0]] = int(cells[1].replace(",", ""))
    return counts


def test_a_foreign_export_without_a_zone_says_what_is_missing() -> None:
    result = runner.invoke(
        app, ["inspect", str(CORPUS / "foreign" / "till_export.csv"), "--rows", "0"]
    )
    assert result.exit_code == 0, result.output
    assert _outcomes(result.output) == {"bad_timestamp": 12, "valid": 2}  # 2 carry an offset
    assert "Order Time" in result.output and "none: derived from file and line" in result.output
    found = inspect_file(CORPUS / "foreign" / "till_export.csv", default_aliases(), None)
    assert found.details["bad_timestamp"] == (
        "timestamp 2025-03-29 09:15:02 has no UTC offset; set batch.timezone"
    )


def test_with_the_zone_every_row_reads_and_the_instants_are_utc() -> None:
    args = ["inspect", str(CORPUS / "foreign" / "till_export.csv"), "--timezone", "Europe/London"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _outcomes(result.output) == {"valid": 14}
    found = inspect_file(
        CORPUS / "foreign" / "till_export.csv", default_aliases(), "Europe/London", show=14
    )
    utc = {r.fields["timestamp"]: r.instant.strftime("%H:%M:%S") for r in found.first}
    # Worked out by hand: BST (UTC+1) from 01:00 UTC on 30 March 2025; 01:59:59 that night
    # never happened on a London clock and moves forward by the hour skipped, as in batch.
    assert utc["2025-03-29 23:59:59"] == "23:59:59"
    assert utc["2025-03-30 01:59:59"] == "01:59:59"
    assert utc["2025-03-30 03:00:00"] == "02:00:00"
    assert utc["2025-03-31 13:30:00+01:00"] == "12:30:00"
    assert sum(r.net for r in found.first) == Decimal("114.90")  # the Total column's sum


def test_the_bad_values_file_gets_the_batch_jobs_reasons() -> None:
    result = runner.invoke(app, ["inspect", str(CORPUS / "files" / "bad_values.csv")])
    assert result.exit_code == 0, result.output
    # As tests/batch/test_corpus.py expects, but for the two unknown ids (lines 9, 10),
    # which inspect cannot know without the whole input: they count as valid here.
    assert _outcomes(result.output) == {
        "valid": 3,
        "bad_number": 2,
        "bad_timestamp": 2,
        "negative_price": 1,
        "zero_quantity": 1,
        "discount_out_of_range": 1,
        "missing_field": 1,
        "malformed_row": 1,
    }


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "cannot read" in result.output and "Traceback" not in result.output
