"""Progress of a run, one line per target (scenario, arm, forks done of the plan, ETA): on a
terminal with rich, or as plain lines for logs and CI. The totals and ETAs come from
devbench.run.eta.Pace (the target's own measured pace)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from devbench.run.eta import Pace, format_eta
from devbench.textsafe import shown


class RichProgress:
    def __init__(self, clock: Callable[[], float] = time.monotonic, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[target]}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=console or Console(stderr=True),
        )
        self.tasks: dict[str, TaskID] = {}
        self.pace = Pace()
        self.clock = clock

    def __enter__(self) -> RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.__exit__(et, ev, tb)

    def target_started(self, target: str, total_forks: int) -> None:
        self.tasks[target] = self.progress.add_task("starting", total=total_forks, target=escape(shown(target)), eta="")

    def plan(self, target: str, remaining: Mapping[str, int], estimated: bool = False) -> None:
        self.pace.plan(target, remaining, estimated=estimated)
        self._update(target)

    def step(self, target: str, text: str) -> None:
        self.pace.step(target, self.clock())
        self.progress.update(self.tasks[target], description=escape(shown(text)))

    def batch(self, target: str, scenario: str, arm: str, forks: int) -> None:
        self.pace.batch(target, scenario, forks, self.clock())
        self._update(target, description=f"{scenario} · {arm} forks")

    def _update(self, target: str, **fields: Any) -> None:
        t = self.pace.get(target)
        if t.remaining:
            fields.update(total=t.total, completed=t.done, eta=format_eta(t.eta_s(), t.estimated))
        self.progress.update(self.tasks[target], **fields)

    def target_done(self, target: str, ok: bool, text: str) -> None:
        """The bar says done or failed; why it failed is printed above the bars, whole and
        wrapped at word boundaries (a bar's column would cut it at the terminal's width)."""
        self.progress.update(self.tasks[target], description=("[green]done" if ok else "[red]failed"), eta="")
        if not ok:
            why = escape(shown(text))
            self.progress.console.print(f"[bold]{escape(shown(target))}[/bold] [red]failed:[/red] {why}")


class LineProgress:
    """Plain progress lines for logs and CI (no terminal)."""

    def __init__(self, out: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.clock = clock
        self.pace = Pace()
        self.started: dict[str, int] = {}  # the total last shown
        self.estimated: set[str] = set()     # targets whose estimated plan was shown

    def _print(self, text: str) -> None:
        print(shown(text), file=self.out or sys.stderr)

    def target_started(self, target: str, total_forks: int) -> None:
        self.started[target] = total_forks
        self._print(f"[{target}] start: {total_forks} timed forks planned")

    def plan(self, target: str, remaining: Mapping[str, int], estimated: bool = False) -> None:
        self.pace.plan(target, remaining, estimated=estimated)
        t = self.pace.get(target)
        if t.total != self.started.get(target) or (estimated and target not in self.estimated):
            what = "about " if estimated else ""
            self._print(
                f"[{target}] plan: {what}{t.total} timed forks"
                + (f" ({t.done} done)" if t.done else "")
                + (" (forks: auto: estimated after each round)" if estimated else "")
            )
            self.started[target] = t.total
            if estimated:
                self.estimated.add(target)

    def step(self, target: str, text: str) -> None:
        self.pace.step(target, self.clock())
        self._print(f"[{target}] {text}")

    def batch(self, target: str, scenario: str, arm: str, forks: int) -> None:
        self.pace.batch(target, scenario, forks, self.clock())
        t = self.pace.get(target)
        total = t.total if t.remaining else self.started.get(target, 0)
        eta = f", {format_eta(t.eta_s(), t.estimated)}" if t.remaining else ""
        self._print(f"[{target}] {scenario} {arm}: +{forks} forks ({t.done}/{total}{eta})")

    def target_done(self, target: str, ok: bool, text: str) -> None:
        self._print(f"[{target}] {'ok' if ok else 'FAILED'}: {text}")
