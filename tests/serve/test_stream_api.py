"""The stream JSON API against window Parquet, checked with an oracle over the raw events."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pytest
from flask.testing import FlaskClient

from retailpipe.serve import create_app
from retailpipe.storage import Storage
from tests.serve.conftest import serve_settings
from tests.serve.oracle import money
from tests.serve.streamdata import (
    UTC,
    Event,
    in_window,
    make_events,
    trailing_window,
    write_stream,
)

START = dt.datetime(2026, 3, 2, 9, 0, 7, tzinfo=UTC)


def z(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def events() -> list[Event]:
    return make_events(START, minutes=150)


@pytest.fixture
def stream_client(tmp_path: Path, events: list[Event]) -> FlaskClient:
    write_stream(Storage(str(tmp_path)), events)
    return create_app(serve_settings(tmp_path), ["stream"]).test_client()


def totals(events: list[Event]) -> dict[str, object]:
    return {
        "transactions": len({e.transaction_id for e in events}),
        "units": sum(e.units for e in events),
        "net_revenue": money(sum((e.net for e in events), Decimal(0))),
    }


def test_summary_is_the_trailing_hour(stream_client: FlaskClient, events: list[Event]) -> None:
    body = stream_client.get("/api/stream/summary").get_json()
    start, end = trailing_window(events)
    latest = body["latest_window"]
    assert (latest["window_start"], latest["window_end"]) == (z(start), z(end))
    expected = totals(in_window(events, start, end))
    assert {k: latest[k] for k in expected} == expected
    assert body["late_events"] == 3
    assert body["dead_letter_events"] == 2
    assert body["status"] == "running"
    assert body["updated_at"] == z(max(e.time for e in events))
    assert body["stores_in_window"] == len({e.store_id for e in in_window(events, start, end)})


def test_summary_states_the_event_time_range_and_late_events_per_store(
    stream_client: FlaskClient, events: list[Event]
) -> None:
    body = stream_client.get("/api/stream/summary").get_json()
    first, last = min(e.time for e in events), max(e.time for e in events)
    step = dt.timedelta(minutes=5)
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert body["event_time"] == {
        "first": z(epoch + (first - epoch) // step * step),
        "last": z(last),
    }
    stores = sorted({e.store_id for e in events})
    late = {r["store_id"]: r["late_events"] for r in body["late_by_store"]}
    assert late == {s: (3 if s == "S001" else 0) for s in stores}
    assert body["late_by_store"][0]["store_id"] == "S001"
    newest = {r["store_id"]: r["max_event_time"] for r in body["late_by_store"]}
    assert newest == {s: z(max(e.time for e in events if e.store_id == s)) for s in stores}


def test_leaderboard_ranks_stores_of_the_latest_window(
    stream_client: FlaskClient, events: list[Event]
) -> None:
    rows = stream_client.get("/api/stream/leaderboard").get_json()["rows"]
    start, end = trailing_window(events)
    stores = sorted({e.store_id for e in in_window(events, start, end)})
    expected = sorted(
        ((s, totals(in_window(events, start, end, s))) for s in stores),
        key=lambda r: (-Decimal(r[1]["net_revenue"]), r[0]),
    )
    assert [
        (r["store_id"], {k: r[k] for k in ("transactions", "units", "net_revenue")}) for r in rows
    ] == expected
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))


def test_series_total_and_top_stores(stream_client: FlaskClient, events: list[Event]) -> None:
    body = stream_client.get("/api/stream/series?hours=1&top=2").get_json()
    _, end = trailing_window(events)
    ends = [end - dt.timedelta(minutes=5 * i) for i in range(11, -1, -1)]
    assert body["total"] == [
        {
            "window_end": z(e),
            "net_revenue": totals(in_window(events, e - dt.timedelta(hours=1), e))["net_revenue"],
        }
        for e in ends
    ]
    leaders = [
        r["store_id"] for r in stream_client.get("/api/stream/leaderboard").get_json()["rows"][:2]
    ]
    assert [s["store_id"] for s in body["stores"]] == leaders
    for store in body["stores"]:
        for point in store["points"]:
            e = dt.datetime.fromisoformat(point["window_end"])
            expected = totals(in_window(events, e - dt.timedelta(hours=1), e, store["store_id"]))
            assert point["net_revenue"] == expected["net_revenue"]


def test_new_windows_show_up(tmp_path: Path, events: list[Event]) -> None:
    storage = Storage(str(tmp_path))
    write_stream(storage, events)
    client = create_app(serve_settings(tmp_path), ["stream"]).test_client()
    first = client.get("/api/stream/summary").get_json()["latest_window"]
    more = events + make_events(max(e.time for e in events), minutes=20, seed=9)
    write_stream(storage, more)
    second = client.get("/api/stream/summary").get_json()["latest_window"]
    start, end = trailing_window(more)
    assert second["window_end"] == z(end) != first["window_end"]
    assert second["net_revenue"] == totals(in_window(more, start, end))["net_revenue"]


def test_no_stream_data_yet(tmp_path: Path) -> None:
    client = create_app(serve_settings(tmp_path), ["stream"]).test_client()
    assert client.get("/stream/").status_code == 200
    response = client.get("/api/stream/summary")
    assert response.status_code == 404
    assert "retailpipe stream" in response.get_json()["fix"]


def test_bad_series_params_are_400(stream_client: FlaskClient) -> None:
    for query in ("hours=0", "hours=abc", "top=99", "top=-1"):
        response = stream_client.get(f"/api/stream/series?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["message"]


def test_reads_what_the_stream_publisher_writes(tmp_path: Path, events: list[Event]) -> None:
    """The same windows published by the stream job's own writer (day files, atomic renames)."""
    from retailpipe.stream import publish
    from tests.serve.streamdata import windows

    storage = Storage(str(tmp_path))
    table = windows(events)
    stores = table.filter(pc.not_equal(table["store_id"], "ALL"))  # the writer adds ALL
    publish.publish_windows(storage.path("stream"), stores, max(e.time for e in events))
    client = create_app(serve_settings(tmp_path), ["stream"]).test_client()
    latest = client.get("/api/stream/summary").get_json()["latest_window"]
    start, end = trailing_window(events)
    assert (latest["window_start"], latest["window_end"]) == (z(start), z(end))
    expected = totals(in_window(events, start, end))
    assert {k: latest[k] for k in expected} == expected


