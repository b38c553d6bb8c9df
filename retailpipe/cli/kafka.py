"""`retailpipe kafka up|down|status|fetch`: the local development Kafka broker."""

from __future__ import annotations

from typing import Optional

import typer

from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.infra import kafka_broker
from retailpipe.settings import Settings

app = typer.Typer(
    help=(
        "A local Apache Kafka broker (KRaft, one JVM on 127.0.0.1) for development and tests. "
        "Its files live under <runtime_dir>/kafka."
    ),
    no_args_is_help=True,
    epilog="Examples:\n\n  retailpipe kafka up\n\n  retailpipe kafka up --port 19092\n\n"
    "  retailpipe kafka status\n\n  retailpipe kafka down",
)

_PORT = typer.Option(None, "--port", help="Client port (default: kafka.local.port, 9092).")
_CONTROLLER_PORT = typer.Option(
    None, "--controller-port", help="KRaft controller port (default: 9093)."
)
_START_TIMEOUT = typer.Option(
    kafka_broker.START_TIMEOUT_S, "--timeout", help="Seconds to wait until it answers."
)
_STOP_TIMEOUT = typer.Option(
    kafka_broker.STOP_TIMEOUT_S, "--timeout", help="Seconds before SIGKILL."
)


def _settings(
    ctx: typer.Context, port: int | None = None, controller_port: int | None = None
) -> Settings:
    return state(ctx).settings(
        {"kafka.local.port": port, "kafka.local.controller_port": controller_port}
    )


@app.command("up")
def up(
    ctx: typer.Context,
    port: Optional[int] = _PORT,  # noqa: UP045 - typer needs Optional
    controller_port: Optional[int] = _CONTROLLER_PORT,  # noqa: UP045
    timeout: float = _START_TIMEOUT,
) -> None:
    """Start the broker in the background and wait until it answers (fetches jars on first use)."""
    settings = _settings(ctx, port, controller_port)
    status = kafka_broker.start(settings, timeout_s=timeout)
    console.print(f"Kafka {status.describe()}")
    if settings.kafka.bootstrap_servers != status.bootstrap:
        console.print(
            f"note: kafka.bootstrap_servers is {settings.kafka.bootstrap_servers}; set "
            f"RETAILPIPE_KAFKA__BOOTSTRAP_SERVERS={status.bootstrap} to use this broker"
        )


@app.command("down")
def down(ctx: typer.Context, timeout: float = _STOP_TIMEOUT) -> None:
    """Stop the broker (SIGTERM, then SIGKILL after --timeout seconds)."""
    settings = _settings(ctx)
    stopped = kafka_broker.stop(settings, timeout_s=timeout)
    console.print("Kafka stopped" if stopped else "Kafka was not running")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Say whether the broker runs and where; exit 1 when it does not."""
    current = kafka_broker.status(_settings(ctx))
    console.print(f"Kafka {current.describe()}")
    if not current.running:
        raise typer.Exit(1)


@app.command("fetch")
def fetch(ctx: typer.Context) -> None:
    """Download the Kafka broker and Spark's Kafka connector jars into the cache (once)."""
    from retailpipe.infra.jars import kafka_jars, spark_kafka_jars
    from retailpipe.infra.maven import cache_dir

    settings = _settings(ctx)
    broker = kafka_jars(settings)
    spark = spark_kafka_jars(settings)
    console.print(
        f"cached in {cache_dir()}: Kafka {settings.kafka.local.version} ({len(broker)} jars), "
        f"Spark Kafka connector ({len(spark)} jars beside PySpark's)"
    )
