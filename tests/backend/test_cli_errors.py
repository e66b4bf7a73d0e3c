"""`mlipm` commands that talk to the API fail in one line that says what to do: no traceback
for a missing token, a submitter's token, or an API that is not running."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.live import LiveStack


def _mlipm(*args: str, api_url: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLIPM_TOKEN"}
    env["MLIPM_API_URL"] = api_url
    if token is not None:
        env["MLIPM_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no traceback
    assert lines[0].startswith("error: ")
    return lines[0]


START = ("campaigns", "start", "-m", "EMT", "--no-watch")


def test_an_api_that_is_not_running_says_how_to_start_it() -> None:
    line = _one_line(_mlipm(*START, api_url="http://127.0.0.1:9"))
    assert "Cannot reach the API at http://127.0.0.1:9" in line
    assert "mlipm api" in line


@pytest.mark.parametrize(("who", "hint"), [("nobody", "MLIPM_TOKEN"), ("submitter", "admin")])
def test_a_missing_or_weak_token_says_which_token_to_give(
    live_stack: LiveStack, who: str, hint: str
) -> None:
    token = live_stack.submitter_token if who == "submitter" else None
    line = _one_line(_mlipm(*START, api_url=live_stack.api_url, token=token))
    assert hint in line
    assert ("HTTP 403" if token else "HTTP 401") in line
