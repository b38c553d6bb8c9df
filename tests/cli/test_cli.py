"""The CLI through CliRunner: help with examples, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailpipe.cli.app import app

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


@pytest.mark.parametrize(
    "command",
    [
        ["generate"],
        ["batch"],
        ["replay"],
        ["stream"],
        ["serve", "batch"],
        ["config", "show"],
        ["doctor"],
        ["kafka", "up"],
        ["hdfs", "up"],
        ["demo"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("command", ["generate", "batch", "replay", "stream", "demo"])
def test_stage_help_shows_examples(command: str) -> None:
    result = invoke(command, "--help")
    assert "Example" in result.output and f"retailpipe {command}" in result.output


def test_generate_writes_files_and_summary(tmp_path: Path) -> None:
    result = invoke("generate", "--days", "2", "--rows-per-day", "300", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "rows" in result.output
    manifest = json.loads((tmp_path / "raw" / "_manifest.json").read_text())
    assert manifest["parameters"]["days"] == 2
    assert len(list((tmp_path / "raw").glob("transactions_*.csv"))) == 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", "--days", "0"], "generate.days"),
        (["generate", "--start-date", "2026-02-30"], "--start-date"),
        (["generate", "--timezone", "Nowhere/City"], "time zone"),
        (["generate", "--bad-row-rate", "2"], "generate.bad_row_rate"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    args: list[str], needle: str, tmp_path: Path
) -> None:
    result = invoke(*args, "--out", str(tmp_path))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Fix:" in lines[0]
    assert needle in lines[0]
    assert "Traceback" not in result.output


def test_unwritable_out_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = invoke("generate", "--days", "1", "--out", str(blocker / "sub"))
    assert result.exit_code == 2, result.output
    # Only the error line is checked: in the shared test process another thread's log
    # record can land in the captured output too (seen once).
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: cannot create"), result.output
    assert "Traceback" not in result.output


def test_overwrite_needs_force(tmp_path: Path) -> None:
    assert (
        invoke("generate", "--days", "1", "--rows-per-day", "100", "--out", str(tmp_path)).exit_code
        == 0
    )
    result = invoke("generate", "--days", "1", "--rows-per-day", "200", "--out", str(tmp_path))
    assert result.exit_code == 2 and "--force" in result.output
    forced = invoke(
        "generate", "--days", "1", "--rows-per-day", "200", "--out", str(tmp_path), "--force"
    )
    assert forced.exit_code == 0


def test_unknown_config_key_in_env_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage]\nrot = 'x'\n")
    result = invoke("--config", str(bad), "config", "show")
    assert result.exit_code == 2
    assert "storage.rot" in result.output and "Traceback" not in result.output


def test_config_show_json_masks_secrets(tmp_path: Path) -> None:
    result = invoke(
        "config", "show", "--json", env={"RETAILPIPE_KAFKA__SASL_PASSWORD": "s3cret-value"}
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kafka"]["sasl_password"] == "**********"
    assert "s3cret-value" not in result.output


def test_config_show_env_precedence() -> None:
    result = invoke("config", "show", "--json", env={"RETAILPIPE_STORAGE__ROOT": "/env/root"})
    assert json.loads(result.output)["storage"]["root"] == "/env/root"


def test_console_script_and_module_entry_point(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "retailpipe",
            "--config",
            str(tmp_path / "missing.toml"),
            "config",
            "show",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: config file") and "Traceback" not in out.stderr
    debug = subprocess.run(
        [
            sys.executable,
            "-m",
            "retailpipe",
            "--debug",
            "--config",
            str(tmp_path / "missing.toml"),
            "config",
            "show",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_doctor_reports_python_and_java() -> None:
    result = invoke("doctor")
    assert "Python" in result.output and "Java" in result.output and "PySpark" in result.output
    assert "Stream workers" in result.output
    assert result.exit_code == 0, result.output


def test_doctor_fails_when_the_stream_workers_python_lacks_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import venv

    venv.create(tmp_path / "bare", with_pip=False)
    monkeypatch.setenv("PYSPARK_PYTHON", str(tmp_path / "bare" / "bin" / "python"))
    result = invoke("doctor")
    assert result.exit_code != 0
    assert "numpy" in result.output  # the module it could not import
    assert "1 required check(s) failed: Stream workers' Python" in result.output


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [(True, True, 1), (False, True, 2), (False, False, 3)],
    ids=["flag-wins", "env-over-file", "file"],
)
def test_flag_beats_env_beats_file_through_the_cli(
    tmp_path: Path, flag: bool, env: bool, expected: int
) -> None:
    """One setting (generate.days) given three ways; the run's manifest records what won."""
    config = tmp_path / "retailpipe.toml"
    config.write_text("[generate]\ndays = 3\nrows_per_day = 40\nworkers = 1\n")
    args = ["--config", str(config), "generate", "--out", str(tmp_path / "data")]
    result = invoke(
        *args,
        *(["--days", "1"] if flag else []),
        env={"RETAILPIPE_GENERATE__DAYS": "2"} if env else None,
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "data" / "raw" / "_manifest.json").read_text())
    assert manifest["parameters"]["days"] == expected
    assert manifest["parameters"]["rows_per_day"] == 40  # the file's, where nothing overrides
    assert len(list((tmp_path / "data" / "raw").glob("transactions_*.csv"))) == expected
