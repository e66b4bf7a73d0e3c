"""The command line (``mlipm``, ``python -m backend.cli``) and the local demo: composition roots
that start the services, the API, workers and the dashboard, and drive the API with the typed
client (``backend/client.py``). Nothing in the web tiers imports this package.

- ``main``: the typer app and its commands; ``models`` and ``tokens``: their sub-commands;
- ``local``: ``mlipm run``, a benchmark run in this process (no API, no queue);
- ``demo`` / ``demo_plan``: ``mlipm demo`` and the campaigns it starts;
- ``localservices``: Postgres' database, Redis and the child processes of a local platform.
"""
