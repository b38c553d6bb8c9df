"""compose/batch.yml end to end: generate -> HDFS -> Spark batch -> the batch dashboard's API,
which must equal the plain-Python oracle over the raw files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.compose.stack import Api, running
from tests.serve import oracle
from tests.serve.batch_checks import check_view

pytestmark = pytest.mark.compose

# Small data: the stack and its start order are under test, not Spark's speed.
SIZE = {"RETAILPIPE_DAYS": "7", "RETAILPIPE_ROWS_PER_DAY": "3000"}


def test_batch_stack_serves_what_the_raw_files_hold(tmp_path: Path) -> None:
    with running("batch", SIZE) as stack, stack.logs_on_failure():
        # Compose itself orders generate -> hdfs-upload -> batch -> serve-batch by the
        # health checks and completions the file declares.
        stack.up()
        assert stack.wait_exited("batch") == 0
        stack.wait_healthy("serve-batch")

        # The curated tables are on HDFS, where storage.root points.
        listing = stack.run(
            "hdfs-upload", "hdfs", "dfs", "-fs", "hdfs://namenode:8020", "-ls", "-R", "/retailpipe"
        )
        assert "/retailpipe/raw/transactions_" in listing
        assert ".parquet" in listing and "/retailpipe/curated/" in listing

        raw = stack.copy_out("generate", "/data/local/raw", tmp_path)
        assert len(list(raw.glob("transactions_*.csv"))) == 7  # RETAILPIPE_DAYS reached generate
        lines = oracle.load_lines(tmp_path)
        api = Api(stack.port("RETAILPIPE_BATCH_PORT"))
        check_view(api, lines)  # type: ignore[arg-type]  # the HTTP client quacks like Flask's
        first = min(x.sale_date for x in lines)
        store = sorted({x.store_id for x in lines})[0]
        category = sorted({x.category for x in lines})[-1]
        day = dt.timedelta(days=1)
        check_view(api, lines, first + day, first + 4 * day, store=store)  # type: ignore[arg-type]
        check_view(api, lines, first + 2 * day, None, category=category)  # type: ignore[arg-type]
