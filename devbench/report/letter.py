"""The seed's two tables beside a run's own rows (issue 27 item 6), in every format: text and
markdown lines, the JSON summary's "seed_letter", and report.html's context (pure).

When: `report: {seed_tables: auto}` (the default) shows them when the run compared kernels and
two of its compared kernels are named strdup and refcount (configs/cover-letter.yaml); `true`
always (a run with no such kernel shows the seed's numbers alone, and says so); `false` never.

Beside each of the seed's rows: every target whose kernel has the table's name (strdup,
refcount), per architecture, at the seed's 65536 VMAs or, where the run has no such count, its
largest. The seed's times are a phone's wall time; devbench's under instruction counting are
instruction-path costs under emulation: every output says which is which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devbench.analysis import Analysis
from devbench.analysis.kernels import kernel_label, kernel_sets
from devbench.analysis.model import Row
from devbench.report import seed_letter as seed
from devbench.report.differential import target_differential
from devbench.report.table import SAY, change_of, draw, fmt_ci, fmt_ms, fmt_pct, wrapped

SCENARIO_WORDS = {0: "unpopulated", 1: "1 page", 10: "10 pages"}  # the seed's scenarios, by pages per VMA
HEADER = ("scenario", "source", "unnamed", "named", "REGRESSION", "95% CI")
CLOCK_WORDS = {"icount": "icount", "real": "emulated"}
TITLE = "The seed's cover letter beside this run"


@dataclass(frozen=True)
class Beside:
    """One of devbench's rows beside a seed row: its target, kernel, architecture and clock."""

    row: Row
    clock: str | None

    @property
    def source(self) -> str:
        arch = self.row.arch or self.row.target
        return f"{arch} {CLOCK_WORDS.get(self.clock or '', 'device')}"

    def to_json(self) -> dict[str, Any]:
        r, e = self.row, self.row.effect
        un, na = (r.base.mean if r.base else None), (r.other.mean if r.other else None)
        return {"target": r.target, "kernel": r.kernel, "arch": r.arch, "vmas": r.vmas, "scenario": r.scenario,
                "clock": self.clock, "unnamed_ms": un, "named_ms": na, "change_pct": change_of(r),
                "ci_pct": None if e is None or e.ci_low_pct is None else [e.ci_low_pct, e.ci_high_pct],
                "verdict": r.verdict.label}


@dataclass(frozen=True)
class Agreement:
    """strdup's named-vs-unnamed regression against refcount's, one architecture and scenario."""

    arch: str
    scenario: str
    vmas: int | None
    strdup: Row
    refcount: Row
    seed_ratio: float      # the seed's strdup regression over its refcount regression

    @property
    def apart(self) -> bool | None:
        """True: strdup's CI lies wholly above refcount's; None: a CI is missing."""
        s, r = self.strdup.effect, self.refcount.effect
        if s is None or r is None or s.ci_low_pct is None or r.ci_high_pct is None:
            return None
        return s.ci_low_pct > r.ci_high_pct

    @property
    def ratio(self) -> float | None:
        s, r = _pct(self.strdup), _pct(self.refcount)
        return None if s is None or r is None or r <= 0 else s / r

    def line(self) -> str:
        s, r, ratio = _pct(self.strdup), _pct(self.refcount), self.ratio
        words = {True: "larger, the CIs apart", False: "the CIs overlap", None: "no CI"}[self.apart]
        if s is not None and r is not None and s <= r:
            words = "NOT larger"
        times = f" ({ratio:.1f}x; the seed {self.seed_ratio:.1f}x)" if ratio is not None else ""
        return (f"{self.arch}, {self.scenario}: strdup {fmt_pct(s)} against refcount {fmt_pct(r)}: {words}"
                f"{times}")


@dataclass(frozen=True)
class Attributed:
    """A kernel's differential profile on one architecture (devbench.report.differential), where
    the run profiled it: devbench's "attributed to" beside the letter's."""

    arch: str
    target: str
    status: str
    sentence: str
    functions: tuple[str, ...]

    def line(self) -> str:
        return f"devbench {self.arch}: {self.sentence}"


@dataclass(frozen=True)
class Letter:
    tables: tuple[tuple[seed.SeedTable, tuple[tuple[seed.SeedRow, tuple[Beside, ...]], ...]], ...]
    attributions: tuple[tuple[Attributed, ...], ...]  # per table: each architecture's profile, if profiled
    agreements: tuple[Agreement, ...]
    counts: tuple[int, ...]          # the VMA counts devbench's rows are at
    icount: bool                     # some row is an instruction-path cost (QEMU icount)


