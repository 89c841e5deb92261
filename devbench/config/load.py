"""Loading a config: YAML -> validated, frozen dataclasses (devbench.config.model).

Every error names file:line:column and the field path (ConfigError). Unknown keys are
refused, with a suggestion when one is close. A target's options are parsed by its kind
(devbench.targets.kinds).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from devbench.config.model import (
    NAME_RE,
    PAYLOAD_TEST_DEFINES,
    VMAS_MAX,
    AdaptiveConfig,
    BenchmarkConfig,
    BuildConfig,
    Config,
    CpufreqConfig,
    DeviceConfig,
    ProfileConfig,
    ReportConfig,
    RunConfig,
    Scenario,
    TargetConfig,
)
from devbench.config.yamlsrc import Section, Source, load_file, load_yaml, typename
from devbench.errors import ConfigError, ConfigErrors, ResultsError
from devbench.targets.kinds import KINDS, device_key
from devbench.targets.kinds.adb import LabHost
from devbench.targets.kinds.ssh import parse_options as parse_ssh_options
from devbench.targets.kinds.values import device_dir

T = TypeVar("T")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """The config file, with `--set KEY=VALUE` overrides written in before it is checked."""
    src = load_file(Path(path))
    if overrides:
        from devbench.config.overrides import apply_overrides

        apply_overrides(src, overrides)
    return parse(src)


def parse_text(text: str, file: str = "<config>") -> Config:
    return parse(load_yaml(text, file))


class Found:
    """The config's errors as they are found: every section (and every target) is checked, so
    that all of them are reported at once, as a linter does (ConfigErrors, in file order)."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def check(self, part: Callable[[], T]) -> T | None:
        """part(), or None with its error kept."""
        try:
            return part()
        except ConfigError as exc:
            self.errors.append(exc)
            return None

    def raise_any(self) -> None:
        if self.errors:
            raise ConfigErrors.of(self.errors)


def parse(src: Source) -> Config:
    top = Section(src, (), src.data)
    found = Found()
    run = found.check(lambda: _run(top.section("run")))
    lab_hosts = found.check(lambda: _lab_hosts(top.section("lab_hosts")))
    targets = None
    if lab_hosts is None:  # the targets that name a lab host cannot be checked without them
        top.seen.add("targets")
    else:
        hosts = {h.name: h for h in lab_hosts}
        targets = found.check(lambda: _targets(top, hosts))
    device = found.check(lambda: _device(top.section("device")))
    bench = found.check(lambda: _benchmark(_required(top.section("benchmark", required=True))))
    build = found.check(lambda: _build(top.section("build")))
    profile = found.check(lambda: _profile(top.section("profile")))
    report = found.check(lambda: _report(top.section("report")))
    found.check(top.done)
    with_kernels = any(getattr(t.options, "kernels", ()) for t in targets or ())
    if bench is not None and bench.adaptive is not None and with_kernels:
        found.errors.append(src.error(("benchmark", "forks"), "forks: auto cannot go with a target's kernels: (each "
                                      "boot runs the same plan): give forks a number"))
    found.raise_any()
    assert run and lab_hosts is not None and targets and device and bench and build and profile and report
    return Config(src.file, run, targets, device, bench, build, profile, lab_hosts, report, raw=src.data)


def _required(sec: Section | None) -> Section:
    assert sec is not None  # required: a missing one was reported
    return sec


def config_of(source: str) -> Config:
    """A YAML config file, or a run folder / results.json (its recorded config, obeyed only when
    devbench sealed it on this host: devbench.results.seal)."""
    from devbench.results.schema import read_results
    from devbench.results.seal import host_key, verify

    path = Path(source).expanduser()
    if path.is_dir() or path.name == "results.json":
        data = read_results(path)  # checked, without the summary's statistics (not needed here)
        where = str(path if path.name == "results.json" else path / "results.json")
        config = data["run"].get("config")
        if not isinstance(config, dict):
            raise ResultsError(where, "run.config is missing or not a mapping: give the run's YAML config instead")
        verify(data["run"], host_key(), where)
        src = load_yaml(yaml.safe_dump(config, sort_keys=False), f"{where} (run.config)")
        started_from = data["run"].get("config_file")  # sealed with the config: this host wrote it
        if isinstance(started_from, str) and Path(started_from).is_absolute():
            src.base_dir = str(Path(started_from).parent)  # its patches, found as when it started
        return parse(src)
    return load_config(path)


