"""``python -m frontend`` serves the dashboard with gunicorn (``--dev``: Flask's dev server)."""

import sys

from frontend.app import serve

if __name__ == "__main__":
    serve(dev="--dev" in sys.argv[1:])
