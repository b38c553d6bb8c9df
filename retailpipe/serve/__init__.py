"""The dashboards: a Flask app (`create_app`) with a batch and a stream Blueprint."""

from __future__ import annotations

from retailpipe.serve.app import create_app

__all__ = ["create_app"]