def _lab_hosts(sec: Section | None) -> tuple[LabHost, ...]:
    if sec is None:
        return ()
    out = []
    for name in list(sec.data):
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise sec.error(
                str(name),
                "a lab host name must start with a letter or digit and use only letters, digits, '.', '_', '-'",
            )
        h = sec.section(name)
        assert h is not None
        ssh = parse_ssh_options(h)
        out.append(LabHost(name, ssh, h.integer("adb_port", 5037, lo=1, hi=65535)))
        h.done()
    sec.seen.update(sec.data)
    sec.done()
    return tuple(out)


def _profile(sec: Section | None) -> ProfileConfig:
    if sec is None:
        return ProfileConfig()
    event = sec.string("event", "auto")
    if not re.match(r"^[a-z0-9_:-]{1,40}\Z", event):
        raise sec.error("event", f"must be a perf event name such as cpu-clock or cpu-cycles (got {event!r})")
    forks = sec.integer("forks", 100, lo=1, hi=100_000)
    batches = sec.integer("batches", 2, lo=1, hi=1000)
    if batches > forks:
        raise sec.error("batches", f"must not exceed forks ({forks}) (got {batches})")
    out = ProfileConfig(
        enabled=sec.boolean("enabled", False),
        tool=sec.string("tool", "auto", choices=("auto", "perf", "simpleperf")),
        event=event,
        call_graph=sec.string("call_graph", "fp", choices=("fp", "dwarf")),
        frequency=sec.integer("frequency", 2000, lo=1, hi=100_000),
        forks=forks,
        batches=batches,
    )
    sec.done()
    return out


