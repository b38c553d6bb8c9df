"""The `retailpipe` command line: thin Typer commands over the stages."""
