"""Progress on a terminal with rich: one line per target (scenario, arm, forks done)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RichProgress:
    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[target]}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "RichProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def target_started(self, target: str, total_forks: int) -> None:
        self.tasks[target] = self.progress.add_task("starting", total=total_forks, target=target)

    def step(self, target: str, text: str) -> None:
        self.progress.update(self.tasks[target], description=text)

    def batch(self, target: str, scenario: str, arm: str, forks: int) -> None:
        self.progress.update(self.tasks[target], advance=forks, description=f"{scenario} · {arm} forks")

    def target_done(self, target: str, ok: bool, text: str) -> None:
        self.progress.update(self.tasks[target], description=("[green]done" if ok else f"[red]failed: {text}"))
