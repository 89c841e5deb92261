"""Property-based tests of the command line (hypothesis): `devbench.cli.main(argv)` ends with
exit code 0, 1, 2 (or 3 for --fail-on-regression), and a bad input gives ONE line on stderr
that says what is wrong; never a traceback.

Only the commands that do not touch a device are fuzzed: `run` with configs that fail
validation, `report`/`compare` on malformed results files, `kernel-config`, `restore` with
bad paths, `lava-job`/`lava-results` with bad files. A guard makes any attempt to start a
run or open a target fail the test (no fuzzed input may reach a device).

Malformed results files: truncated JSON, wrong schema, wrong types in samples and records,
huge numbers, NaN/Infinity, deep nesting, invalid UTF-8. `shape_problem` (devbench.results.schema)
is also checked on its own: whatever it accepts, every reader and renderer of a results dict
takes without an exception.

The HTML pages are rendered for real, plots included (a few ms each); a separate test
also renders them on extreme but valid numbers. Each fuzz test prints how many examples it
tried (docs/reliability.md).
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from devbench import cli
from devbench.config import parse_text
from devbench.errors import ConfigError, ResultsError
from devbench.results.schema import parse_results, shape_problem
from tests.simdata import make_results
from tests.unit.config.test_fuzz_config import HOSTILE_STRINGS, get, mutated_configs, other_documents, paths_of

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
FEW = settings(FUZZ, max_examples=60)

EXIT_CODES = {0, 1, 2}


# -- guards and helpers -------------------------------------------------------------------------

class ReachedADevice(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_devices(monkeypatch):
    """Fuzzed input must never start a run or open a target: each of these fails the test."""
    def refuse(*args, **kwargs):
        raise ReachedADevice(f"fuzzed input reached a device: {args!r:.200}")

    import devbench.device.restore
    import devbench.run.runner
    import devbench.run.steps
    import devbench.targets

    for module, name in ((devbench.run.runner, "start_run"), (devbench.run.runner, "execute"),
                         (devbench.targets, "open_target"), (devbench.run.steps, "open_target"),
                         (devbench.device.restore, "open_target"), (devbench.device.restore, "restore_targets")):
        monkeypatch.setattr(module, name, refuse)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-cli")


class Files:
    """Fresh file names, each in a folder of its own."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(dir=self.root)) / name

    def write(self, name: str, content: str | bytes) -> Path:
        p = self.path(name)
        p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
        return p


