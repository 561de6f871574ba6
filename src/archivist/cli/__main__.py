"""`python -m archivist.cli`, as the installed `archivist` command."""

from archivist.cli import main

main()