def _csv(stream_client: FlaskClient, path: str, filename: str) -> list[dict[str, str]]:
    response = stream_client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{filename}"'
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_leaderboard_csv_holds_the_oracle_ranking(
    stream_client: FlaskClient, events: list[Event]
) -> None:
    rows = _csv(stream_client, "/api/stream/leaderboard.csv", "stream_leaderboard.csv")
    start, end = trailing_window(events)
    stores = sorted({e.store_id for e in in_window(events, start, end)})
    expected = sorted(
        ((s, totals(in_window(events, start, end, s))) for s in stores),
        key=lambda r: (-Decimal(r[1]["net_revenue"]), r[0]),
    )
    got = [
        (r["store_id"], {"transactions": int(r["transactions"]), "units": int(r["units"])})
        for r in rows
    ]
    assert got == [
        (s, {"transactions": t["transactions"], "units": t["units"]}) for s, t in expected
    ]
    assert [r["net_revenue"] for r in rows] == [t["net_revenue"] for _, t in expected]
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]


def test_series_csv_holds_the_total_and_top_stores_of_the_oracle(
    stream_client: FlaskClient, events: list[Event]
) -> None:
    rows = _csv(stream_client, "/api/stream/series.csv?hours=1&top=2", "stream_series.csv")
    assert rows and set(rows[0]) == {"store_id", "window_end", "net_revenue"}
    stores = {r["store_id"] for r in rows} - {"ALL"}
    assert len(stores) == 2
    _, end = trailing_window(events)
    ends = {z(end - dt.timedelta(minutes=5 * i)) for i in range(12)}
    assert {r["window_end"] for r in rows if r["store_id"] == "ALL"} == ends
    for row in rows:
        e = dt.datetime.fromisoformat(row["window_end"].replace("Z", "+00:00"))
        store = None if row["store_id"] == "ALL" else row["store_id"]
        expected = totals(in_window(events, e - dt.timedelta(hours=1), e, store))
        assert row["net_revenue"] == expected["net_revenue"], row
