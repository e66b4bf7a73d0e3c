"""`mlipm demo --quick` end to end: services, campaign, dashboard URL; Ctrl-C stops all it started.

The full demo (every benchmark, about 10 minutes on 2 cores) is too long for CI: its plan is
tested in test_demo_plan.py, the `--quick` run here goes through the same launch and watch.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from backend import dbadmin
from backend.localservices import free_port
from tests.conftest import new_database_url


@pytest.mark.timeout(480)
def test_demo_runs_the_campaign_serves_the_dashboard_and_stops_on_ctrl_c() -> None:
    database_url = new_database_url("mlipm_demo")
    dash_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MLIPM_API_PORT": str(api_port),
        "MLIPM_API_URL": f"http://127.0.0.1:{api_port}",
        "MLIPM_DASH_PORT": str(dash_port),
        "MLIPM_FLOWER_PORT": str(free_port()),
        "MLIPM_CELERY_QUEUE": f"demo-{uuid.uuid4().hex[:8]}",
        "MLIPM_STATE_DIR": tempfile.mkdtemp(prefix="mlipm-demo-"),
        "COLUMNS": "120",
    }
    out = Path(env["MLIPM_STATE_DIR"]) / "demo.out"
    demo = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "demo", "--quick", "--no-mlips"],
        env=env,
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 360  # ~100 s idle; a loaded machine takes 3x
        while "Ctrl-C stops everything" not in out.read_text():
            assert demo.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.5)
        text = out.read_text()
        assert f"Dashboard: http://127.0.0.1:{dash_port}/" in text
        assert "failed 0" in text
        assert re.search(r"│\s+eos │\s+3 │\s+\d+ │", text), text  # runs per benchmark
        assert "/elements" in text  # where to look
        # EMT's Cu row: a0 = (4 V0)^(1/3) is EMT's known 3.59 Å; dcdft's experiment 11.65 Å³/atom
        row = re.search(r"│ Cu │\s+(\d+\.\d+) │\s+(\d+\.\d+) │", text)
        assert row is not None, text
        assert (4 * float(row[1])) ** (1 / 3) == pytest.approx(3.59, abs=0.005)
        assert float(row[2]) == pytest.approx(11.65, abs=0.01)
        assert httpx.get(f"http://127.0.0.1:{dash_port}/", timeout=5).status_code == 200
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len(children) >= 4  # api, worker (+ its pool), dashboard, flower
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
        assert "stopping" in out.read_text()
    finally:
        if demo.poll() is None:
            demo.kill()
        dbadmin.drop_database(database_url)
