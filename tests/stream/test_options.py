"""Stream options: durations, and refusing a checkpoint written with other settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailpipe.cli.app import app
from retailpipe.errors import ConfigError
from retailpipe.settings import load_settings
from retailpipe.stream.options import StreamOptions, check_checkpoint, seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", 10),
        ("5m", 300),
        ("1h", 3600),
        ("2d", 172800),
        ("10 minutes", 600),
        ("500ms", 0.5),
        ("1 hour", 3600),
    ],
)
def test_durations(text: str, expected: float) -> None:
    assert seconds(text, "stream.window") == expected


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "5 fortnights", "0s", "-1m"])
def test_bad_durations_name_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match=r"stream\.window"):
        seconds(text, "stream.window")


def _options(**stream: str) -> StreamOptions:
    flat = {f"stream.{k}": v for k, v in stream.items()}
    return StreamOptions.from_settings(load_settings(None, flat))


def test_slide_longer_than_window_is_refused() -> None:
    with pytest.raises(ConfigError, match="slide"):
        _options(window="5m", slide="10m")


def test_checkpoint_refuses_other_topic_or_grouping(tmp_path: Path) -> None:
    check_checkpoint(tmp_path, _options())
    check_checkpoint(tmp_path, _options(watermark="1h", trigger="1s"))  # compatible changes
    with pytest.raises(ConfigError, match=r"window_s 3600 -> 1800"):
        check_checkpoint(tmp_path, _options(window="30m"))
    other_topic = StreamOptions.from_settings(load_settings(None, {"kafka.topic": "other"}))
    with pytest.raises(ConfigError, match=r"topic 'retail\.transactions' -> 'other'") as caught:
        check_checkpoint(tmp_path, other_topic)
    assert "--reset" in (caught.value.fix or "")


def test_cli_reports_a_bad_duration_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["stream", "--window", "soon", "--storage-root", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "stream.window 'soon' is not a duration" in result.output
    assert "Traceback" not in result.output


def test_a_checkpoint_of_the_driver_side_sink_is_refused_with_reset_as_the_fix(
    tmp_path: Path,
) -> None:
    from retailpipe.stream.run import prepare

    settings = load_settings(None, {"storage.root": str(tmp_path)})
    old = tmp_path / "checkpoints" / "stream"
    (old / "offsets").mkdir(parents=True)
    (old / "sink" / "state-000000000003").mkdir(parents=True)  # what retailpipe 0.1 wrote
    (tmp_path / "stream").mkdir()
    (tmp_path / "stream" / "windows-2026-01-01.parquet").write_bytes(b"PAR1")
    with pytest.raises(ConfigError, match="kept its windows on the driver") as caught:
        prepare(settings, StreamOptions.from_settings(settings), reset=False)
    assert "--reset" in (caught.value.fix or "")
    prepare(settings, StreamOptions.from_settings(settings), reset=True)  # the fix works
    assert not (old / "sink").exists() and not (tmp_path / "stream").exists()