def call(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2), one line
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def one_line_error(err: str, code: int) -> None:
    """One line per error: one line, or a config's errors (ConfigErrors), each a line of its own."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines, f"exit {code} without a word on stderr"
    assert len(lines) == 1 or all(ln.startswith("devbench: ") for ln in lines), (
        f"exit {code} with more than one line on stderr: {err!r}")
    assert len(set(lines)) == len(lines), f"exit {code}: an error said twice: {err!r}"
    assert lines[0].startswith("devbench"), lines[0]


def tally(capsys, what: str, n: int, codes: dict[int, int]) -> None:
    """n: examples generated; the exit codes count the ones that got as far as main()."""
    with capsys.disabled():
        print(f"\n[fuzz] {what}: {sum(codes.values())} argument lists run through main() "
              f"(exit codes: {dict(sorted(codes.items()))}; {n} examples generated)")


# -- malformed results files --------------------------------------------------------------------

def base_results() -> dict[str, Any]:
    """A finished run with every kind of record the reports read (shaped as the runner writes them)."""
    d = make_results(batches=3, per_batch=4, scenarios=(("unpopulated", 0, 16.0), ("1 page", 1, 20.0)))
    t = d["targets"][0]
    t["facts"].update({"kernel_build": "#1 SMP", "page_size": 4096, "mem_available_kb": 4_000_000, "abi": "aarch64"})
    t["device_changes"] = [{"setting": "vm.max_map_count", "before": "65530", "after": "66560", "verified": True,
                            "restored": True, "restored_value": "65530"}]
    t["transport_info"] = {"arch": "x86_64", "kernel": "feature", "kernel_config_source": None, "boot_seconds": 3.1,
                           "boot_attempts": 1, "console_log": "/x/console-kut-1.log"}
    t["transport"] = "qemu"
    t["device"] = {"root": "uid 0", "locked_khz": {"policy0": 1804800}, "pinned": [0, 1]}
    t["conditions"] = [{"t": 1.0, "freq_khz": {"policy0": 576000}, "temp_mc": {"cpu": 45000}}]
    t["warnings"] = ["clocks not locked: no root"]
    d["checks"] = [
        {"target": "phone", "scenario": "unpopulated", "check": "setup", "vmas_expected": 64, "vmas_created": 64,
         "vmas_ok": True, "map_ns": 1000, "populate_ns": 0},
        {"target": "phone", "scenario": "unpopulated", "check": "named_check", "vmas_expected": 64, "anon_lines": 64,
         "ok": True, "name_ns": 500},
    ]
    d["errors"] = [{"target": "phone", "scenario": "1 page", "arm": "named", "kind": "payload-crashed",
                    "message": "killed by SIGKILL", "time": "2024-01-01T00:00:00+00:00"}]
    d["profiles"] = [
        {
            "target": "phone",
            "scenario": "unpopulated",
            "arm": arm,
            "tool": "perf",
            "event": "cpu-clock",
            "call_graph": "fp",
            "frequency": 2000,
            "forks": 10,
            "system_wide": True,
            "stats": {"samples": 10, "unknown_frames": 0, "unknown_by_file": {}},
            "payload_samples": 8,
            "fork_path_samples": 6,
            "folded": {"forkbench;main;fork;copy_process;dup_mmap": 5 + i, "forkbench;main;fork;copy_process": 1},
            "files": {"data": "profiles/phone/0-unpopulated-named.perf.data"},
        }
        for i, arm in enumerate(("unnamed", "named"))
    ]
    return d


BASE_RESULTS = base_results()
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70),
                    st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]),
                    st.floats(allow_nan=True, allow_infinity=True))
json_scalars = st.one_of(st.none(), st.booleans(), numbers, st.sampled_from(HOSTILE_STRINGS), st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)


@st.composite
def results_texts(draw) -> str | bytes:
    """results.json text: the base run after 1 to 3 mutations, then maybe cut, bloated or garbled."""
    data = copy.deepcopy(BASE_RESULTS)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in paths_of(data) if p[0] != "summary"]
        path = draw(st.sampled_from(paths))
        parent, key = get(data, path[:-1]), path[-1]
        op = draw(st.sampled_from(["value", "value", "number", "delete", "wrap", "unknown", "same"]))
        if op == "value":
            parent[key] = draw(json_values)
        elif op == "number":
            parent[key] = draw(numbers)
        elif op == "delete":
            del parent[key]
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"x": parent[key]}, str(parent[key])]))
        elif op == "unknown" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        elif op == "same" and isinstance(parent[key], str):
            parent[key] = draw(st.sampled_from(HOSTILE_STRINGS))
    text = json.dumps(data, allow_nan=True)
    garble = draw(st.sampled_from(["", "", "", "cut", "huge", "deep", "bytes", "empty", "other"]))
    if garble == "cut":
        text = text[:draw(st.integers(0, max(0, len(text) - 1)))]
    elif garble == "huge":
        text = text.replace("16", "9" * 5000, 1) if "16" in text else text + "9" * 5000
    elif garble == "deep":
        text = text[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    elif garble == "bytes":
        return text.encode()[:50] + b"\xff\xfe" + text.encode()[50:]
    elif garble == "empty":
        text = ""
    elif garble == "other":
        text = draw(st.one_of(json_values.map(lambda v: json.dumps(v, allow_nan=True)), st.text(max_size=50)))
    return text


def check_results_error(exc: ResultsError, where: str) -> None:
    line = str(exc)
    assert len(line.splitlines()) == 1 and line.isprintable(), repr(line)
    assert line.startswith(where + ": ")


def render_everything(data: dict[str, Any]) -> None:
    """Every reader and renderer of a results dict, as report and compare use them."""
    from devbench.analysis import Options, analyze, compare
    from devbench.report.compare_html import render_compare_html
    from devbench.report.html import render_html
    from devbench.report.outputs import compare_output, run_output
    from devbench.results.store import summarize

    options = Options(margin_pct=1.0)
    data = dict(data, summary=summarize(data))
    analysis = analyze(data, options)
    render_html(data, analysis)
    for fmt in ("text", "markdown", "json", "csv"):
        run_output(data, analysis, fmt, 5.0)
    for a, b in ((data, BASE_RESULTS), (BASE_RESULTS, data)):
        result = compare(a, b, options)
        for fmt in ("text", "markdown", "json", "csv"):
            compare_output(result, fmt)
    links = {"a_results": "a", "b_results": "b", "a_report": "a", "b_report": "b"}
    render_compare_html(result, BASE_RESULTS, data, links)  # the page reads both runs the same way


def test_the_base_results_are_valid_and_render():
    from devbench.results import schema as results_check
    from devbench.results import store as results

    assert results_check.SCHEMA == results.SCHEMA
    assert shape_problem(BASE_RESULTS) is None
    render_everything(BASE_RESULTS)


def test_checks_render_without_their_optional_fields() -> None:
    """Found by the fuzz test below on CI: a setup check without ``map_ns`` (optional in the
    schema) made the report's template raise; a check of a kind the report does not know too."""
    import copy

    data = copy.deepcopy(BASE_RESULTS)
    for c in data["checks"]:
        for key in ("map_ns", "populate_ns", "name_ns"):
            c.pop(key, None)
    data["checks"].append({"check": "future-kind"})
    assert shape_problem(data) is None
    render_everything(data)