def _seed_tables(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "auto":
        return "auto"
    raise ValueError(f"must be auto, true or false, not {typename(value)} {value!r}")


def _report(sec: Section | None) -> ReportConfig:
    if sec is None:
        return ReportConfig()
    out = ReportConfig(seed_tables=sec.value("seed_tables", _seed_tables, "auto"))
    sec.done()
    return out


def _name(sec: Section, key: str, default: Any = ...) -> str:
    value = sec.string(key) if default is ... else sec.string(key, default)
    if not NAME_RE.match(value):
        raise sec.error(
            key, "must start with a letter or digit and use only letters, digits, '.', '_', '-', ' ' (max 64)"
        )
    return value


def _run(sec: Section | None) -> RunConfig:
    if sec is None:
        return RunConfig()
    out = RunConfig(name=_name(sec, "name", "devbench"), output=sec.string("output", "results"))
    sec.done()
    return out


def _targets(top: Section, lab_hosts: dict[str, LabHost] | None = None) -> tuple[TargetConfig, ...]:
    """Every target checked, each one's errors reported with the others'."""
    items = top.raw("targets")
    if not isinstance(items, list) or not items:
        raise top.error("targets", "must be a non-empty list of targets")
    found = Found()
    seen: set[str] = set()
    out: list[TargetConfig] = []
    hosts = lab_hosts or {}
    for i, item in enumerate(items):
        sec = Section(top.src, ("targets", i), item)
        t = found.check(functools.partial(_target, sec, hosts))
        if t is None:
            continue
        same = next((o for o in out if device_key(o) is not None and device_key(o) == device_key(t)), None)
        if t.name in seen:
            found.errors.append(sec.error("name", f"duplicate target name {t.name!r}"))
        elif same is not None:
            found.errors.append(
                sec.error(t.kind, f"is the same device as target {same.name!r}: a device runs one target at a time"))
        else:
            seen.add(t.name)
            out.append(t)
    found.errors += _kernel_record_clashes(top, items, out)
    found.raise_any()
    return tuple(out)


def _kernel_record_clashes(top: Section, items: list[Any], targets: list[TargetConfig]) -> list[ConfigError]:
    """Each kernel of a target's ``kernels:`` is a target of its own in the results
    (``<target>-<kernel>``): that name must be no other target's."""
    from devbench.kernel.choice import kernel_record_name

    names = {t.name for t in targets}
    errors = []
    for t in targets:
        i = next(i for i, item in enumerate(items) if isinstance(item, dict) and item.get("name") == t.name)
        for j, k in enumerate(getattr(t.options, "kernels", ())):
            record = kernel_record_name(t.name, k.name)
            if record in names:
                errors.append(top.src.error(("targets", i, t.kind, "kernels", j), f"kernel {k.name!r} of target "
                                            f"{t.name!r} is reported as {record!r}, which names another target"))
            names.add(record)
    return errors


def _target(sec: Section, lab_hosts: dict[str, LabHost]) -> TargetConfig:
    """A target: its name and exactly one kind (adb:, ssh:, ...), parsed by that kind."""
    name = _name(sec, "name")
    kinds = [k for k in KINDS if sec.has(k)]
    if len(kinds) != 1:
        known = {k for k in sec.data if k != "name"}
        if not kinds and known:
            sec.seen.update(("name", *KINDS))
            sec.done()  # reports the unknown key with a suggestion
        raise sec.error("name", "a target needs exactly one of " + ", ".join(k + ":" for k in KINDS))
    kind = kinds[0]
    options = KINDS[kind].parse(sec, lab_hosts)
    sec.done()
    return TargetConfig(name=name, kind=kind, options=options)


def _device(sec: Section | None) -> DeviceConfig:
    if sec is None:
        return DeviceConfig()
    cpufreq = None
    cf = sec.section("cpufreq")
    if cf is not None:
        khz = cf.raw("khz", "max")
        ok = (isinstance(khz, int) and not isinstance(khz, bool) and khz > 1) or khz in ("max", "min") \
            or (isinstance(khz, float) and 0 < khz <= 1)
        if not ok:
            raise cf.error(
                "khz", f"must be a frequency in kHz, 'max', 'min' or a fraction in (0, 1] of the highest (got {khz!r})"
            )
        governor = cf.string("governor", "performance")
        if not re.match(r"^[a-z0-9_]{1,32}\Z", governor):
            raise cf.error(
                "governor", f"must be a cpufreq governor name such as performance or userspace (got {governor!r})"
            )
        cpufreq = CpufreqConfig(governor=governor, khz=khz, cpus=_cpu_list(cf, "cpus"))
        cf.done()
    mmc = sec.raw("max_map_count", "auto")
    if mmc != "auto" and (isinstance(mmc, bool) or not isinstance(mmc, int) or mmc < 1):
        raise sec.error("max_map_count", f"must be a positive integer or 'auto' (got {mmc!r})")
    out = DeviceConfig(
        root=sec.string("root", "auto", choices=("auto", "require", "never")),
        stop_framework=sec.boolean("stop_framework", False),
        cpufreq=cpufreq,
        pin=_cpu_list(sec, "pin"),
        max_map_count=mmc,
        battery_min_pct=sec.integer("battery_min_pct", 25, lo=0, hi=100),
        boot_timeout_s=sec.integer("boot_timeout_s", 180, lo=1, hi=3600),
        reconnect_timeout_s=sec.integer("reconnect_timeout_s", 120, lo=0, hi=24 * 3600),
        sysfs=sec.value("sysfs", _fs_root("sys"), "/sys"),
        procfs=sec.value("procfs", _fs_root("proc"), "/proc"),
        require=sec.value("require", _requirements, ()),
    )
    sec.done()
    return out


def _requirements(value: Any) -> tuple[str, ...]:
    from devbench.results.strict import REQUIREMENTS

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of {', '.join(REQUIREMENTS)}")
    for v in value:
        if v not in REQUIREMENTS:
            hint = difflib.get_close_matches(v, list(REQUIREMENTS), n=1)
            raise ValueError(f"unknown requirement {v!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                             + f"; known: {', '.join(REQUIREMENTS)}")
    return tuple(dict.fromkeys(value))


def _fs_root(name: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        path = device_dir(value)
        if path.rstrip("/").split("/")[-1] != name:
            raise ValueError(f"must be an absolute path ending in /{name} (got {value!r})")
        return path.rstrip("/")
    return check


def _cpu_list(sec: Section, key: str) -> tuple[int, ...] | None:
    value = sec.raw(key, None)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < 4096 for c in value)
    ):
        raise sec.error(key, f"must be a non-empty list of CPU numbers such as [4, 5, 6, 7] (got {value!r})")
    return tuple(sorted(set(value)))


def _benchmark(sec: Section) -> BenchmarkConfig:
    adaptive = None
    if sec.raw("forks", None) == "auto":
        sec.seen.add("forks")
        prec = sec.raw("precision", "1%")
        try:
            pct = float(str(prec).rstrip("%")) if not isinstance(prec, bool) else -1.0
        except ValueError:
            pct = -1.0
        if not 0 < pct <= 100:
            raise sec.error("precision", f"must be a percentage such as 1% or 0.5 (got {prec!r})")
        sec.seen.add("precision")
        round_forks = sec.integer("round_forks", 200, lo=2, hi=1_000_000)
        adaptive = AdaptiveConfig(pct, sec.integer("max_forks", 5000, lo=round_forks, hi=10_000_000))
        forks = round_forks
    else:
        for key in ("precision", "max_forks", "round_forks"):
            if sec.has(key):
                raise sec.error(key, "is only for forks: auto")
        forks = sec.integer("forks", 1000, lo=1, hi=10_000_000)
    batches = sec.integer("batches", 10, lo=1, hi=100_000)
    if batches > forks:
        raise sec.error("batches", f"must not exceed forks ({forks}) (got {batches})")
    items = sec.raw("scenarios")
    if not isinstance(items, list) or not items:
        raise sec.error("scenarios", "must be a non-empty list of {name, pages}")
    scenarios: list[Scenario] = []
    for i, item in enumerate(items):
        s = Section(sec.src, sec.path + ("scenarios", i), item)
        sc = Scenario(name=_name(s, "name"), pages=s.integer("pages", lo=0, hi=1_000_000))
        s.done()
        if any(o.name == sc.name for o in scenarios):
            raise s.error("name", f"duplicate scenario name {sc.name!r}")
        scenarios.append(sc)
    out = BenchmarkConfig(
        vmas=_vmas(sec),
        name_length=sec.integer("name_length", 79, lo=1, hi=79),
        shared_name=sec.boolean("shared_name", False),
        placebo=sec.boolean("placebo", False),
        forks=forks,
        warmup=sec.integer("warmup", 10, lo=0, hi=1_000_000),
        batches=batches,
        mode=sec.string("mode", "interleaved", choices=("interleaved", "separate")),
        seed=sec.integer("seed", 1, lo=0, hi=2**63 - 1),
        timeout_s=float(sec.integer("timeout_s", 3600, lo=1, hi=7 * 24 * 3600)),
        on_emulator=sec.string("on_emulator", "smoke", choices=("smoke", "full")),
        scenarios=tuple(scenarios),
        adaptive=adaptive,
    )
    sec.done()
    return out


VMAS_MAX_COUNTS = 32  # a sweep's counts: each one runs every scenario


def _vmas(sec: Section) -> int | tuple[int, ...]:
    """benchmark.vmas: one count, or a list of counts (a sweep), each 1..VMAS_MAX, no two the
    same; a list is kept ascending. A bad element is named by its index (benchmark.vmas[2])."""
    value = sec.raw("vmas", 65536)
    if not isinstance(value, list):
        return sec.integer("vmas", 65536, lo=1, hi=VMAS_MAX)
    if not value:
        raise sec.error("vmas", "must be a VMA count or a non-empty list of them, such as [1024, 4096, 16384, 65536]")
    if len(value) > VMAS_MAX_COUNTS:
        raise sec.error("vmas", f"must list at most {VMAS_MAX_COUNTS} VMA counts (got {len(value)})")
    counts: list[int] = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int):
            raise sec.src.error(sec.path + ("vmas", i), f"must be an integer VMA count, not {typename(v)} {v!r}")
        if not 1 <= v <= VMAS_MAX:
            raise sec.src.error(sec.path + ("vmas", i), f"must be 1..{VMAS_MAX} (got {v})")
        if v in counts:
            raise sec.src.error(sec.path + ("vmas", i), f"duplicate VMA count {v} (also vmas[{counts.index(v)}])")
        counts.append(v)
    return tuple(sorted(counts))


def _build(sec: Section | None) -> BuildConfig:
    if sec is None:
        return BuildConfig()
    out = BuildConfig(
        compiler=sec.string("compiler", "zig", choices=("zig", "gcc", "ndk", "cc")),
        cc=sec.string("cc", None),
        android_api=sec.integer("android_api", 29, lo=16, hi=99),
        defines=_defines(sec),
    )
    if out.compiler in ("ndk", "cc") and out.cc is None:
        raise sec.error(
            "cc",
            f"is required with compiler: {out.compiler} (path to the "
            f"{'NDK root' if out.compiler == 'ndk' else 'compiler'})",
        )
    sec.done()
    return out


def _defines(sec: Section) -> tuple[str, ...]:
    names = sec.string_list("defines", [])
    for i, name in enumerate(names):
        if name not in PAYLOAD_TEST_DEFINES:
            raise sec.src.error(sec.path + ("defines", i), f"{name!r} is not one of the payload's test builds "
                                f"({', '.join(PAYLOAD_TEST_DEFINES)})")
    return tuple(sorted(set(names)))
