"""`retailpipe hdfs up|down|status|put|ls`: the development HDFS on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.errors import ServiceError
from retailpipe.infra import hdfs
from retailpipe.storage import Storage

app = typer.Typer(
    help=(
        "A real HDFS (NameNode + DataNode from Apache Hadoop's Maven artifacts) on 127.0.0.1 "
        "for development.\n\n"
        "Example:  retailpipe hdfs up && retailpipe hdfs put ./data/raw "
        "&& RETAILPIPE_STORAGE__ROOT=hdfs://127.0.0.1:9000/retailpipe retailpipe batch"
    ),
    no_args_is_help=True,
)

_PORT = typer.Option(None, "--port", help="NameNode RPC port [default: 9000].")
_HTTP_PORT = typer.Option(None, "--http-port", help="NameNode web UI port [default: 9870].")


@app.command("up")
def up(
    ctx: typer.Context,
    port: Optional[int] = _PORT,  # noqa: UP045 - typer needs Optional
    http_port: Optional[int] = _HTTP_PORT,  # noqa: UP045
) -> None:
    """Start the development HDFS in the background (fetches Hadoop with Maven the first time).

    Example: retailpipe hdfs up --port 9000
    """
    settings = state(ctx).settings({"hdfs.namenode_port": port, "hdfs.http_port": http_port})
    console.print(f"starting HDFS {settings.hdfs.version} on {hdfs.local_uri(settings)} ...")
    current = hdfs.start(settings)
    _print_status(current)
    console.print(
        f"use it: [bold]RETAILPIPE_STORAGE__ROOT={current.uri}/retailpipe[/] "
        "(or --config configs/hdfs.toml); stop it: [bold]retailpipe hdfs down[/]"
    )


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop the development HDFS (its data stays under runtime_dir/hdfs for the next `up`).

    Example: retailpipe hdfs down
    """
    settings = state(ctx).settings()
    if hdfs.stop(settings):
        console.print("HDFS stopped")
    else:
        console.print("HDFS was not running")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show whether the development HDFS runs and answers; exit 3 when it does not.

    Example: retailpipe hdfs status
    """
    settings = state(ctx).settings()
    current = hdfs.status(settings)
    _print_status(current)
    if not current.running:
        raise ServiceError(f"HDFS does not answer at {current.uri}", "start it: retailpipe hdfs up")


@app.command("put")
def put(
    ctx: typer.Context,
    source: Path = typer.Argument(..., help="Local file or folder (its entries are copied)."),
    dest: Optional[str] = typer.Option(  # noqa: UP045
        None, "--to", help="hdfs:// folder [default: raw/ under storage.root]."
    ),
    root: Optional[str] = typer.Option(  # noqa: UP045
        None, "--root", help="hdfs:// storage root [default: storage.root]."
    ),
) -> None:
    """Copy local files into HDFS, by default the raw files into the storage root's raw/.

    Example: retailpipe hdfs put ./data/raw --root hdfs://127.0.0.1:9000/retailpipe
    """
    settings = state(ctx).settings({"storage.root": root})
    target = dest or Storage(settings.storage.root).uri("raw")
    if hdfs.namenode_of(target) is None:
        raise ServiceError(
            f"{target} is not an hdfs:// URI",
            "pass --to hdfs://host:port/path or set storage.root to an hdfs:// URI",
        )
    names = hdfs.put(settings, source, target)
    console.print(f"copied {len(names)} entries to {target}")


@app.command("ls")
def ls(
    ctx: typer.Context,
    path: Optional[str] = typer.Argument(None, help="hdfs:// URI [default: storage.root]."),  # noqa: UP045
) -> None:
    """List an HDFS folder recursively (Hadoop's `hdfs dfs -ls -R`).

    Example: retailpipe hdfs ls hdfs://127.0.0.1:9000/retailpipe/curated
    """
    settings = state(ctx).settings()
    target = path or settings.storage.root
    if hdfs.namenode_of(target) is None:
        target = hdfs.local_uri(settings) + "/"
    console.print(
        hdfs.fs_shell(settings, "-ls", "-R", target, uri=hdfs.namenode_of(target)),
        end="",
        soft_wrap=True,
    )


def _print_status(current: hdfs.HdfsStatus) -> None:
    table = Table(title="retailpipe hdfs", show_header=False)
    table.add_row("state", "[green]running[/]" if current.running else "[red]stopped[/]")
    table.add_row("NameNode", current.uri)
    table.add_row("web UI", current.web_url)
    if current.pid is not None:
        table.add_row("pid", str(current.pid))
    if current.live_datanodes is not None:
        table.add_row("live DataNodes", str(current.live_datanodes))
    if current.capacity_remaining is not None:
        table.add_row("free space", f"{current.capacity_remaining / 2**30:,.1f} GiB")
    if current.runtime_dir is not None:
        table.add_row("data and log", str(current.runtime_dir))
    console.print(table)
