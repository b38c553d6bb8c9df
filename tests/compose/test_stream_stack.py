"""compose/stream.yml end to end: replay -> Kafka -> Spark stream (checkpoint on HDFS) -> the
stream dashboard's API, equal to the oracle; the stream container is stopped and started
between two replays, and nothing is counted twice or lost."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.compose.stack import Api, Stack, running
from tests.compose.stream_oracle import ALL, StreamOracle, rows

pytestmark = pytest.mark.compose

SIZE = {"RETAILPIPE_DAYS": "3", "RETAILPIPE_ROWS_PER_DAY": "3000"}
HOURS = 24 * 31  # the series' longest span: every window of the data
CATCH_UP_S = 900.0


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _figures(api: Api) -> dict[str, Any] | None:
    """What the dashboard shows: the latest window (ALL and per store), every window's net
    revenue (ALL and the stores of the latest window), and the late events."""
    summary = api.get("/api/stream/summary")
    if summary.status_code != 200:
        return None  # no windows yet
    body = summary.get_json()
    latest = body["latest_window"]
    board = api.get("/api/stream/leaderboard").get_json()["rows"]
    series = api.get(f"/api/stream/series?hours={HOURS}&top=20").get_json()
    points = {ALL: [(_time(p["window_end"]), Decimal(p["net_revenue"])) for p in series["total"]]}
    for store in series["stores"]:
        points[store["store_id"]] = [
            (_time(p["window_end"]), Decimal(p["net_revenue"])) for p in store["points"]
        ]
    board_rows = [latest, *board] if latest else board
    return {
        "latest_end": _time(latest["window_end"]) if latest else None,
        "latest": [
            (r["store_id"], r["transactions"], r["units"], Decimal(r["net_revenue"]))
            for r in board_rows
        ],
        "series": points,
        "late_events": body["late_events"],
    }


def _expected(oracle: StreamOracle) -> dict[str, Any]:
    windows = oracle.windows()
    end = oracle.latest_end()
    latest = {k[2]: v for k, v in windows.items() if k[1] == end}
    stores = sorted((s for s in latest if s != ALL), key=lambda s: (-latest[s][2], s))
    since = end - dt.timedelta(hours=HOURS)
    series = {
        group: sorted(
            (k[1], v[2]) for k, v in windows.items() if k[2] == group and since < k[1] <= end
        )
        for group in [ALL, *stores]
    }
    return {
        "latest_end": end,
        "latest": [(s, *latest[s]) for s in [ALL, *stores]],
        "series": series,
        "late_events": oracle.late,
    }


def _wait_for(api: Api, oracle: StreamOracle) -> None:
    """Poll the dashboard until it shows the oracle's figures (the stream runs a micro-batch
    every 10 s); then they must be equal, and a timeout shows the difference."""
    expected = _expected(oracle)
    deadline = time.monotonic() + CATCH_UP_S
    shown = _figures(api)
    while shown != expected and time.monotonic() < deadline:
        time.sleep(5)
        shown = _figures(api)
    assert shown is not None, "the stream dashboard never had windows"
    for key in expected:
        assert shown[key] == expected[key], key


def _batch_ids(stack: Stack, tmp: Path) -> dict[str, list[int]]:
    """run_id -> the micro-batch ids its manifest records (from the dashboard's copy)."""
    runs = stack.copy_out("serve-stream", "/serving/runs", tmp)
    out = {}
    for path in sorted(runs.glob("stream-*.json")):
        manifest = json.loads(path.read_text())
        out[manifest["run_id"]] = [b["batch_id"] for b in manifest["batches"]]
    return out


def _replay(stack: Stack, *days: str) -> None:
    # The stack's own replay service runs live (--shift-to-now --loop); the test replays
    # chosen days through the same service, as fast as the broker takes them.
    span = ["--date", days[0]] if len(days) == 1 else ["--from", days[0], "--to", days[-1]]
    stack.run("replay", "replay", "--root", "/data/local", *span, "--max")


def test_stream_stack_counts_every_event_once_across_a_restart(tmp_path: Path) -> None:
    with running("stream", SIZE) as stack, stack.logs_on_failure():
        stack.up("generate", "serve-stream")  # all but the live replay
        assert stack.wait_exited("generate") == 0
        stack.wait_healthy("serve-stream")
        raw = stack.copy_out("generate", "/data/local/raw", tmp_path)
        days = sorted(p.stem.removeprefix("transactions_") for p in raw.glob("transactions_*.csv"))
        assert len(days) == 3
        api = Api(stack.port("RETAILPIPE_STREAM_PORT"))
        oracle = StreamOracle()

        _replay(stack, days[0])
        oracle.replay(rows(raw, days[:1]))
        _wait_for(api, oracle)
        before = _batch_ids(stack, tmp_path / "before")
        assert before, "the stream wrote no run manifest"

        stack.compose("stop", "stream")
        assert stack.state("stream")["Status"] == "exited"
        stack.compose("start", "stream")

        _replay(stack, *days[1:])
        oracle.replay(rows(raw, days[1:]))
        # The later days hold rows dated on earlier days: some fall behind their store's
        # watermark, so the restarted stream must have kept the clocks of the first run.
        assert oracle.late > 0
        _wait_for(api, oracle)

        runs = _batch_ids(stack, tmp_path / "after")
        restarted = [ids for run_id, ids in runs.items() if run_id not in before]
        assert len(restarted) == 1, "the stream container ran once more"
        done = max(batch for run_id in before for batch in runs[run_id])
        # The new run went on from the checkpoint on HDFS: its batches follow the first's.
        assert restarted[0] and min(restarted[0]) > done
