"""`retailpipe serve batch | stream | all`: the dashboards and their JSON API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import typer

from retailpipe.cli.state import state
from retailpipe.console import console

EPILOG = """Examples:

  retailpipe serve batch

  retailpipe serve stream --port 8060

  retailpipe serve all --host 0.0.0.0 --port 8050 --threads 16

  retailpipe serve batch --dev        (Flask's reloader, loopback only)
"""

app = typer.Typer(
    help="Serve the dashboards (batch, stream or both) and their JSON API under /api/.",
    no_args_is_help=True,
)

HOST = typer.Option(None, "--host", help="Interface to bind \\[default: 127.0.0.1].")
PORT = typer.Option(None, "--port", help="TCP port \\[default: 8050].")
THREADS = typer.Option(None, "--threads", help="Worker threads of the server \\[default: 8].")
DEV = typer.Option(False, "--dev", help="Flask's reloader instead of waitress (loopback only).")


def _serve(
    ctx: typer.Context,
    dashboards: tuple[str, ...],
    host: str | None,
    port: int | None,
    threads: int | None,
    dev: bool,
) -> None:
    from retailpipe.serve import batch_metrics, stream_metrics
    from retailpipe.serve.data import Catalog, serving_storage
    from retailpipe.serve.server import check_port, run

    settings = state(ctx).settings(
        {"serve.host": host, "serve.port": port, "serve.threads": threads}
    )
    check_port(settings.serve.host, settings.serve.port)  # before the banner
    catalog = Catalog(serving_storage(settings))
    shown = "localhost" if settings.serve.host in ("127.0.0.1", "::1") else settings.serve.host
    base = f"http://{shown}:{settings.serve.port}"
    for name in dashboards:
        console.print(f"{name} dashboard: [bold]{base}/{name}/[/]")
    if "batch" in dashboards and not batch_metrics.has_data(catalog):
        console.print("no curated data yet: run [bold]retailpipe generate && retailpipe batch[/]")
    if "stream" in dashboards and not stream_metrics.has_data(catalog):
        console.print(
            "no stream windows yet: run [bold]retailpipe stream[/] and [bold]retailpipe replay[/]"
        )
    console.print(f"JSON API: {base}/api/health · press Ctrl+C to stop")
    run(settings, dashboards, dev=dev)


def _command(dashboards: tuple[str, ...], doc: str) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        host: Optional[str] = HOST,  # noqa: UP045 - typer needs Optional
        port: Optional[int] = PORT,  # noqa: UP045
        threads: Optional[int] = THREADS,  # noqa: UP045
        dev: bool = DEV,
    ) -> None:
        _serve(ctx, dashboards, host, port, threads, dev)

    command.__doc__ = doc
    return command


app.command("batch", epilog=EPILOG)(
    _command(
        ("batch",), "The batch dashboard: KPIs, trends, mix and data quality of the curated sales."
    )
)
app.command("stream", epilog=EPILOG)(
    _command(("stream",), "The stream dashboard: rolling one-hour revenue, updating live.")
)
app.command("all", epilog=EPILOG)(_command(("batch", "stream"), "Both dashboards on one server."))
