"""Work a run will need at its end, done in the background while it waits on its devices:
importing scipy.stats (about a second) and compiling the report's templates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module


def in_background(*steps: Callable[[], object]) -> threading.Thread:
    """Run the steps in order in a daemon thread. A failure is left for the step's first real
    use to raise, where it has a caller to report to (an import that failed is tried again,
    a template is compiled again)."""

    def work() -> None:
        for step in steps:
            try:
                step()
            except Exception:  # noqa: BLE001  (raised again at the first real use)
                pass

    thread = threading.Thread(target=work, name="devbench prefetch", daemon=True)
    thread.start()
    return thread


def for_a_run() -> threading.Thread:
    """What the end of `devbench run` needs: the statistics' scipy.stats, the report's templates.
    The import system's locks and Jinja's template cache make a first use in the main thread
    wait for, or repeat, the work: never see it half done."""
    from devbench.analysis.lazy import SCIPY_STATS
    from devbench.report.html import warm

    return in_background(lambda: import_module(SCIPY_STATS), warm)