def test_whatever_the_results_check_accepts_every_renderer_takes(capsys):
    """The check (devbench.results.schema) against the readers: accepted means renderable."""
    seen = {"n": 0, "accepted": 0}

    @FUZZ
    @given(results_texts())
    def one(content: str | bytes) -> None:
        seen["n"] += 1
        if isinstance(content, bytes):
            return  # bytes are refused before parsing (results.load: cannot read)
        try:
            data = parse_results(content, "r/results.json")
        except ResultsError as exc:
            check_results_error(exc, "r/results.json")
            return
        seen["accepted"] += 1
        render_everything(data)

    one()
    with capsys.disabled():
        print(f"\n[fuzz] results dicts against the renderers: {seen['n']} examples tried ({seen['accepted']} accepted)")
    assert seen["n"] >= 150 and seen["accepted"] >= 10


def test_report_and_compare_on_malformed_results(capsys, folder):
    files, codes, seen = Files(folder), {}, {"n": 0}

    @FUZZ
    @given(results_texts(), st.sampled_from(["report", "compare-a", "compare-b"]),
           st.sampled_from(["html", "text", "markdown", "json", "csv"]), st.booleans(), st.booleans())
    def one(content, command, fmt, as_dir, gate) -> None:
        seen["n"] += 1
        bad = files.write("results.json", content)
        target = str(bad.parent if as_dir else bad)
        if command == "report":
            argv = ["report", target, "--format", fmt] + (["--fail-on-regression", "5"] if gate else [])
        else:
            good = files.write("results.json", json.dumps(BASE_RESULTS))
            pair = [target, str(good)] if command == "compare-a" else [str(good), target]
            argv = ["compare", *pair, "--format", fmt if fmt != "html" else "text", "--output", str(bad.parent)]
        code, out, err = call(capsys, argv)
        codes[code] = codes.get(code, 0) + 1
        assert code in EXIT_CODES | ({3, 5} if gate and command == "report" else set()), (code, err)  # 5: no CI to gate
        if code == 2:
            one_line_error(err, code)
            assert str(bad) in err, err  # names the file
        else:
            assert code in (0, 3, 5) and out

    one()
    tally(capsys, "report/compare on malformed results files", seen["n"], codes)
    assert seen["n"] >= 150 and codes.get(2, 0) > 0 and codes.get(0, 0) > 0


