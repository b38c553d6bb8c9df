"""`retailpipe config show`: the resolved configuration, secrets masked."""

from __future__ import annotations

import json

import typer

from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.settings import masked_dict

app = typer.Typer(help="Inspect the resolved configuration.", no_args_is_help=True)


@app.command(
    "show",
    epilog=(
        "Examples: retailpipe config show | "
        "retailpipe --config configs/hdfs.toml config show --json"
    ),
)
def show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Print the configuration after flags, environment, config file and defaults."""
    data = masked_dict(state(ctx).settings())
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    import tomli_w

    console.print(tomli_w.dumps(_drop_none(data)), markup=False, end="")


def _drop_none(data: dict) -> dict:
    """TOML has no null; unset keys are left out."""
    return {
        key: _drop_none(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if value is not None
    }
