"""Property-based tests of the config loader (hypothesis): whatever the YAML, parse_text and
load_config return a Config or raise ConfigError, whose one line names file:line and the
field. Never another exception, never a hang (alias bombs and deep nesting are bounded).

The inputs are valid configs with mutated values (wrong types, out-of-range and huge
numbers, unknown keys, hostile strings with unicode, control characters and shell
metacharacters), raw YAML spliced in where a value goes (tags, aliases, anchors, bombs, deep
nesting, duplicate keys), non-mapping roots, random text and random bytes.

Each test prints how many examples it tried (docs/reliability.md).
"""

from __future__ import annotations

import re
import time
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devbench.config import Config, load_config, parse_text
from devbench.errors import ConfigError, ConfigErrors

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

FILE = "fuzz.yaml"
# Errors about the document as a whole (not one field): the only ones without a field name
# (a document that is one bad value, e.g. `!!int x`, is a "bad value" of the document).
DOCUMENT_ERRORS = ("not valid YAML", "the file is empty", "nested deeper than", "must be a mapping", "a key must be",
                   "not UTF-8", "the config expands to", "bad value", "unsupported YAML tag", "number too large")
STRICT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,63}")
STRICT_DIR = re.compile(r"/[A-Za-z0-9._/-]+")

HOSTILE_STRINGS = [
    "$(touch /tmp/devbench-pwned)", "`touch /tmp/devbench-pwned`", "'; touch /tmp/devbench-pwned; '",
    '"; touch /tmp/devbench-pwned; "', "a;b", "a|b", "a&&b", "a\nb", "a\rb", "a\x00b", "a\x1bb", "\x85", "\u2028",
    "../../etc", "/data/../../etc", "/tmp/x/..", "..", ".", "/", "~", "~root/x", "-rf", "--help", "%s%n%x",
    "{{7*7}}", "<script>alert(1)</script>", "&amp;", "\u202e", "名前", "🚀", " leading", "trailing ", "",
    "x" * 300, "a" * 65, "\t", "*", "?", "[a-z]", "${HOME}", "$HOME", "\\", "'", '"', "#", "!", "&", "@",
]
# Raw YAML put where a value (or key) goes, after dumping: what yaml.safe_dump never writes.
RAW_SNIPPETS = [
    "!!float abc", "!!int abc", "!!bool abc", "!!timestamp 2020-13-45", "!!timestamp abc", "!!binary '%%%'",
    "!!binary aGVsbG8=", "!!python/object/apply:os.system ['touch /tmp/devbench-pwned']",
    "!!python/name:os.system x", "!!set {a, b}", "!!omap [a: 1]", "!foo bar", "!!str", "!!null x",
    "9" * 5000, "-" + "9" * 400, "0x" + "f" * 2000, "0b" + "1" * 300, "0o" + "7" * 300, "1e999", "-1e999",
    ".nan", ".inf", "-.inf", "1_000", "0x10", "0o17", "1:30:00", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "~", "null", "yes", "No", "on", "'x'", '"\\x00"', '"\\u202e"', '"\\e"', '"a\\nb"', "{a: 1, a: 2}",
    "[" * 100 + "]" * 100, "{a: " * 80 + "1" + "}" * 80, "*undefined", "&anchor x", "&a [*a]", "[&b x, *b, *b]",
    "<<", "{<<: {a: 1}}", "? [a]", "[a]", "{}", "[]", "''", "|", ">", "@x", "`x`", "%x", "- a", ": a",
    "{? [k]: v}", "!!map {}", "!!seq []", "&x {k: &y [*y]}",
]
BOMB = ("laugh0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha]\n"
        + "".join(f"laugh{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10)))


def base_config() -> dict[str, Any]:
    """A valid config that uses every section and every kind of target."""
    return {
        "run": {"name": "fuzz", "output": "/nonexistent/devbench-fuzz"},
        "lab_hosts": {
            "rack1": {"host": "192.0.2.7", "port": 22, "user": "lab", "key": "/nonexistent/id", "adb_port": 5037}
        },
        "targets": [
            {
                "name": "phone",
                "adb": {"serial": "R58M123ABC", "workdir": "/data/local/tmp/devbench", "server_port": 5099},
            },
            {"name": "net", "adb": {"connect": "192.0.2.9:5555"}},
            {"name": "farm", "adb": {"select": "model:Pixel.*", "via": "rack1"}},
            {
                "name": "board",
                "ssh": {
                    "host": "192.0.2.10",
                    "port": 22,
                    "user": "root",
                    "key": "/nonexistent/id",
                    "known_hosts": "/nonexistent/known_hosts",
                    "workdir": "/tmp/devbench",
                    "connect_timeout": 5,
                },
            },
            {"name": "here", "local": {"workdir": "/tmp/devbench-fuzz"}},
            {
                "name": "kut",
                "qemu": {
                    "arch": "x86_64",
                    "kernel": "feature",
                    "memory_mb": 2048,
                    "cpus": 2,
                    "append": "quiet",
                    "accel": "tcg",
                },
            },
            {"name": "emu", "emulator": {"avd": "Pixel_7", "boot_timeout_s": 600}},
            {"name": "lg", "labgrid": {"place": "board-1", "coordinator": "127.0.0.1:20408"}},
        ],
        "device": {
            "root": "auto",
            "stop_framework": True,
            "cpufreq": {"governor": "performance", "khz": 2400000, "cpus": [4, 5]},
            "pin": [4, 5],
            "max_map_count": "auto",
            "battery_min_pct": 25,
            "boot_timeout_s": 180,
            "sysfs": "/sys",
            "procfs": "/proc",
        },
        "benchmark": {
            "vmas": 512,
            "name_length": 79,
            "shared_name": False,
            "forks": 100,
            "warmup": 10,
            "batches": 10,
            "mode": "interleaved",
            "seed": 1,
            "timeout_s": 3600,
            "on_emulator": "smoke",
            "scenarios": [{"name": "unpopulated", "pages": 0}, {"name": "1 page", "pages": 1}],
        },
        "build": {"compiler": "zig", "android_api": 29},
        "profile": {
            "enabled": True,
            "tool": "auto",
            "event": "cpu-clock",
            "call_graph": "fp",
            "frequency": 2000,
            "forks": 100,
            "batches": 2,
        },
    }


def paths_of(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in data (mappings and lists), the root excluded."""
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(prefix + (k,))
            out.extend(paths_of(v, prefix + (k,)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.append(prefix + (i,))
            out.extend(paths_of(v, prefix + (i,)))
    return out


def get(data: Any, path: tuple) -> Any:
    for p in path:
        data = data[p]
    return data


hostile_text = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=40),  # any unicode, control characters included
    st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE_STRINGS), st.text(max_size=10)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    hostile_text,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 65535, 65536, 2**31, 2**63, 2**64, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def mutated_configs(draw) -> str:
    """YAML text of the base config after 1 to 3 mutations, possibly with raw YAML spliced in."""
    data = base_config()
    raw: dict[str, str] = {}
    for _ in range(draw(st.integers(1, 3))):
        paths = paths_of(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = get(data, path[:-1]), path[-1]
        op = draw(st.sampled_from(["value", "value", "raw", "delete", "unknown_key", "wrap", "secret", "rename",
                                   "same_type", "same_type", "same_type"]))
        if op == "same_type":  # a value of the same type: some of these configs stay valid
            old = parent[key]
            if isinstance(old, bool):
                parent[key] = draw(st.booleans())
            elif isinstance(old, int):
                parent[key] = draw(st.integers(min_value=-2, max_value=100_000))
            elif isinstance(old, str):
                parent[key] = draw(
                    st.sampled_from(["a", "b-1", "x y", "/tmp/a", "/data/x/../y", "8", *HOSTILE_STRINGS])
                )
        elif op == "value":
            parent[key] = draw(values)
        elif op == "raw":
            token = f"ZZRAW{len(raw)}ZZ"
            raw[token] = draw(st.sampled_from(RAW_SNIPPETS))
            parent[key] = token
        elif op == "delete":
            del parent[key]
        elif op == "unknown_key" and isinstance(parent, dict):
            parent[draw(st.one_of(hostile_text, st.sampled_from(["forkz", "workdirr", "nmae", "vmas ", "Forks"])))] = (
                draw(values)
            )
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"x": parent[key]}, str(parent[key])]))
        elif op == "secret" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["password", "passphrase"]))] = "hunter2"
        elif op == "rename" and isinstance(parent, dict):
            token = f"ZZRAW{len(raw)}ZZ"
            raw[token] = draw(st.sampled_from(RAW_SNIPPETS))
            parent[token] = parent.pop(key)
    flow = draw(st.booleans())
    text = yaml.safe_dump(
        data, default_flow_style=flow, allow_unicode=draw(st.booleans()), sort_keys=False, width=10**6
    )
    for token, snippet in raw.items():
        text = text.replace(token, snippet)
    extra = draw(st.sampled_from(["", "", "", "bomb", "dup", "doc", "bom", "tab", "comment"]))
    if extra == "bomb":
        text = BOMB + text
    elif extra == "dup":
        text += "benchmark: {vmas: 1}\n"
    elif extra == "doc":
        text += "---\nrun: {name: second}\n"
    elif extra == "bom":
        text = "\ufeff" + text
    elif extra == "tab":
        text = text.replace("  ", "\t", 1)
    elif extra == "comment":
        text = "# $(touch /tmp/devbench-pwned)\n" + text
    return text


other_documents = st.one_of(
    values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),  # non-mapping roots, mappings of junk
    st.text(max_size=200),
    st.sampled_from(RAW_SNIPPETS),
    st.sampled_from(["", "\n", "# only a comment\n", "---\n", "...\n", BOMB, BOMB + "targets: *l9\n",
                     "[" * 5000, "- " * 3000 + "x", "a: " + "[" * 70 + "]" * 70, "&a [*a]", "x: &a\n  y: *a\n"]),
)


def check(text: str, file: str = FILE) -> Config | None:
    started = time.monotonic()
    try:
        cfg = parse_text(text, file)
    except ConfigError as exc:
        check_error(exc, text, file)
        cfg = None
    assert time.monotonic() - started < 5, "config loading must stay bounded"
    if cfg is not None:
        check_config(cfg)
    return cfg


def check_error(exc: ConfigError, text: str | None, file: str) -> None:
    if isinstance(exc, ConfigErrors):  # several: one line each, in file order, each one checked
        assert len(exc.errors) > 1 and str(exc).splitlines() == [ConfigError.__str__(e) for e in exc.errors]
        assert [(e.line or 0, e.column or 0) for e in exc.errors] == sorted((e.line or 0, e.column or 0)
                                                                             for e in exc.errors)
        for e in exc.errors:
            check_error(e, text, file)
        return
    line = str(exc)
    assert len(line.splitlines()) == 1 and line.isprintable(), f"not one printable line: {line!r}"
    assert exc.file == file and line.startswith(f"{file}:")
    if text is not None:
        assert isinstance(exc.line, int) and 1 <= exc.line <= text.count("\n") + 2, line
        assert line.startswith(f"{file}:{exc.line}:")
    if exc.field:
        assert f" {exc.field}: " in line
        head = re.split(r"[.\[]", exc.field, maxsplit=1)[0]
        keys = set()
        for loader in (getattr(yaml, "CBaseLoader", yaml.BaseLoader), getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            # raw keys, and keys such as `!!binary x` as values (libyaml where there is one: faster)
            try:
                top = yaml.load(text, Loader=loader) if text is not None else None
            except Exception:  # noqa: BLE001 - PyYAML itself fails on some of these documents
                top = None
            if isinstance(top, dict):
                keys |= {str(k) for k in top}
        if keys and head and not head.startswith(("'", '"')):  # a repr'd key (not printable)
            assert head in keys or exc.field in keys or head in ("targets", "benchmark"), (
                f"field {exc.field!r} is not in the document: {line}"
            )
    else:
        # an unknown key '' has no field to name: the message names it
        assert any(m in exc.message for m in DOCUMENT_ERRORS) or exc.message.startswith("unknown key ''"), (
            f"no field named: {line}")
    if exc.field.rsplit(".", 1)[-1] in ("password", "passphrase"):
        assert "hunter2" not in line  # a refused secret is never echoed


def check_config(cfg: Config) -> None:
    """What an accepted config guarantees: names and device paths that are plain and safe."""
    assert STRICT_NAME.fullmatch(cfg.run.name)
    for t in cfg.targets:
        assert STRICT_NAME.fullmatch(t.name), t.name
        workdir = getattr(t.options, "workdir", None)
        if workdir is not None:
            assert STRICT_DIR.fullmatch(workdir) and ".." not in workdir.split("/"), workdir
        assert not hasattr(t.options, "password") and not hasattr(t.options, "passphrase")
    for sc in cfg.benchmark.scenarios:
        assert STRICT_NAME.fullmatch(sc.name)
    for root in (cfg.device.sysfs, cfg.device.procfs):
        assert STRICT_DIR.fullmatch(root) and ".." not in root.split("/")


def report(capsys, name: str, n: int, accepted: int) -> None:
    with capsys.disabled():
        print(
            f"\n[fuzz] {name}: {n} examples tried ({accepted} accepted as valid configs, the rest refused with "
            "a ConfigError)"
        )


def test_base_config_is_valid():
    """The mutations start from a config that is accepted (so a refusal is the mutation's doing)."""
    cfg = check(yaml.safe_dump(base_config(), sort_keys=False))
    assert cfg is not None and len(cfg.targets) == 8


def test_mutated_configs_load_or_name_the_field(capsys):
    seen = {"n": 0, "ok": 0}

    @FUZZ
    @given(mutated_configs())
    def one(text: str) -> None:
        seen["n"] += 1
        seen["ok"] += check(text) is not None

    one()
    report(capsys, "mutated configs", seen["n"], seen["ok"])
    assert seen["n"] >= 150


def test_other_documents_load_or_are_refused(capsys):
    seen = {"n": 0, "ok": 0}

    @FUZZ
    @given(other_documents)
    def one(text: str) -> None:
        seen["n"] += 1
        seen["ok"] += check(text) is not None

    one()
    report(capsys, "non-config documents", seen["n"], seen["ok"])
    assert seen["n"] >= 150


def test_config_files_of_any_bytes(capsys, tmp_path):
    """load_config on files: random bytes, invalid UTF-8 (the error names line and column)."""
    seen = {"n": 0, "ok": 0}
    folder = tmp_path

    @FUZZ
    @given(st.one_of(st.binary(max_size=300), mutated_configs().map(lambda t: t.encode("utf-8") + b"\xff\xfe")))
    def one(content: bytes) -> None:
        seen["n"] += 1
        path = folder / f"c{seen['n']}.yaml"
        path.write_bytes(content)
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            check_error(exc, None, str(path))
            assert exc.line is not None, str(exc)  # the file exists: the error says where in it
            return
        check_config(cfg)
        seen["ok"] += 1

    one()
    report(capsys, "config files of random bytes", seen["n"], seen["ok"])
    assert seen["n"] >= 150


def test_alias_bomb_is_refused_quickly():
    started = time.monotonic()
    try:
        parse_text(BOMB + "targets: *l9\n", FILE)
    except ConfigError as exc:
        assert "expands to more than" in exc.message and exc.line is not None
    else:
        raise AssertionError("a billion laughs was accepted")
    assert time.monotonic() - started < 2


def test_deep_nesting_is_refused_with_a_position():
    for text in ("a: " + "[" * 5000 + "]" * 5000, "a: " + "{b: " * 2000 + "1" + "}" * 2000):
        try:
            parse_text(text, FILE)
        except ConfigError as exc:
            assert "nested deeper than" in exc.message and exc.line == 1
        else:
            raise AssertionError("deep nesting accepted")


def test_huge_numbers_and_bad_tags_name_the_field():
    base = "targets: [{name: a, local: {}}]\nbenchmark: {scenarios: [{name: s, pages: 0}]}\n"
    for raw in ("9" * 5000, "0x" + "f" * 5000, "!!float abc", "!!bool abc", "!!timestamp 2020-13-45", "!!int abc"):
        try:
            parse_text(base + f"device: {{battery_min_pct: {raw}}}\n", FILE)
        except ConfigError as exc:
            assert exc.field == "device.battery_min_pct" and exc.line == 3, str(exc)
        else:
            raise AssertionError(raw)


def test_trailing_newline_does_not_sneak_past_name_and_path_checks():
    """`$` in a regular expression matches before a final newline: names and device paths use \\Z."""
    for target in ('{name: "a\\n", local: {}}', '{name: a, adb: {serial: x, workdir: "/tmp/x\\n"}}',
                   '{name: a, local: {workdir: "../x;rm -rf ~"}}', '{name: a, emulator: {avd: "p\\n"}}',
                   '{name: a, qemu: {arch: x86_64, append: "quiet\\n"}}'):
        try:
            parse_text(f"targets: [{target}]\nbenchmark: {{scenarios: [{{name: s, pages: 0}}]}}\n", FILE)
        except ConfigError as exc:
            assert exc.field.startswith("targets[0].") and exc.line == 1, str(exc)
        else:
            raise AssertionError(target)