def test_results_check_names_the_field():
    cases = {
        "samples[0].fork_ns[0]": lambda d: d["samples"][0].__setitem__("fork_ns", [10**30]),
        "samples[1].batch": lambda d: d["samples"][1].__setitem__("batch", "x"),
        "targets[0]": lambda d: d.__setitem__("targets", [1]),
        "targets[0].facts.mem_total_kb": lambda d: d["targets"][0]["facts"].__setitem__("mem_total_kb", "8G"),
        "run.config": lambda d: d["run"].__setitem__("config", [1]),
        "errors[0].message": lambda d: d["errors"][0].pop("message"),
        "checks[0].vmas_created": lambda d: d["checks"][0].pop("vmas_created"),
        "profiles[0].folded.forkbench;main;fork;copy_process": lambda d: d["profiles"][0]["folded"].__setitem__(
            "forkbench;main;fork;copy_process", "x"
        ),
        "run.host.n": lambda d: d["run"].__setitem__("host", {"n": 10**400}),
    }
    for field, edit in cases.items():
        data = copy.deepcopy(BASE_RESULTS)
        edit(data)
        problem = shape_problem(data)
        assert problem is not None and field in problem, (field, problem)
    for text, needle in (
        ('{"schema": "devbench/results/1", "run": {', "not valid JSON"),
        ("9" * 5000, "not valid results"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("NaN", "not a devbench results file"),
    ):
        with pytest.raises(ResultsError, match=needle):
            parse_results(text, "r.json")


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")  # scipy, on identical fork times
def test_real_plots_on_extreme_valid_numbers(tmp_path, capsys):
    """The report with its plots on identical, zero, one-sample and near-int64 fork times."""
    for fork_ns in ([0, 0, 0], [1], [2**63 - 1, 2**63 - 1], [5, 5, 5, 5], [0, 2**62]):
        data = copy.deepcopy(BASE_RESULTS)
        for s in data["samples"]:
            s["fork_ns"] = list(fork_ns)
        run = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        run.mkdir()
        (run / "results.json").write_text(json.dumps(data))
        code, out, err = call(capsys, ["report", str(run)])
        assert code == 0, err
        assert (run / "report.html").read_text().count("<svg") >= 4


# -- run, restore, kernel-config, lava: bad input -----------------------------------------------

option_values = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=20),
                          st.sampled_from(["0", "-1", "5", "1e999", "nan", "inf", "-inf", "1e-320", "9" * 400]))
RUN_OPTIONS = ["--target", "--output", "--quiet", "--fail-on-regression", "--help", "--margin", "--format", "--", "-"]


def invalid(text: str) -> bool:
    try:
        parse_text(text, "x.yaml")
    except ConfigError:
        return True
    return False


@st.composite
def junk_options(draw, options: list[str]) -> list[str]:
    out: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        opt = draw(st.sampled_from(options))
        out.append(opt)
        if draw(st.booleans()):
            out.append(draw(option_values))
    return out


def test_run_with_an_invalid_config_exits_2_in_one_line(capsys, folder):
    files, codes, seen = Files(folder), {}, {"n": 0}

    @FUZZ
    @given(
        st.one_of(mutated_configs(), other_documents),
        junk_options(RUN_OPTIONS),
        st.sampled_from(["file", "file", "missing", "dir", "bytes"]),
    )
    def one(text, options, how) -> None:
        assume(invalid(text))  # only configs that fail validation: `run` never gets as far as a device
        seen["n"] += 1
        if how == "file":
            path = files.write("c.yaml", text)
        elif how == "bytes":
            path = files.write("c.yaml", text.encode("utf-8", "surrogatepass") + b"\xc3\x28")
        elif how == "dir":
            path = files.path("c.yaml")
            path.mkdir()
        else:
            path = files.path("missing.yaml")
        code, out, err = call(capsys, ["run", str(path), *options])
        codes[code] = codes.get(code, 0) + 1
        if "--help" in options and code == 0:
            return  # help printed before the config is read (unless an option error came first)
        assert code == 2, (code, err)
        one_line_error(err, code)
        assert out == ""

    one()
    tally(capsys, "run with invalid configs", seen["n"], codes)
    assert seen["n"] >= 150


