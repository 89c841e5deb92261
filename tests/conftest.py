import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def devbench_cmd():
    """The installed CLI, run the way a user runs it."""
    return [sys.executable, "-m", "devbench"]
