"""`python -m retailpipe`."""

from retailpipe.cli.app import main

main()