def setting(data: dict[str, Any]) -> str:
    """The config's report.seed_tables: "auto", "true" or "false" (anything else counts as auto)."""
    config = (data.get("run") or {}).get("config")
    report = config.get("report") if isinstance(config, dict) else None
    value = report.get("seed_tables", "auto") if isinstance(report, dict) else "auto"
    return {True: "true", False: "false"}.get(value, "auto") if isinstance(value, bool) else "auto"


def wanted(data: dict[str, Any]) -> bool:
    """Whether the report opens with the seed's tables (see the module's docstring)."""
    choice = setting(data)
    if choice != "auto":
        return choice == "true"
    compared = {kernel_label(data, t) for _, members in kernel_sets(data) if len(members) > 1 for t in members}
    return set(seed.KERNELS) <= compared


def _pct(row: Row) -> float | None:
    """A devbench row's change as every table shows it: the estimate its CI is built on."""
    return change_of(row)


def _clock(data: dict[str, Any], target: str) -> str | None:
    rec = next((t for t in data.get("targets") or [] if isinstance(t, dict) and t.get("name") == target), {})
    info = rec.get("transport_info")
    clock = info.get("clock") if isinstance(info, dict) else None
    return clock if isinstance(clock, str) else None


def _at_count(rows: list[Row]) -> int | None:
    """The seed's count where a target has it, else its largest."""
    counts = {r.vmas for r in rows if r.vmas is not None}
    return seed.VMAS if seed.VMAS in counts or not counts else max(counts)


def beside_rows(data: dict[str, Any], analysis: Analysis, table: seed.SeedTable, pages: int) -> tuple[Beside, ...]:
    """Every target's row of the table's kernel and this scenario, at its seed count, by architecture."""
    out: list[Beside] = []
    for t in analysis.targets:
        rows = [r for r in t.rows if r.kernel == table.kernel]
        count = _at_count(rows)
        out += [Beside(r, _clock(data, t.name)) for r in rows if r.pages == pages and r.vmas == count]
    return tuple(sorted(out, key=lambda b: (b.row.arch != "arm64", b.row.arch or "", b.row.target)))


def build(data: dict[str, Any], analysis: Analysis) -> Letter | None:
    """The seed's tables with devbench's rows beside them, or None when the report should not have them."""
    if not wanted(data):
        return None
    tables = tuple((table, tuple((s, beside_rows(data, analysis, table, s.pages)) for s in table.rows))
                   for table in seed.TABLES)
    found = [b for _, rows in tables for _, bs in rows for b in bs]
    strdup = {(b.row.arch, b.row.pages): b.row for _, bs in tables[0][1] for b in bs}
    refcount = {(b.row.arch, b.row.pages): b.row for _, bs in tables[1][1] for b in bs}
    agreements = tuple(
        Agreement(arch or "?", SCENARIO_WORDS.get(pages or 0, s.scenario), row.vmas, row, refcount[(arch, pages)],
                  s.regression_pct / r.regression_pct)
        for (arch, pages), row in strdup.items() if (arch, pages) in refcount
        for s, r in zip(seed.STRDUP.rows, seed.REFCOUNT.rows, strict=True) if s.pages == pages)
    return Letter(tables, tuple(attributions(data, rows) for _, rows in tables), agreements,
                  tuple(sorted({b.row.vmas for b in found if b.row.vmas is not None})),
                  any(b.clock == "icount" for b in found))


def attributions(data: dict[str, Any], rows: tuple[tuple[seed.SeedRow, tuple[Beside, ...]], ...]
                 ) -> tuple[Attributed, ...]:
    """The differential profile of every target beside a table, where it was profiled."""
    out = []
    for target, arch in dict.fromkeys((b.row.target, b.row.arch or b.row.target) for _, bs in rows for b in bs):
        d = target_differential(data, target)
        if d is not None:
            a = d.attribution
            out.append(Attributed(arch, target, a.status, a.sentence, tuple(g.function for g in a.growth)))
    return tuple(out)


def labels(letter: Letter) -> list[str]:
    """What each source is: the seed's phone and wall time; devbench's emulation and clock."""
    at = ", ".join(str(c) for c in letter.counts) or "-"
    dev = (f"devbench: this run's rows at {at} VMAs, each its architecture and clock; under icount a time is the "
           "instruction-path cost under emulation (QEMU's instruction counting, 1 ns per guest instruction: no "
           "caches, no memory), not a phone's timing" if letter.icount else
           f"devbench: this run's rows at {at} VMAs, each its architecture and clock")
    return [f"seed: {seed.SOURCE}: {seed.DEVICE}", dev]


