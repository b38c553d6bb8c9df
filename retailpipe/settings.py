"""The configuration model: flags > environment (RETAILPIPE_*) > config file > defaults."""

from __future__ import annotations

import datetime as dt
import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from retailpipe.errors import ConfigError, InputError

CONFIG_ENV = "RETAILPIPE_CONFIG"
ENV_PREFIX = "RETAILPIPE_"
# RETAILPIPE_* variables that are not settings: the config file, the jar cache
# (infra/maven.py), a marker `retailpipe demo` passes to its children, and the variables
# the Compose files read (compose/, docs/deploy.md).
OTHER_VARIABLES = frozenset(
    {
        CONFIG_ENV,
        "RETAILPIPE_CACHE_DIR",
        "RETAILPIPE_DEMO_MARKER",
        "RETAILPIPE_BASE_IMAGE",
        "RETAILPIPE_CA_BUNDLE",
        "RETAILPIPE_DAYS",
        "RETAILPIPE_ROWS_PER_DAY",
        "RETAILPIPE_BATCH_PORT",
        "RETAILPIPE_STREAM_PORT",
        "RETAILPIPE_KAFKA_PORT",
        "RETAILPIPE_NAMENODE_UI_PORT",
        "RETAILPIPE_SPARK_UI_PORT",
        "RETAILPIPE_COMPOSE_TEST",
    }
)


