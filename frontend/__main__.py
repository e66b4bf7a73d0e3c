"""``python -m frontend [--workers N] [--connections N]`` serves the dashboard with gunicorn's
gevent workers (what ``mlipm dashboard`` runs); ``--dev``: Flask's development server.

gevent's monkey-patching comes first, before anything else is imported. gunicorn's gevent
worker patches only after the fork, and a lock made before that (``concurrent.futures``'
global one, taken around every thread a ``ThreadPoolExecutor`` starts; the dashboard's API
client lock) stays a real lock: a greenlet that waits on it blocks the whole process while the
greenlet holding it cannot run. A fresh worker's first callbacks, arriving together on the
model page, hung it until gunicorn killed it after its timeout.
"""

import sys

if "--dev" not in sys.argv[1:]:
    from gevent import monkey

    monkey.patch_all()

import argparse

from frontend.app import ServeOptions, serve


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m frontend", description=__doc__)
    defaults = ServeOptions()
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--connections", type=int, default=defaults.worker_connections)
    parser.add_argument("--dev", action="store_true")
    args = parser.parse_args(argv)
    options = ServeOptions(workers=args.workers, worker_connections=args.connections)
    serve(options, dev=args.dev)


if __name__ == "__main__":
    main(sys.argv[1:])
