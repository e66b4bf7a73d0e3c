"""The worker unpacks weights archives within the installation's settings, not only the
defaults."""

from __future__ import annotations

import pytest

from backend.settings import get_settings
from workers.adapters.weights import ArchiveLimits, archive_limits, set_archive_limits
from workers.execution import apply_archive_limits


def test_the_settings_reach_the_archive_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLIPM_MAX_ARCHIVE_MEMBERS", "5")
    monkeypatch.setenv("MLIPM_MAX_ARCHIVE_EXTRACTED_MB", "2")
    monkeypatch.setenv("MLIPM_MAX_ARCHIVE_RATIO", "3")
    get_settings.cache_clear()
    try:
        apply_archive_limits()
        limits = archive_limits()
        assert (limits.max_members, limits.max_bytes, limits.max_ratio) == (5, 2 * 1024**2, 3.0)
        assert limits.budget(100_000) == 300_000  # 3 x the archive, under 2 MiB
    finally:
        set_archive_limits(ArchiveLimits())
        monkeypatch.undo()
        get_settings.cache_clear()
