"""Symbol tables from folded stacks: top symbols per arm, and the change of shares between arms.

self share      = samples whose leaf is the symbol / all samples of the arm
inclusive share = samples whose stack holds the symbol at least once / all samples of the arm

The z-score is the pooled two-proportion z-test of one symbol's share in the two arms. It treats
samples as independent draws, which timer samples only roughly are, and it is computed for every
symbol without correction for the number of symbols: read |z| < 2 as noise, and a large |z| as
worth a look, not as proof. Shares are parts of a whole: when one symbol grows, others shrink.
Pure: counters in, dataclasses out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from devbench.analysis.model import clean

SortKey = Literal["inclusive", "self", "z_inclusive", "z_self"]


class _Json:
    def to_json(self) -> dict[str, Any]:
        return clean(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class SymbolCounts(_Json):
    """Per symbol: samples with it as leaf (self) and with it anywhere in the stack (inclusive)."""

    total: int
    leaf: dict[str, int]
    inclusive: dict[str, int]


@dataclass(frozen=True)
class SymbolShare(_Json):
    symbol: str
    self_samples: int
    self_pct: float
    inclusive_samples: int
    inclusive_pct: float


@dataclass(frozen=True)
class TopTable(_Json):
    arm: str
    samples: int
    sort_by: str
    rows: tuple[SymbolShare, ...]


@dataclass(frozen=True)
class DiffRow(_Json):
    symbol: str
    base_self_samples: int
    new_self_samples: int
    base_self_pct: float
    new_self_pct: float
    delta_self_pct: float        # percentage points, new minus base
    z_self: float
    base_inclusive_samples: int
    new_inclusive_samples: int
    base_inclusive_pct: float
    new_inclusive_pct: float
    delta_inclusive_pct: float
    z_inclusive: float


@dataclass(frozen=True)
class DiffTable(_Json):
    base_arm: str
    new_arm: str
    base_samples: int
    new_samples: int
    sort_by: str
    rows: tuple[DiffRow, ...]


def symbol_counts(folded: Mapping[str, int], *, skip_root: bool = True) -> SymbolCounts:
    """skip_root: the first frame is the process name (as the parsers write it), not a function."""
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for stack, n in folded.items():
        frames = stack.split(";")[1 if skip_root else 0:]
        total += n
        if frames:
            leaf[frames[-1]] += n
            for name in set(frames):
                inclusive[name] += n
    return SymbolCounts(total, dict(leaf), dict(inclusive))


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else math.nan


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float:
    """Pooled two-proportion z: (x2/n2 - x1/n1) / SE; 0 when both shares are 0 or 1; NaN if an n is 0."""
    if n1 <= 0 or n2 <= 0:
        return math.nan
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    return (x2 / n2 - x1 / n1) / se if se > 0 else 0.0


def top_symbols(folded: Mapping[str, int], *, arm: str = "", top: int = 30,
                sort_by: Literal["inclusive", "self"] = "self", skip_root: bool = True) -> TopTable:
    c = symbol_counts(folded, skip_root=skip_root)
    rows = [SymbolShare(s, c.leaf.get(s, 0), _pct(c.leaf.get(s, 0), c.total),
                        c.inclusive[s], _pct(c.inclusive[s], c.total)) for s in c.inclusive]
    if sort_by == "self":
        rows.sort(key=lambda r: (-r.self_samples, -r.inclusive_samples, r.symbol))
    else:
        rows.sort(key=lambda r: (-r.inclusive_samples, -r.self_samples, r.symbol))
    return TopTable(arm, c.total, sort_by, tuple(rows[:top]))


def diff_symbols(base: Mapping[str, int], new: Mapping[str, int], *, base_arm: str = "unnamed",
                 new_arm: str = "named", top: int = 30, sort_by: SortKey = "inclusive",
                 skip_root: bool = True) -> DiffTable:
    """Each symbol's share in `new` minus its share in `base`, sorted by the size of the change."""
    b = symbol_counts(base, skip_root=skip_root)
    n = symbol_counts(new, skip_root=skip_root)
    rows = []
    for s in set(b.inclusive) | set(n.inclusive):
        bs, ns = b.leaf.get(s, 0), n.leaf.get(s, 0)
        bi, ni = b.inclusive.get(s, 0), n.inclusive.get(s, 0)
        rows.append(DiffRow(
            s, bs, ns, _pct(bs, b.total), _pct(ns, n.total), _pct(ns, n.total) - _pct(bs, b.total),
            two_proportion_z(bs, b.total, ns, n.total),
            bi, ni, _pct(bi, b.total), _pct(ni, n.total), _pct(ni, n.total) - _pct(bi, b.total),
            two_proportion_z(bi, b.total, ni, n.total)))
    field = {"inclusive": "delta_inclusive_pct", "self": "delta_self_pct",
             "z_inclusive": "z_inclusive", "z_self": "z_self"}[sort_by]

    def size(r: DiffRow) -> float:
        v = getattr(r, field)
        return abs(v) if math.isfinite(v) else -1.0
    rows.sort(key=lambda r: (-size(r), r.symbol))
    return DiffTable(base_arm, new_arm, b.total, n.total, sort_by, tuple(rows[:top]))
