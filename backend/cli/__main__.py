"""``python -m backend.cli``: the ``mlipm`` command."""

from backend.cli.main import main

main()