def known_timezone(value: str | None) -> str | None:
    """`value` when it names an IANA time zone (or is None); else a ValueError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as Europe/Paris or UTC)"
        ) from exc
    return value


def require_zones(names: Iterable[str], where: str) -> None:
    """Every one of `names` (a file's timezone column) is an IANA time zone; else an
    InputError naming the file `where`."""
    for name in sorted(set(names)):
        try:
            known_timezone(name)
        except ValueError:
            raise InputError(
                f"{where} names the unknown time zone {name!r}",
                "use IANA names such as Europe/London or UTC in its timezone column",
            ) from None


class Section(BaseModel):
    """A strict config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StorageSettings(Section):
    root: str = "./data"
    # A local copy of the curated data for the dashboards when `root` is on HDFS.
    serving_root: str | None = None


class SparkSettings(Section):
    master: str = "local[*]"
    # None: sized for the machine (2 x cores, at least 2) in retailpipe.spark.
    shuffle_partitions: int | None = Field(default=None, ge=1)
    # None: a quarter of the machine's memory, 2g to 8g, in retailpipe.spark.
    driver_memory: str | None = None
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "ERROR"
    conf: dict[str, str] = Field(default_factory=dict)
    # Spark's web UI, when a command has it on (stream.spark_ui, batch.spark_ui): the
    # address it binds to on a local master, and its first port (taken: the next ones).
    ui_host: str = "127.0.0.1"
    ui_port: int = Field(default=4040, ge=1024, le=65535)


class GenerateSettings(Section):
    days: int = Field(default=30, ge=1, le=3660)
    start_date: dt.date = dt.date(2026, 1, 1)
    stores: int = Field(default=12, ge=1, le=10_000)
    products: int = Field(default=400, ge=1, le=1_000_000)
    rows_per_day: int = Field(default=20_000, ge=1, le=50_000_000)
    seed: int = 42
    timezone: str = "America/New_York"
    bad_row_rate: float = Field(default=0.0, ge=0.0, le=0.5)
    duplicate_rate: float = Field(default=0.0, ge=0.0, le=0.5)
    late_rate: float = Field(default=0.0, ge=0.0, le=0.5)
    # The chain's category mix (retailpipe/generate/profiles.py, docs/generate.md).
    profile: str = "general"
    workers: int | None = Field(default=None, ge=1)

    _timezone = field_validator("timezone")(classmethod(lambda cls, v: known_timezone(v)))


def default_aliases() -> dict[str, list[str]]:
    """Header aliases from other point-of-sale exports, per canonical column."""
    return {
        "transaction_id": ["receipt_id", "receipt", "order_id", "txn_id", "transaction"],
        "line_no": ["line", "line_number", "item_no", "line_item"],
        "timestamp": ["order_time", "ts", "sold_at", "datetime", "time", "sale_time"],
        "store_id": ["store", "shop_id", "location_id", "branch"],
        "product_id": ["product", "sku", "item_id", "article"],
        "category": ["product_category", "department", "dept"],
        "quantity": ["qty", "units", "count"],
        "unit_price": ["price", "unitprice", "price_each"],
        "discount_pct": ["discount", "discount_rate", "promo_pct"],
        "payment_method": ["payment_type", "payment", "tender", "tender_type"],
        "customer_id": ["customer", "loyalty_id", "member_id"],
        "amount": ["net_amount", "total", "line_total", "amount"],
    }


class BatchSettings(Section):
    aliases: dict[str, list[str]] = Field(default_factory=default_aliases)
    # Spark's web UI during the job (off: a batch run is short and often unattended).
    spark_ui: bool = False
    input: str | None = None
    # The zone of timestamps without a UTC offset (an IANA name such as Europe/London); a
    # `timezone` column in stores.csv wins for its store. None: such rows are quarantined.
    timezone: str | None = None
    # The quality gate: when a larger share of the rows read is quarantined, the run
    # publishes nothing but the quarantine and fails (1.0: always publish).
    max_invalid_fraction: float = Field(default=0.05, ge=0.0, le=1.0)

    _timezone = field_validator("timezone")(classmethod(lambda cls, v: known_timezone(v)))


class LocalBrokerSettings(Section):
    """The development broker that `retailpipe kafka up` starts."""

    port: int = Field(default=9092, ge=1, le=65535)
    controller_port: int = Field(default=9093, ge=1, le=65535)
    version: str = "4.1.1"
    heap: str = "512m"


class KafkaSettings(Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "retail.transactions"
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    dead_letter_topic: str | None = None
    # Passed through to librdkafka unchanged (e.g. security.protocol, sasl.mechanism).
    client: dict[str, str | int | float | bool] = Field(default_factory=dict)
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    local: LocalBrokerSettings = Field(default_factory=LocalBrokerSettings)


class ReplaySettings(Section):
    speed: float | None = Field(default=None, gt=0)
    rate: float | None = Field(default=None, gt=0)
    linger_ms: int = Field(default=20, ge=0)
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    # How long librdkafka keeps retrying a message (e.g. across a broker restart).
    delivery_timeout_ms: int = Field(default=120_000, ge=1_000)
    # Seconds `flush()` may take at the end or on Ctrl-C before undelivered events count as failed.
    flush_timeout_s: float = Field(default=60.0, gt=0)


class StreamSettings(Section):
    trigger: str = "10 seconds"
    window: str = "1 hour"
    slide: str = "5 minutes"
    watermark: str = "10 minutes"
    starting_offsets: Literal["earliest", "latest"] = "earliest"
    # Bounded batches: a large backlog is caught up 200,000 events at a time (docs/stream.md).
    max_offsets_per_trigger: int | None = Field(default=200_000, ge=1)
    # Spark's web UI (its Structured Streaming tab) while the stream runs.
    spark_ui: bool = True


class ServeSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)
    threads: int = Field(default=8, ge=1)
    # How often the server looks for a newly published version of the data.
    refresh_s: float = Field(default=2.0, ge=0)
    # How often the stream page polls the API.
    stream_poll_s: float = Field(default=5.0, gt=0)
    top_stores: int = Field(default=5, ge=1, le=20)


class HdfsSettings(Section):
    """The development HDFS that `retailpipe hdfs up` starts (NameNode + DataNode, one JVM)."""

    namenode_port: int = Field(default=9000, ge=1, le=65535)
    http_port: int = Field(default=9870, ge=1, le=65535)
    # The Hadoop line PySpark 4.2.0 bundles (pyspark/jars/hadoop-client-api-3.5.0.jar).
    version: str = "3.5.0"
    datanodes: int = Field(default=1, ge=1, le=4)
    heap: str = "512m"
    start_timeout_s: float = Field(default=180.0, gt=0)


class Settings(BaseSettings):
    """Every setting retailpipe reads. Built once per process by `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="RETAILPIPE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    storage: StorageSettings = Field(default_factory=StorageSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    hdfs: HdfsSettings = Field(default_factory=HdfsSettings)
    # Where the local Kafka/HDFS processes keep their data, logs and pids.
    runtime_dir: str = ".retailpipe"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _CONFIG_FILE.get("path")
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


# The config file for the Settings being built; set only inside load_settings.
_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def load_settings(
    config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build the settings from flags (`overrides`), environment, config file and defaults."""
    path = config_file or os.environ.get(CONFIG_ENV) or None
    resolved = Path(path).expanduser() if path else None
    if resolved is not None and not resolved.is_file():
        raise ConfigError(
            f"config file {resolved} does not exist",
            f"pass an existing TOML file to --config (examples in configs/) or unset {CONFIG_ENV}",
        )
    _check_environment(os.environ)
    _CONFIG_FILE["path"] = resolved
    try:
        return Settings(**_nest(overrides or {}))
    except ValidationError as exc:
        raise _config_error(exc, resolved) from exc
    except ValueError as exc:  # a config file that is not valid TOML
        raise ConfigError(
            f"cannot read config file {resolved}: {exc}", "fix the TOML syntax"
        ) from exc
    finally:
        _CONFIG_FILE["path"] = None


def _check_environment(environ: Mapping[str, str]) -> None:
    """Refuse a RETAILPIPE_* variable that sets nothing (a typo would be ignored silently)."""
    names = setting_variables()
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in OTHER_VARIABLES or _sets(upper):
            continue
        close = difflib.get_close_matches(upper, sorted(names | OTHER_VARIABLES), n=1)
        raise ConfigError(
            f"unknown environment variable {name}"
            + (f" (did you mean {close[0]}?)" if close else ""),
            "unset it or correct its spelling: settings are RETAILPIPE_<SECTION>__<KEY>, "
            "two underscores between the parts; `retailpipe config show` lists the keys",
        )


def _sets(name: str) -> bool:
    """Whether the variable `name` (upper case) names a setting, a section or a dict entry."""
    model: type[BaseModel] = Settings
    for part in name[len(ENV_PREFIX) :].lower().split("__"):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return True  # a value, or a dict whose keys are free
        model = annotation
    return True


def setting_variables(model: type[BaseModel] | None = None, prefix: str = ENV_PREFIX) -> set[str]:
    """The environment variable of every setting."""
    names: set[str] = set()
    for key, field in (model or Settings).model_fields.items():
        name = f"{prefix}{key.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= setting_variables(annotation, f"{name}__")
        else:
            names.add(name)
    return names


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Turn {"kafka.topic": "t"} into {"kafka": {"topic": "t"}}, dropping None values."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None:
            continue
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _config_error(exc: ValidationError, config_file: Path | None) -> ConfigError:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    env_name = "RETAILPIPE_" + "__".join(str(part) for part in first["loc"]).upper()
    where = (
        f" (config file {config_file}, env {env_name} or flag)"
        if config_file
        else (f" (env {env_name} or flag)")
    )
    if first["type"] == "extra_forbidden":
        return ConfigError(
            f"unknown configuration key {key!r}{where}",
            "remove it or correct its spelling; `retailpipe config show` lists the valid keys",
        )
    return ConfigError(
        f"invalid value for {key!r}{where}: {first['msg']}",
        f"set {key} to a valid value; `retailpipe config show` prints the current ones",
    )


SECRET_MARK = "**********"


def masked_dict(settings: Settings) -> dict[str, Any]:
    """The settings as JSON-ready data with every secret masked."""
    data = settings.model_dump(mode="json")
    kafka = data["kafka"]
    if kafka.get("sasl_password") is not None:
        kafka["sasl_password"] = SECRET_MARK
    for key in list(kafka["client"]):
        if any(word in key.lower() for word in ("password", "secret", "token", "key.pem")):
            kafka["client"][key] = SECRET_MARK
    return data
