"""Test-only pause points, where kill tests make a run stop before they kill it.

With the point's environment variable set to a file path, a run reaching the point writes
its pid to that file and waits until the file is removed. The variables are not named
RETAILPIPE_* (the settings refuse unknown ones), and nothing sets them outside tests.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# The batch has written its whole version, just before the publish swap
# (tests/batch/test_idempotence.py).
BEFORE_BATCH_PUBLISH = "RP_TEST_PAUSE_BEFORE_PUBLISH"
# The stream's sink has published a micro-batch's windows, but not yet its store clocks,
# and Spark has not yet written the batch's commit (tests/stream/test_kill_restart.py).
STREAM_MID_PUBLISH = "RP_TEST_PAUSE_MID_STREAM_PUBLISH"


def pause_at(point: str) -> None:
    """Wait here while the marker file named by the environment variable `point` exists."""
    marker = os.environ.get(point)
    if not marker:
        return
    Path(marker).write_text(str(os.getpid()))
    while os.path.exists(marker):
        time.sleep(0.1)