def test_restore_with_bad_paths(capsys, folder):
    files, codes, seen = Files(folder), {}, {"n": 0}

    @FEW
    @given(st.sampled_from(["missing", "empty-dir", "results", "results-file", "config", "bytes"]),
           results_texts(), st.one_of(mutated_configs(), other_documents), junk_options(["--target"]))
    def one(how, results_text, config_text, options) -> None:
        if how == "config":
            assume(invalid(config_text))
        seen["n"] += 1
        if how == "missing":
            path = files.path("nope")
        elif how == "empty-dir":
            path = files.path("run")
            path.mkdir()
        elif how in ("results", "results-file"):
            data = None
            try:
                data = json.loads(results_text)
            except (ValueError, RecursionError, TypeError):
                pass
            if isinstance(data, dict) and isinstance(data.get("run"), dict):
                data["run"]["config"] = {"targets": "not a list"}  # whatever else: never a config that reaches a device
                results_text = json.dumps(data)
            p = files.write("results.json", results_text)
            path = p if how == "results-file" else p.parent
        elif how == "config":
            path = files.write("c.yaml", config_text)
        else:
            path = files.write("c.yaml", b"\xff\xfe\x00garbage")
        code, out, err = call(capsys, ["restore", str(path), *options])
        codes[code] = codes.get(code, 0) + 1
        assert code == 2, (code, err)
        one_line_error(err, code)

    one()
    tally(capsys, "restore with bad paths", seen["n"], codes)
    assert seen["n"] >= 50


def test_kernel_config_with_bad_images(capsys, folder):
    files, codes, seen = Files(folder), {}, {"n": 0}

    @FEW
    @given(
        st.one_of(
            st.binary(max_size=2000),
            st.builds(
                lambda a, b: a + b,
                st.sampled_from([b"\x1f\x8b\x08", b"IKCFG_ST\x1f\x8b\x08", b"CONFIG_", b"# CONFIG_"]),
                st.binary(max_size=500),
            ),
            st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.just(None),
        ),
        st.sampled_from(["x86_64", "arm64"]),
        st.sampled_from(["bzImage", "Image", "vmlinuz-6.1", ".config", "x"]),
    )
    def one(content, arch, name) -> None:
        seen["n"] += 1
        path = files.path(name) if content is None else files.write(name, content)
        code, out, err = call(capsys, ["kernel-config", "--arch", arch, "--check", str(path)])
        codes[code] = codes.get(code, 0) + 1
        assert code in EXIT_CODES, (code, err)
        if code == 2:
            one_line_error(err, code)

    one()
    tally(capsys, "kernel-config --check on bad images", seen["n"], codes)
    assert seen["n"] >= 50


@pytest.fixture(scope="module")
def lava_files(tmp_path_factory) -> dict[str, str]:
    """A real LAVA results export and job log (the LAVA tests' stand-in job), as text to mutate."""
    from tests.unit.lava.test_lava_results import OUTPUTS, Lab

    lab = Lab(tmp_path_factory.mktemp("lava"), OUTPUTS)
    return {"results": lab.results.read_text(), "log": lab.log.read_text(), "config": lab.cfg_path.read_text()}


