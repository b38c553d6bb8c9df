"""Dataset names -> URIs under the storage root; the only place paths are built."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from retailpipe.errors import ConfigError

# Every dataset retailpipe reads or writes, relative to the storage root.
DATASETS: dict[str, str] = {
    "raw": "raw",
    "stores": "raw/stores.csv",
    "products": "raw/products.csv",
    "manifest": "raw/_manifest.json",
    "curated": "curated",
    "transactions": "curated/transactions",
    "daily_sales": "curated/daily_sales",
    "daily_store_sales": "curated/daily_store_sales",
    "daily_category_sales": "curated/daily_category_sales",
    "daily_product_sales": "curated/daily_product_sales",
    "daily_payment_sales": "curated/daily_payment_sales",
    "hourly_sales": "curated/hourly_sales",
    "daily_store_category_sales": "curated/daily_store_category_sales",
    "daily_store_product_sales": "curated/daily_store_product_sales",
    "daily_store_payment_sales": "curated/daily_store_payment_sales",
    "hourly_store_sales": "curated/hourly_store_sales",
    "split_receipts": "curated/split_receipts",
    "curated_csv": "curated/csv",
    "quarantine": "quarantine",
    "runs": "runs",
    "stream": "stream",
    "stream_dead_letter": "stream_dead_letter",
    "stream_late": "stream_late",
    "stream_stores": "stream_stores",
    "checkpoints": "checkpoints/stream",
    "staging": "_staging",
    # One hidden folder per batch run; see retailpipe/batch/publish.py.
    "versions": "_versions",
}

AGGREGATES: tuple[str, ...] = (
    "daily_sales",
    "daily_store_sales",
    "daily_category_sales",
    "daily_product_sales",
    "daily_payment_sales",
    "hourly_sales",
    # The dashboards' cube (sale_date, store_id, category) and its breakdowns.
    "daily_store_category_sales",
    "daily_store_product_sales",
    "daily_store_payment_sales",
    "hourly_store_sales",
    "split_receipts",
)


@dataclass(frozen=True)
class Storage:
    """Resolves dataset names against one storage root (local path, file:// or hdfs://)."""

    root: str

    def __post_init__(self) -> None:
        scheme = urlparse(self.root).scheme
        if scheme not in ("", "file", "hdfs") and not _is_windows_drive(self.root):
            raise ConfigError(
                f"storage.root {self.root!r} uses the unsupported scheme {scheme!r}",
                "use a local path, a file:// URI or an hdfs://host:port/path URI",
            )
        if scheme == "hdfs" and not urlparse(self.root).netloc:
            raise ConfigError(
                f"storage.root {self.root!r} names no NameNode",
                "write it as hdfs://host:port/path, e.g. hdfs://127.0.0.1:9000/retail",
            )

    @property
    def is_local(self) -> bool:
        return urlparse(self.root).scheme in ("", "file")

    @property
    def base_uri(self) -> str:
        """The root as an absolute URI: file:///abs/path or hdfs://host:port/path."""
        if self.is_local:
            return self.local_root.as_uri()
        return self.root.rstrip("/")

    @property
    def local_root(self) -> Path:
        """The root as an absolute local path (local roots only)."""
        if not self.is_local:
            raise ConfigError(
                f"storage root {self.root} is not local", "use a local path for this command"
            )
        parsed = urlparse(self.root)
        raw = parsed.path if parsed.scheme == "file" else self.root
        return Path(raw).expanduser().resolve()

    def uri(self, dataset: str, *parts: str) -> str:
        """The URI of a dataset (optionally a file or partition below it)."""
        relative = "/".join((_relative(dataset), *parts))
        return f"{self.base_uri}/{relative}"

    def path(self, dataset: str, *parts: str) -> Path:
        """The local path of a dataset (local roots only); for pyarrow/plain-Python edges."""
        return self.local_root.joinpath(_relative(dataset), *parts)

    def raw_file_name(self, day: dt.date) -> str:
        """The raw CSV file name for one business day."""
        return f"transactions_{day.isoformat()}.csv"

    def raw_day_uri(self, day: dt.date) -> str:
        return self.uri("raw", self.raw_file_name(day))

    def raw_day_path(self, day: dt.date) -> Path:
        return self.path("raw", self.raw_file_name(day))


def serving_copy(serving_root: str) -> Storage:
    """The storage of `storage.serving_root`, the dashboards' local copy of an HDFS root."""
    storage = Storage(serving_root)
    if not storage.is_local:
        raise ConfigError(
            f"storage.serving_root {serving_root!r} is not a local folder",
            "set storage.serving_root to a local path the dashboards can read",
        )
    return storage


def _relative(dataset: str) -> str:
    try:
        return DATASETS[dataset]
    except KeyError:
        raise KeyError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}") from None


def _is_windows_drive(root: str) -> bool:
    return len(root) > 1 and root[1] == ":"


def parse_raw_date(name: str) -> dt.date | None:
    """The business day of a raw file name `transactions_YYYY-MM-DD.csv`, or None."""
    stem = name.rsplit("/", 1)[-1]
    if not (stem.startswith("transactions_") and stem.endswith(".csv")):
        return None
    try:
        return dt.date.fromisoformat(stem[len("transactions_") : -len(".csv")])
    except ValueError:
        return None
