"""The kernels one QEMU target compares (``kernels:``): each a name and what to boot.

```yaml
qemu:
  arch: x86_64
  clock: icount
  kernels:
    - {name: refcount}                                     # devbench's feature kernel
    - {name: strdup, patches: [anon-name-strdup.patch]}    # the feature kernel plus patches
    - {name: mine, kernel: ~/linux/arch/x86/boot/bzImage}  # or stock, or an image path
  boots: 2                                                 # boots of each kernel (ABBA order)
```

The run boots the kernels one after the other, alternating (devbench.run.kernels), and runs
the same plan on each boot. Every result of a kernel is its own target in results.json, named
``<target>-<kernel>`` (kernel_record_name), so that each kernel has the seed's table, its
device facts and its profile; the kernels table compares them, the boot as the unit
(devbench.analysis.kernels). Two entries may name the same kernel: an A/A comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devbench.config.yamlsrc import Section

from .patch import NAME_RE, KernelVariant, parse_patches

__all__ = ["MIN_BOOTS", "KernelChoice", "kernel_record_name", "parse_kernels"]

MIN_BOOTS = 2  # boots of each kernel: the boot is the unit of the kernels table, and one gives no spread
MAX_BOOTS = 100
BUILT_IN = ("feature", "stock")
HELP = ("{name: refcount} (the feature kernel), {name: strdup, patches: [anon-name-strdup.patch]} "
        "or {name: NAME, kernel: feature | stock | PATH}")


@dataclass(frozen=True)
class KernelChoice:
    """One kernel of ``kernels:``: ``name`` labels its rows (strdup, refcount); ``kernel`` and
    ``variant`` are what a target's ``kernel:`` would be (feature | stock | PATH; patches)."""

    name: str
    kernel: str = "feature"
    variant: KernelVariant | None = None


def kernel_record_name(target: str, kernel: str) -> str:
    """The name a kernel's results carry in results.json: one target record per kernel."""
    return f"{target}-{kernel}"


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(f"must be a short name of letters, digits, '.', '_', '-' (max 40), such as strdup "
                         f"(got {value!r})")
    return value


def _choice(sec: Section, key: str, index: int, item: Any) -> KernelChoice:
    if isinstance(item, str) and item in BUILT_IN:
        return KernelChoice(item, item)
    if not isinstance(item, dict):
        raise sec.src.error(sec.path + (key, index), f"must be a kernel to compare: {HELP}, not {item!r}")
    ks = Section(sec.src, sec.path + (key, index), item)
    name = ks.value("name", _name)
    if ks.has("patches"):
        if ks.raw("kernel", "feature") != "feature":
            raise ks.error("kernel", "patches apply to devbench's feature kernel: leave kernel: out")
        out = KernelChoice(name, "feature", KernelVariant(name, parse_patches(ks)))
    else:
        ks.seen.add("patches")  # a known key, for the suggestion of a misspelt one
        out = KernelChoice(name, ks.string("kernel", "feature"))
    ks.done()
    return out


def parse_kernels(sec: Section, key: str = "kernels") -> tuple[KernelChoice, ...]:
    """``kernels:`` of a qemu target: two or more kernels with distinct names (empty: none
    given). Errors are ConfigErrors at the entry's file:line:column."""
    raw = sec.raw(key, None)
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) < 2:
        raise sec.error(key, f"must be a list of two or more kernels to compare, such as {HELP}")
    out: list[KernelChoice] = []
    for i, item in enumerate(raw):
        choice = _choice(sec, key, i, item)
        if any(c.name == choice.name for c in out):
            where = sec.path + (key, i) + (("name",) if isinstance(item, dict) else ())
            raise sec.src.error(where, f"duplicate kernel name {choice.name!r}: every kernel needs a name of its own")
        out.append(choice)
    return tuple(out)
