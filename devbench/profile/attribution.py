"""Where the named arm's extra samples are: the functions whose share grows from the unnamed
arm to the named arm, ranked, and one sentence in the style of the seed's cover letter
("the regression can be attributed to strlen() and strdup()"), generated from the data.

A function's share is its self share: the samples whose leaf it is, over the arm's samples
(the fork and exit paths). Self, not inclusive: the added work is where the samples land, and
an inlined callee (kref_get in vm_area_dup) counts as its caller, which is where a reader of
the kernel source finds it. A function is listed when its share grows with a two-proportion
z of at least NOISE_Z: hundreds of functions are compared at once, so z = 2 would name one
by chance in most profiles; at 3, about one profile in three names a noise function among
300 compared (and with only a little growth). It must also grow by MIN_POINTS at least: under
icount the sampling is periodic in instructions, not random, and a function can gain a dozen
samples of 37,000 from where the period falls (pcpu_alloc_noprof, 0 -> 13 samples, z 3.6, on
the refcount kernel), too little to attribute anything to. Both arms must have MIN_SAMPLES.

"Called from" is the frame under the function in its own stacks (its caller) whose share grew
most: __slab_free's grown part is called from kfree, though most of its samples, in both arms,
come from kmem_cache_free. With frame-pointer call graphs a leaf that sets up no frame of its
own (strlen, memcpy) shows its caller's caller: the sentence says what the stacks say.

Pure: folded stacks in, dataclasses and text out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from devbench.analysis.model import clean
from devbench.profile.folded import UNKNOWN
from devbench.profile.table import diff_symbols, symbol_counts

MIN_SAMPLES = 200  # per arm; below it a few points of share are within sampling noise
NOISE_Z = 3.0      # a growth counts from this two-proportion z up (see the docstring)
MIN_POINTS = 0.1   # and from this growth up, in percentage points: a thousandth of the samples
TOP = 5            # functions listed and named in the sentence
MOSTLY = 0.5       # "mostly in": the listed functions gained at least this part of the added samples

Status = Literal["attributed", "no-growth", "too-few-samples", "one-arm"]


@dataclass(frozen=True)
class Growth:
    """One function whose self share grew, unnamed -> named (shares in percent)."""

    function: str
    unnamed_samples: int
    named_samples: int
    unnamed_pct: float
    named_pct: float
    points: float          # named_pct - unnamed_pct, percentage points
    z: float
    called_from: str | None

    def to_json(self) -> dict[str, Any]:
        return clean(self.__dict__.copy())


@dataclass(frozen=True)
class Attribution:
    status: Status
    unnamed_samples: int
    named_samples: int
    growth: tuple[Growth, ...]        # listed functions, largest growth first
    largest: Growth | None            # no-growth: the largest growth seen, below the noise
    same_forks: bool                  # both arms profiled the same forks: sample counts compare
    sentence: str

    @property
    def added_samples(self) -> int | None:
        return self.named_samples - self.unnamed_samples if self.same_forks else None

    def to_json(self) -> dict[str, Any]:
        return clean({"status": self.status, "samples": {"unnamed": self.unnamed_samples,
                                                          "named": self.named_samples},
                      "added_samples": self.added_samples,
                      "growth": [g.to_json() for g in self.growth],
                      "largest_below_noise": self.largest.to_json() if self.largest else None,
                      "min_samples": MIN_SAMPLES, "noise_z": NOISE_Z, "min_points": MIN_POINTS,
                      "sentence": self.sentence})


def callers(folded: Mapping[str, int], function: str, *, skip_root: bool = True) -> Counter[str]:
    """The frame under `function` (its caller, recursion skipped) in the stacks whose leaf it is."""
    out: Counter[str] = Counter()
    for stack, n in folded.items():
        frames = stack.split(";")[1 if skip_root else 0:]
        if not frames or frames[-1] != function:
            continue
        up = [f for f in reversed(frames[:-1]) if f != function]
        if up:
            out[up[0]] += n
    return out


def grown_caller(base: Mapping[str, int], new: Mapping[str, int], function: str, nb: int, nn: int) -> str | None:
    """The caller of `function` whose share (of its arm's samples) grew most; None if none grew."""
    before, after = callers(base, function), callers(new, function)
    grew = {c: after[c] / nn - (before[c] / nb if nb else 0.0) for c in after} if nn else {}
    best = max(sorted(grew), key=lambda c: grew[c], default=None)
    return best if best is not None and grew[best] > 0 else None


def _growth_rows(base: Mapping[str, int], new: Mapping[str, int]) -> list[Growth]:
    """Every function whose self share grew, largest growth first (ties by name)."""
    table = diff_symbols(base, new, top=1 << 30, sort_by="self")  # every function
    rows = []
    for r in table.rows:
        if r.symbol == UNKNOWN or not r.delta_self_pct > 0:
            continue
        rows.append(Growth(r.symbol, r.base_self_samples, r.new_self_samples, r.base_self_pct, r.new_self_pct,
                           r.delta_self_pct, r.z_self, grown_caller(base, new, r.symbol, table.base_samples,
                                                                    table.new_samples)))
    rows.sort(key=lambda g: (-g.points, g.function))
    return rows


def attribute(base: Mapping[str, int] | None, new: Mapping[str, int] | None, *,
              same_forks: bool = True) -> Attribution:
    """The differential profile of named (`new`) against unnamed (`base`) folded stacks (the
    process name first in every stack, as the parsers write it). same_forks: both arms
    profiled the same number of forks, so the named arm's extra samples are its added work."""
    if base is None or new is None:
        why = ("no scenario has both arms profiled" if base is None and new is None else
               f"only the {'unnamed' if new is None else 'named'} arm was profiled")
        return Attribution("one-arm", _total(base), _total(new), (), None, False,
                           f"named − unnamed: cannot attribute, {why}.")
    nb, nn = _total(base), _total(new)
    if min(nb, nn) < MIN_SAMPLES:
        return Attribution("too-few-samples", nb, nn, (), None, same_forks,
                           f"named − unnamed: too few samples to attribute ({nb} unnamed, {nn} named; "
                           f"{MIN_SAMPLES} per arm at least): profile more forks (profile.forks) or "
                           f"at a higher frequency (profile.frequency).")
    rows = _growth_rows(base, new)
    listed = tuple(g for g in rows if g.z >= NOISE_Z and g.points >= MIN_POINTS)[:TOP]
    if not listed:
        largest = rows[0] if rows else None
        return Attribution("no-growth", nb, nn, (), largest, same_forks, _no_growth(nb, nn, largest))
    return Attribution("attributed", nb, nn, listed, None, same_forks, _attributed(listed, nb, nn, same_forks))


def _total(folded: Mapping[str, int] | None) -> int:
    return symbol_counts(folded).total if folded else 0


def _no_growth(nb: int, nn: int, largest: Growth | None) -> str:
    seen = (f" The largest growth, {largest.function} {largest.points:+.2f} points (z {largest.z:+.1f}), "
            f"is within the noise." if largest else "")
    return (f"named − unnamed: no function's share grows beyond sampling noise (z ≥ {NOISE_Z:g} and "
            f"{MIN_POINTS:g} points; {nb} unnamed, {nn} named samples): this profile cannot attribute the "
            f"difference.{seen} More profiled forks "
            f"(profile.forks) or a higher frequency resolve a smaller growth.")


def grouped(listed: Sequence[Growth]) -> str:
    """"strlen, memcpy_orig (called from vm_area_dup_fork) and kfree (called from
    anon_vma_name_free)": the functions by caller, in the order of their largest growth."""
    groups: dict[str | None, list[str]] = {}
    for g in listed:
        groups.setdefault(g.called_from, []).append(g.function)
    parts = [", ".join(fs) + (f" (called from {c})" if c else "") for c, fs in groups.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _attributed(listed: Sequence[Growth], nb: int, nn: int, same_forks: bool) -> str:
    gained = sum(g.named_samples - g.unnamed_samples for g in listed)
    added = nn - nb
    n = len(listed)
    these = "it" if n == 1 else f"these {n}"
    if same_forks and added > 0:
        mostly = gained >= MOSTLY * added
        head = "the added samples are mostly in" if mostly else "the share grows most in"
        tail = f"; {these} gained {gained} samples, the named arm {added} in all."
    elif same_forks:
        head = "the share grows most in"
        tail = (f" (the named arm has no more samples than the unnamed arm, {nn} against {nb}: "
                f"the shares moved; the totals do not show the added work, the fork times do).")
    else:
        head, tail = "the share grows most in", " (the arms profiled different numbers of forks)."
    return f"named − unnamed: {head} {grouped(listed)}{tail}"


def event_note(tool: Any, event: Any, frequency: Any, clock: Any) -> str:
    """What one sample is: the profiler's event and rate, and under QEMU what the guest's clock
    counts (under icount, instructions: a share is a share of the instructions executed)."""
    what = f"{tool} {event} at {frequency} Hz"
    if clock == "icount":
        # devbench's icount is shift=0 (devbench.qemu.cmdline): 1 ns of guest time per instruction
        per = (f", one sample every {round(1e9 / frequency):,} guest instructions"
               if isinstance(frequency, int) and not isinstance(frequency, bool) and frequency > 0 else "")
        return (f"{what} of the guest's clock, which under icount counts instructions{per}: "
                f"a share is of the emulated CPU's instructions, not of a phone's time")
    if clock == "real":
        return f"{what} of an emulated CPU (QEMU TCG): a share is of host time spent emulating, not of a phone's time"
    return what
