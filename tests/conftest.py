import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def devbench_cmd():
    """The installed CLI, run the way a user runs it."""
    return [sys.executable, "-m", "devbench"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # payload builds are cached per session in a private folder, never in the user's cache
    cache = tmp_path_factory.getbasetemp() / "devbench-cache"
    monkeypatch.setenv("DEVBENCH_CACHE", os.environ.get("DEVBENCH_TEST_CACHE", str(cache)))
