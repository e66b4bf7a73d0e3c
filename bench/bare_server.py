"""The read path's limit: a bare Starlette endpoint that returns the same stored bytes.

No database, no middleware, no routing beyond one path: ``GET /body`` answers the bytes of
the file ``MLIPM_BENCH_BODY`` (a board's JSON, as the API served it) with an ETag, and a 304
to ``If-None-Match`` with that ETag. It runs under ``backend.api.server.serve``, the same
uvicorn options and process model as ``mlipm api --workers N`` (one ``SO_REUSEPORT`` socket
per process), so bench/read_path.py can load it with the same clients and put the API's
figures beside what the server, the load generator and the machine allow at best.

    MLIPM_BENCH_BODY=/tmp/eos.json python -m bench.bare_server PORT [WORKERS]
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(os.environ.get("MLIPM_BENCH_BODY", os.devnull)).read_bytes()
ETAG = f'"{hashlib.blake2b(BODY, digest_size=16).hexdigest()}"'


async def body(request: Request) -> Response:
    """The stored bytes, or a 304 when the client holds them already."""
    if request.headers.get("if-none-match") == ETAG:
        return Response(status_code=304, headers={"ETag": ETAG})
    return Response(BODY, media_type="application/json", headers={"ETag": ETAG})


app = Starlette(routes=[Route("/body", body)])


def main(argv: list[str]) -> None:
    from backend.api.server import DEFAULT_LIMITS, serve

    port, workers = int(argv[0]), int(argv[1]) if len(argv) > 1 else 2
    serve(
        "bench.bare_server:app", host="127.0.0.1", port=port, limits=DEFAULT_LIMITS, workers=workers
    )


if __name__ == "__main__":
    main(sys.argv[1:])
