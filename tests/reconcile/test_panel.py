"""`GET /api/stream/reconcile`, what the stream page's batch-vs-stream panel shows: the last
UTC day both paths cover, its hours agreeing / explained / unexplained, against the oracle."""

from __future__ import annotations

import pytest

from retailpipe.serve import create_app
from tests.conftest import test_settings as settings_for
from tests.reconcile import oracle
from tests.reconcile.pipeline import Pipeline

pytestmark = pytest.mark.integration


def test_the_panel_tallies_the_last_day_both_paths_cover(pipeline: Pipeline) -> None:
    truth = oracle.read(pipeline.root)
    last = max(start.date() for _, start in truth.compared())
    compared = [key for key in truth.compared() if key[1].date() == last]
    differing = {key for key in truth.differing() if key[1].date() == last}
    runs_before = sorted((pipeline.root / "runs").glob("reconcile-*.json"))
    app = create_app(settings_for(pipeline.root, **{"serve.refresh_s": 0}))

    panel = app.test_client().get("/api/stream/reconcile").get_json()

    assert panel["date"] == last.isoformat()
    assert panel["hours"] == {
        "compared": len(compared),
        "agree": len(compared) - len(differing),
        "explained": len(differing),
        "unexplained": 0,
    }
    assert {(d["store_id"], d["hour"]) for d in panel["worst"]} <= {
        (store, f"{start:%Y-%m-%dT%H:%M}Z") for store, start in differing
    }
    # The dashboard only reads: no run manifest is written for it.
    assert sorted((pipeline.root / "runs").glob("reconcile-*.json")) == runs_before
