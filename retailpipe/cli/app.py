"""The Typer app: global options, error handling, and one sub-command per module."""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 ships its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException  # type: ignore[assignment]

from retailpipe import __version__
from retailpipe.cli import (
    batch,
    config,
    demo,
    doctor,
    generate,
    hdfs,
    inspect,
    kafka,
    replay,
    serve,
    stream,
)
from retailpipe.cli.reconcile import EPILOG as RECONCILE_EPILOG
from retailpipe.cli.reconcile import reconcile_command
from retailpipe.cli.state import AppState, state
from retailpipe.console import err_console, setup_logging
from retailpipe.errors import RetailpipeError, known_cause
from retailpipe.spark import show_jvm_details

log = logging.getLogger(__name__)


class RetailpipeGroup(TyperGroup):
    """Turns every error into one line on stderr and a non-zero exit (traceback with --debug)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (ClickException, typer.Exit, typer.Abort):
            raise
        except RetailpipeError as exc:
            if _debug(ctx):
                raise
            err_console.print(f"[bold red]error:[/] {exc.one_line()}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            if _debug(ctx):
                raise
            known = known_cause(exc)
            if known is not None:
                err_console.print(f"[bold red]error:[/] {known.one_line()}", soft_wrap=True)
                raise typer.Exit(known.exit_code) from None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            err_console.print(
                f"[bold red]error:[/] unexpected {type(exc).__name__}: {first}. "
                "Fix: rerun with --debug for the traceback and report it if it is a bug",
                soft_wrap=True,
            )
            raise typer.Exit(1) from None


def _debug(ctx: typer.Context) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "debug", False))


app = typer.Typer(
    cls=RetailpipeGroup,
    name="retailpipe",
    help=(
        "Retail point-of-sale data pipeline: generate synthetic sales, cleanse and aggregate "
        "them with Spark, replay them through Kafka, stream rolling revenue windows, and serve "
        "dashboards.\n\n"
        "Quick start:  retailpipe generate --days 30 && retailpipe batch && retailpipe serve batch"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"retailpipe {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    config_file: str | None = typer.Option(
        None,
        "--config",
        "-c",
        help="TOML config file (or env RETAILPIPE_CONFIG).",
        envvar="RETAILPIPE_CONFIG",
        show_envvar=False,
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Set up logging and the settings source once for every command."""
    app_state = state(ctx)
    app_state.config_file = config_file
    app_state.debug = debug
    setup_logging(verbose, quiet)
    show_jvm_details(debug)


app.command("generate", epilog=generate.EPILOG)(generate.generate)
app.command("batch", epilog=batch.EPILOG)(batch.batch)
app.command("replay", epilog=replay.EPILOG)(replay.replay)
app.command("stream", epilog=stream.EPILOG)(stream.stream)
app.command("reconcile", epilog=RECONCILE_EPILOG)(reconcile_command)
app.command("inspect", epilog=inspect.EPILOG)(inspect.inspect)
app.command("doctor")(doctor.doctor)
app.command("demo", epilog=demo.EPILOG)(demo.demo)
app.add_typer(serve.app, name="serve")
app.add_typer(config.app, name="config")
app.add_typer(kafka.app, name="kafka")
app.add_typer(hdfs.app, name="hdfs")


def main() -> None:
    """Console-script entry point."""
    app_state = AppState(debug="--debug" in sys.argv[1:])
    try:
        app(obj=app_state, prog_name="retailpipe")
    except RetailpipeError as exc:  # raised before a command ran (e.g. in the callback)
        if app_state.debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc.one_line()}", soft_wrap=True)
        sys.exit(exc.exit_code)