def table_cells(letter: Letter, index: int) -> list[tuple[str, ...]]:
    table, rows = letter.tables[index]
    out: list[tuple[str, ...]] = []
    for s, besides in rows:
        name = SCENARIO_WORDS.get(s.pages, s.scenario)
        out.append((name, "seed phone", fmt_ms(s.unnamed_ms), fmt_ms(s.named_ms), fmt_pct(s.regression_pct), "-"))
        for b in besides:
            # the means as the seed's table gives them (each with its sd in devbench's own table below),
            # and the change its CI is built on
            e, un, na = b.row.effect, b.row.base, b.row.other
            out.append(("", b.source, fmt_ms(un.mean if un else None), fmt_ms(na.mean if na else None),
                        fmt_pct(change_of(b.row)), fmt_ci(e.ci_low_pct, e.ci_high_pct) if e else "-"))
    return out


def agreement_lines(letter: Letter) -> list[str]:
    """What agrees with the seed (strdup's regression above refcount's) and what cannot."""
    if not letter.agreements:
        return ["no architecture of this run has both a strdup and a refcount kernel: nothing to compare the "
                "seed's ordering with"]
    ok = sum(1 for a in letter.agreements if a.apart)
    return [f"the seed's ordering, strdup's regression above refcount's: {ok} of {len(letter.agreements)} rows "
            "agree with their CIs apart", *(a.line() for a in letter.agreements),
            "the magnitudes cannot agree: the seed's come from a phone's caches and memory at 2.4 GHz"
            + ("; these count instructions" if letter.icount else "")]


def text_lines(letter: Letter | None, markdown: bool) -> list[str]:
    """The section that opens the text and markdown report (nothing when there is no letter)."""
    if letter is None:
        return []
    out = [f"{'## ' if markdown else ''}{TITLE}", "", *wrapped(labels(letter), SAY, markdown), ""]
    for i, (table, rows) in enumerate(letter.tables):
        out += [f"{'### ' if markdown else ''}{table.title}", ""]
        out += draw(HEADER, table_cells(letter, i), markdown, left=2)
        if not any(bs for _, bs in rows):
            out += wrapped([f"no kernel of this run is named {table.kernel}: the seed's numbers alone"], SAY,
                           markdown)
        out += wrapped([f"seed: the regression attributed to {table.attributed_to}",
                        *(a.line() for a in letter.attributions[i])], SAY, markdown)
        out.append("")
    out += wrapped(agreement_lines(letter), SAY, markdown)
    out.append("")
    return out


def letter_json(letter: Letter | None) -> dict[str, Any] | None:
    """The JSON summary's seed_letter: the seed's rows, devbench's beside each, the ordering."""
    if letter is None:
        return None
    return {
        "source": seed.SOURCE, "seed_device": seed.DEVICE, "labels": labels(letter),
        "tables": [{"kernel": t.kernel, "title": t.title, "attributed_to": t.attributed_to,
                    "rows": [{"scenario": SCENARIO_WORDS.get(s.pages, s.scenario), "pages": s.pages,
                              "seed": {"unnamed_ms": s.unnamed_ms, "named_ms": s.named_ms,
                                       "regression_pct": s.regression_pct},
                              "devbench": [b.to_json() for b in bs]} for s, bs in rows],
                    "devbench_attributed": [{"arch": a.arch, "target": a.target, "status": a.status,
                                             "sentence": a.sentence, "functions": list(a.functions)}
                                            for a in letter.attributions[i]]}
                   for i, (t, rows) in enumerate(letter.tables)],
        "ordering": [{"arch": a.arch, "scenario": a.scenario, "vmas": a.vmas, "strdup_pct": _pct(a.strdup),
                      "refcount_pct": _pct(a.refcount), "cis_apart": a.apart, "ratio": a.ratio,
                      "seed_ratio": a.seed_ratio} for a in letter.agreements],
    }


def html_context(letter: Letter | None) -> dict[str, Any] | None:
    """report.html's section: the same tables, labels and lines as the text (escaped by Jinja)."""
    if letter is None:
        return None
    return {"title": TITLE, "labels": labels(letter), "header": HEADER,
            "tables": [{"title": t.title, "kernel": t.kernel, "rows": table_cells(letter, i),
                        "attributed_to": t.attributed_to, "none": not any(bs for _, bs in rows),
                        "attributed": [a.line() for a in letter.attributions[i]]}
                       for i, (t, rows) in enumerate(letter.tables)],
            "agreement": agreement_lines(letter)}
