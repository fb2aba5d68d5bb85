"""glibc keeps freed training buffers for reuse (measured in bench: see keep_freed_memory)."""

from __future__ import annotations

import sys

import pytest

from headstart.train.trainer import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_keep_freed_memory__applied_on_glibc_and_off_by_env(monkeypatch):
    monkeypatch.delenv("HEADSTART_KEEP_FREED_MEMORY", raising=False)
    assert keep_freed_memory() is True
    monkeypatch.setenv("HEADSTART_KEEP_FREED_MEMORY", "0")
    assert keep_freed_memory() is False
