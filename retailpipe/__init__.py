"""retailpipe: a retail point-of-sale data pipeline on Spark and Kafka."""

from __future__ import annotations

__version__ = "0.1.0"