@st.composite
def mutated_lines(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "junk", "hostile", "cut", "dup", "number"]))
        if op == "drop":
            del lines[i]
        elif op == "junk":
            lines[i] = draw(st.text(max_size=60)) + "\n"
        elif op == "hostile":
            lines[i] = lines[i].rstrip("\n")[: draw(st.integers(0, 40))] + draw(st.sampled_from(HOSTILE_STRINGS)) + "\n"
        elif op == "cut":
            lines = lines[:i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "number":
            lines[i] = lines[i].replace("1", draw(st.sampled_from(["9" * 5000, "-1", "1e999", "NaN", "0x1f"])), 1)
    return "".join(lines)


def test_lava_results_with_bad_files(capsys, folder, lava_files):
    files, codes, seen = Files(folder), {}, {"n": 0}

    @FEW
    @given(st.data())
    def one(data) -> None:
        seen["n"] += 1
        results = files.write("results.yaml", data.draw(st.one_of(mutated_lines(lava_files["results"]), other_documents,
                                                                  st.just(lava_files["results"]))))
        argv = ["lava-results", str(results), "--output", str(files.path("runs"))]
        if data.draw(st.booleans()):
            argv += [
                "--log",
                str(files.write("log.yaml", data.draw(st.one_of(mutated_lines(lava_files["log"]), other_documents)))),
            ]
        if data.draw(st.booleans()):
            argv += [
                "--config",
                str(files.write("c.yaml", data.draw(st.one_of(mutated_configs(), st.just(lava_files["config"]))))),
            ]
        code, out, err = call(capsys, argv)
        codes[code] = codes.get(code, 0) + 1
        assert code in EXIT_CODES, (code, err)
        if code == 2:
            one_line_error(err, code)

    one()
    tally(capsys, "lava-results with bad files", seen["n"], codes)
    assert seen["n"] >= 50


def test_lava_job_with_bad_files(capsys, folder, lava_files):
    files, codes, seen = Files(folder), {}, {"n": 0}
    good_options = yaml.safe_dump({"device_type": "qemu", "target": "qemu-x86",
                                   "payload": {"url": "https://files.example.org/forkbench-x86_64", "sha256": "0" * 64},
                                   "qemu": {"arch": "amd64", "rootfs_url": "https://images.example.org/r.img.gz"}})

    @FEW
    @given(st.one_of(mutated_configs(), st.just(lava_files["config"])),
           st.one_of(st.just(good_options), mutated_lines(good_options), other_documents))
    def one(config, options) -> None:
        seen["n"] += 1
        out_dir = files.path("job")
        argv = ["lava-job", str(files.write("c.yaml", config)), "--lava", str(files.write("lava.yaml", options)),
                "--output", str(out_dir)]
        code, out, err = call(capsys, argv)
        codes[code] = codes.get(code, 0) + 1
        assert code in EXIT_CODES, (code, err)
        if code == 2:
            one_line_error(err, code)
        if code == 0:
            assert sorted(p.name for p in out_dir.iterdir()) == ["devbench.yaml", "job.yaml"]

    one()
    tally(capsys, "lava-job with bad files", seen["n"], codes)
    assert seen["n"] >= 50


def test_any_argv_of_the_commands_without_devices(capsys, folder):
    """Random argument lists: options in any order, missing or extra values, unknown commands."""
    codes, seen = {}, {"n": 0}
    words = ["report", "compare", "kernel-config", "lava-job", "lava-results", "--help", "-h", "--version",
             "--format", "--margin", "--fail-on-regression", "--output", "--arch", "--check", "--lava", "--log",
             "--config", "--validate", "--", "-", "x86_64", "arm64", "html", "csv", str(folder / "nope")]

    @FUZZ
    @given(st.lists(st.one_of(st.sampled_from(words), option_values), max_size=7))
    def one(argv) -> None:
        assume("run" not in argv and "restore" not in argv)  # run/restore: tested above with bad configs only
        assume("--validate" not in argv or "lava-job" not in argv)
        seen["n"] += 1
        cwd = os.getcwd()
        os.chdir(folder)  # relative outputs (lava-job --output .) land in the scratch folder
        try:
            code, out, err = call(capsys, argv)
        finally:
            os.chdir(cwd)
        codes[code] = codes.get(code, 0) + 1
        assert code in EXIT_CODES | {3, 5}, (code, err)
        if code == 2:
            one_line_error(err, code)

    one()
    tally(capsys, "random argument lists", seen["n"], codes)
    assert seen["n"] >= 150
