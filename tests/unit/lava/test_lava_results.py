"""LAVA results (+ job log) -> results.json, through the real device scripts.

The test definition devbench generates is run as LAVA's test shell runs it (tests/lava/fakelava:
run.sh under `dash -e`, a stand-in lava-test-case), with a stand-in payload that prints recorded
forkbench JSON Lines (both arms: this machine's kernel may lack CONFIG_ANON_VMA_NAME). The
console becomes a LAVA job log and a results export in LAVA's formats; devbench.lava.results
must give back exactly the fork times the payload printed.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml

from devbench.config import load_config
from devbench.errors import ResultsError
from devbench.lava import lava_results
from devbench.lava.job import build_job
from devbench.lava.options import options_from_mapping
from devbench.lava.results import SAMPLES_MISSING
from devbench.payload.events import parse_event
from devbench.report.html import render_html
from devbench.report.table import render_text
from tests.lava import fakelava

CONFIG = """\
run: {{name: lava-results}}
targets: [{{name: here, local: {{}}}}]
device: {{procfs: {procfs}, sysfs: {sysfs}{device}}}
benchmark:
  vmas: 64
  forks: 40
  warmup: 2
  batches: 4
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 10 pages, pages: 10}}
"""

NOT_LOCKED = "clocks not locked: device.cpufreq is not set"  # the job says so when the config does not lock them


class Lab:
    """One generated LAVA job, run through the stand-ins, with its log and results on disk."""

    def __init__(self, tmp_path, outputs, *, map_count=100000, escape=True, device=""):
        self.tmp = tmp_path
        proc = tmp_path / "fake" / "proc"
        (proc / "sys" / "vm").mkdir(parents=True)
        (proc / "sys" / "vm" / "max_map_count").write_text(f"{map_count}\n")
        (tmp_path / "fake" / "sys").mkdir()
        self.cfg_path = tmp_path / "lava.yaml"
        self.cfg_path.write_text(CONFIG.format(procfs=proc, sysfs=tmp_path / "fake" / "sys", device=device))
        workdir = tmp_path / "wd"
        self.payload = workdir / "forkbench"
        fakelava.install_standin_payload(self.payload, outputs)
        opts = options_from_mapping({"device_type": "qemu", "target": "qemu-x86", "workdir": str(workdir),
                                     "payload": {"path": str(self.payload)},
                                     "qemu": {"arch": "amd64", "rootfs_url": "https://images.example.org/r.img"}})
        self.testdef = build_job(load_config(self.cfg_path), opts).testdef
        self.shell = fakelava.run_test_shell(self.testdef, tmp_path / "lava-tests" / "0_devbench")
        assert self.shell.run_rc == 0, "\n".join(self.shell.console[-20:])
        self.entries = fakelava.log_entries(
            self.shell.console,
            escape=escape,
            boot=[
                '[    0.000000] Linux version 6.12.0 (gcc "14") #1 SMP',
                "Debian GNU/Linux 13 debian ttyS0",
                "debian login: root",
            ],
        )
        self.proc = proc
        self.write()

    def write(self, entries=None, cases=None):
        entries = self.entries if entries is None else entries
        self.log = self.tmp / "log.yaml"
        self.log.write_text(fakelava.log_text(entries))
        self.results = self.tmp / "results.yaml"
        self.results.write_text(
            yaml.safe_dump(fakelava.export_results(entries) if cases is None else cases, sort_keys=False)
        )


def fork_ns_of(lines, arm):
    out = []
    for line in lines:
        e = parse_event(line)
        if e and e["event"] == "batch" and e["arm"] == arm:
            out.append((e["batch"], e["fork_ns"]))
    return out


def samples_of(data, scenario, arm):
    return [(s["batch"], s["fork_ns"]) for s in data["samples"] if s["scenario"] == scenario and s["arm"] == arm]


OUTPUTS = {0: (fakelava.payload_lines(1, 0, shift=0.12), 0, ""),
           10: (fakelava.payload_lines(2, 10, base_ms=40.0, shift=0.03), 0, "")}


@pytest.mark.parametrize("escape", [True, False], ids=["lava-escaped-quotes", "plain"])
def test_log_and_results_round_trip_every_fork_time(tmp_path, escape):
    lab = Lab(tmp_path, OUTPUTS, escape=escape)
    data = lava_results(lab.results, lab.log)
    for scenario, pages in (("unpopulated", 0), ("10 pages", 10)):
        for arm in ("unnamed", "named"):
            assert samples_of(data, scenario, arm) == fork_ns_of(OUTPUTS[pages][0], arm)
    assert data["errors"] == [] and data["targets"][0]["warnings"] == [NOT_LOCKED]
    assert data["run"]["status"] == "complete" and data["run"]["id"] == "lava-4242"
    assert data["run"]["name"] == "lava-results" and data["run"]["config"]["benchmark"]["forks"] == 40
    assert data["run"]["started"] == "2024-03-01T10:00:00+00:00" or data["run"]["started"].startswith("2024-03-01T10:")
    target = data["targets"][0]
    assert target["name"] == "qemu-x86" and target["transport"] == "lava" and target["status"] == "ok"
    assert target["payload"]["remote"] == str(lab.payload) and target["lava"]["suite"] == "0_devbench"
    assert {c["check"] for c in data["checks"]} == {"start", "setup", "named_check"}
    rows = {r["scenario"]: r for r in data["summary"]}
    assert rows["unpopulated"]["pages"] == 0 and rows["10 pages"]["unnamed"]["n"] == 40
    assert rows["unpopulated"]["regression_pct"] == pytest.approx(12, abs=4)
    assert rows["unpopulated"]["verdict"] is not None  # the run has ended: CI and verdict are there


def test_lava_test_case_measurements_are_the_sample_means(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    data = lava_results(lab.results, lab.log)
    by_case = {c[0]: c for c in lab.shell.cases}
    for case, scenario in (("unpopulated", "unpopulated"), ("10_pages", "10 pages")):
        for arm in ("unnamed", "named"):
            argv = by_case[f"{case}.{arm}"]
            assert argv[1:3] == ["--result", "pass"] and argv[5:] == ["--units", "ms"]
            ns = [x for _, b in samples_of(data, scenario, arm) for x in b]
            assert float(argv[4]) == pytest.approx(math.fsum(ns) / len(ns) / 1e6, abs=1e-6)


def test_the_report_renders_a_lava_run(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    data = lava_results(lab.results, lab.log)
    text = render_text(data)
    assert "qemu-x86" in text and "unpopulated" in text and "10 pages" in text and "%" in text
    html = render_html(data)
    assert "qemu-x86" in html and "(lava)" in html and "10 pages" in html


def test_results_without_the_log_keep_the_means_and_say_samples_are_missing(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    data = lava_results(lab.results, config_path=lab.cfg_path)
    assert data["samples"] == [] and SAMPLES_MISSING in data["targets"][0]["warnings"]
    rows = {r["scenario"]: r for r in data["summary"]}
    assert list(rows) == ["unpopulated", "10 pages"] and rows["10 pages"]["pages"] == 10  # names from the config
    cases = {c[0]: float(c[4]) for c in lab.shell.cases if len(c) > 4}
    assert rows["unpopulated"]["unnamed_mean_ms"] == cases["unpopulated.unnamed"]
    assert rows["unpopulated"]["regression_pct"] == pytest.approx(
        (cases["unpopulated.named"] - cases["unpopulated.unnamed"]) / cases["unpopulated.unnamed"] * 100)
    assert "(no samples)" in render_text(data)
    bare = lava_results(lab.results)  # no config: LAVA's case names
    assert [r["scenario"] for r in bare["summary"]] == ["unpopulated", "10_pages"]


def test_a_kernel_without_anon_vma_names(tmp_path):
    outputs = {0: (fakelava.payload_lines(3, 0, named=False), 3, "forkbench: kernel lacks CONFIG_ANON_VMA_NAME\n"),
               10: (fakelava.payload_lines(4, 10, named=False), 3, "forkbench: kernel lacks CONFIG_ANON_VMA_NAME\n")}
    lab = Lab(tmp_path, outputs)
    assert [c[:3] for c in lab.shell.cases if c[0].endswith(".named")] == [
        ["unpopulated.named", "--result", "skip"], ["10_pages.named", "--result", "skip"]]
    data = lava_results(lab.results, lab.log)
    assert [(e["scenario"], e["arm"], e["kind"]) for e in data["errors"]] == [
        ("unpopulated", "named", "kernel-lacks-anon-vma-name"), ("10 pages", "named", "kernel-lacks-anon-vma-name")]
    assert samples_of(data, "unpopulated", "unnamed") == fork_ns_of(outputs[0][0], "unnamed")
    assert data["run"]["status"] == "failed"
    means_only = lava_results(lab.results)
    assert [e["kind"] for e in means_only["errors"]] == ["kernel-lacks-anon-vma-name"] * 2


def test_a_killed_payload_and_a_partial_arm(tmp_path):
    outputs = {0: (fakelava.payload_lines(5, 0, stop_after=2), 137, "forkbench: timing\n"),
               10: (fakelava.payload_lines(6, 10), 0, "")}
    outputs[10] = (outputs[10][0][:-3] + outputs[10][0][-1:], 0, "")  # the last batch of each arm lost
    lab = Lab(tmp_path, outputs)
    results = {c[0]: c[2] for c in lab.shell.cases}
    assert results["unpopulated.unnamed"] == "fail" and results["10_pages.unnamed"] == "fail"
    data = lava_results(lab.results, lab.log)
    kinds = [(e["scenario"], e["arm"], e["kind"]) for e in data["errors"]]
    assert ("unpopulated", None, "payload-killed") in kinds
    assert ("10 pages", "unnamed", "incomplete") in kinds and ("10 pages", "named", "incomplete") in kinds
    killed = next(e for e in data["errors"] if e["kind"] == "payload-killed")
    assert "SIGKILL" in killed["message"] and killed["exit_code"] == 137


def test_map_count_raised_and_restored(tmp_path):
    lab = Lab(tmp_path, OUTPUTS, map_count=100)
    assert (lab.proc / "sys" / "vm" / "max_map_count").read_text().strip() == "100"  # put back
    assert ["devbench-restore", "--result", "pass"] in lab.shell.cases
    data = lava_results(lab.results, lab.log)
    change = data["targets"][0]["device_changes"]
    assert change == [{"setting": "vm.max_map_count", "path": str(lab.proc / "sys/vm/max_map_count"), "before": 100,
                       "after": 1088, "why": "the payload needs 1088 maps", "verified": True, "restored": True,
                       "restored_value": 100}]
    assert data["errors"] == []


def test_what_the_device_script_could_not_do_becomes_a_warning(tmp_path):
    lab = Lab(tmp_path, OUTPUTS, device=", pin: [4000]")  # no such CPU: taskset -c refuses it
    data = lava_results(lab.results, lab.log)
    assert data["targets"][0]["warnings"] == [
        NOT_LOCKED,
        "not pinned to CPUs 4000: taskset -c is missing or refused them",
    ]
    assert data["errors"] == [] and len(data["samples"]) == 16


def test_a_log_that_ends_inside_a_scenario(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    cut = next(i for i, e in enumerate(lab.entries) if "DEVBENCH-BEGIN 1" in e["msg"]) + 4
    lab.write(lab.entries[:cut])
    data = lava_results(lab.results, lab.log)
    assert samples_of(data, "unpopulated", "named") == fork_ns_of(OUTPUTS[0][0], "named")
    assert [(e["scenario"], e["kind"]) for e in data["errors"]] == [("10 pages", "incomplete")]
    assert "no DEVBENCH-END" in data["errors"][0]["message"]


def test_a_kernel_message_inside_a_payload_line(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    entries = [dict(e) for e in lab.entries]
    i = next(
        i for i, e in enumerate(entries) if str(e["msg"]).startswith("DEVBENCH-LINE 0 {") and "fork_ns" in e["msg"]
    )
    msg = entries[i]["msg"]
    entries[i]["msg"] = msg[:60] + "[  123.456789] random: crng init done" + msg[60:]
    lab.write(entries)
    data = lava_results(lab.results, lab.log)
    warnings = data["targets"][0]["warnings"]
    assert any("1 unparsed payload output line(s)" in w for w in warnings)
    assert any(e["kind"] == "incomplete" and e["scenario"] == "unpopulated" for e in data["errors"])
    assert any("differs from the samples' mean" in w for w in warnings)  # the lost batch moved the mean


def test_results_from_the_rest_api(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    page = {
        "count": 5,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": 9000 + i,
                "name": c["name"],
                "unit": c["unit"],
                "result": c["result"],
                "measurement": None if c["measurement"] == "None" else c["measurement"],
                "metadata": yaml.safe_dump(c["metadata"]),
                "suite": 17,
                "start_log_line": None,
                "end_log_line": None,
                "test_set": None,
                "logged": c["logged"].replace(" ", "T"),
                "resource_uri": f"/api/v0.2/jobs/4242/tests/{9000 + i}/",
            }
            for i, c in enumerate(fakelava.export_results(lab.entries))
        ],
    }
    lab.results.write_text(json.dumps(page))
    data = lava_results(lab.results, lab.log)
    assert data["errors"] == [] and len(data["samples"]) == 16
    means = lava_results(lab.results)
    assert {r["scenario"] for r in means["summary"]} == {"unpopulated", "10_pages"}


def test_a_failed_lava_job(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    cases = fakelava.export_results(lab.entries)
    job = next(c for c in cases if c["name"] == "job")
    job.update(result="fail", metadata={"definition": "lava", "case": "job", "result": "fail",
                                        "error_type": "Infrastructure", "error_msg": "Connection closed"})
    lab.write(cases=cases)
    data = lava_results(lab.results, lab.log)
    assert [(e["kind"], e["message"]) for e in data["errors"]] == [("run-failed", "LAVA job: Connection closed")]


def test_a_log_without_devbench_output(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    lab.write([e for e in lab.entries if "DEVBENCH-" not in str(e["msg"])])
    data = lava_results(lab.results, lab.log)
    assert data["samples"] == [] and any("no devbench output" in w for w in data["targets"][0]["warnings"])
    assert SAMPLES_MISSING in data["targets"][0]["warnings"]


@pytest.mark.parametrize("content,needle", [
    ("[a, b", "not LAVA results: not valid YAML at line"),
    ("{name: x}", "expected a list of test cases"),
    ("- just a string\n", "test case 1 is not a mapping"),
    ("- {suite: 0_devbench, result: pass}\n", "test case 1 has no name"),
    ("- {name: a.named, suite: 0_devbench, result: maybe}\n", "test case 1 (a.named): result must be one of pass"),
    ("- {name: a.named, suite: 0_devbench, result: pass, measurement: fast}\n", "measurement must be a number"),
    ("- {name: a.named, suite: 0_devbench, result: pass, measurement: .nan}\n", "measurement must be a finite number"),
    ("- {name: a.named, result: pass}\n", "has no suite"),
    ("- {name: a.named, suite: 0_devbench, result: pass, metadata: [1]}\n", "metadata must be a mapping"),
])
def test_malformed_results_give_one_clear_line(tmp_path, content, needle):
    p = tmp_path / "results.yaml"
    p.write_text(content)
    with pytest.raises(ResultsError) as info:
        lava_results(p)
    assert needle in str(info.value) and str(info.value).startswith(str(p)) and "\n" not in str(info.value)


@pytest.mark.parametrize("content,needle", [
    ("- {dt: x, lvl: target, msg: [\n", "not a LAVA job log: not valid YAML at line"),
    ("{dt: x}", "expected a YAML list of {dt, lvl, msg} entries"),
    ("- {dt: x, lvl: target, msg: a}\n- 3\n", "entry 2 is not a {dt, lvl, msg} mapping"),
    ("- {dt: x, msg: a}\n", "entry 1 is not"),
])
def test_malformed_logs_give_one_clear_line(tmp_path, content, needle):
    results = tmp_path / "results.yaml"
    results.write_text("[]\n")
    log = tmp_path / "log.yaml"
    log.write_text(content)
    with pytest.raises(ResultsError) as info:
        lava_results(results, log)
    assert needle in str(info.value) and str(info.value).startswith(str(log))


def test_missing_files(tmp_path):
    with pytest.raises(ResultsError, match="no such file"):
        lava_results(tmp_path / "nope.yaml")
    (tmp_path / "r.yaml").write_text("[]\n")
    with pytest.raises(ResultsError, match="log.yaml: no such file"):
        lava_results(tmp_path / "r.yaml", tmp_path / "log.yaml")


def test_the_log_stand_in_writes_lines_as_lava_does(tmp_path):
    """fakelava.log_text against LAVA's own writer (lava_common.compat.yaml_dump, as
    lava_common.log.dump calls it), in the system python where lava-common is installed."""
    import subprocess

    from devbench.lava.validate import SYSTEM_PYTHON, ValidatorMissing, validator_version
    try:
        validator_version()
    except ValidatorMissing as exc:
        pytest.skip(f"lava-common is not available: {exc}")
    lab = Lab(tmp_path, OUTPUTS)
    entries = [e for e in lab.entries if e["lvl"] != "results"][:400]
    script = ("import json, sys\nfrom lava_common.compat import yaml_dump\n"
              "for e in json.load(sys.stdin):\n"
              "    print('- ' + yaml_dump(e, default_flow_style=True, default_style='\"', width=10**6)[:-1])\n")
    lava = subprocess.run(
        [SYSTEM_PYTHON, "-c", script], input=json.dumps(entries), capture_output=True, text=True, check=True
    )
    assert fakelava.log_text(entries) == lava.stdout


def test_a_job_logs_config_is_data_never_the_runs_obeyed_config(tmp_path, monkeypatch):
    """Issue 24 item 4: what the device printed on its run line chooses nothing. Without --config
    the log's config is shown but unsealed (restore and --resume refuse it); with --config the
    run's config is the user's, sealed, and a log that carries another one is kept as data."""
    import json as _json

    from devbench.config import config_of
    from devbench.errors import ResultsError

    monkeypatch.setenv("DEVBENCH_CONFIG_HOME", str(tmp_path / "keys"))
    lab = Lab(tmp_path, OUTPUTS, escape=False)
    # a hostile device rewrites its run line's config: a local target whose work folder is /.
    hostile = [dict(e) for e in lab.entries]
    for e in hostile:
        if isinstance(e.get("msg"), str) and e["msg"].startswith("DEVBENCH-RUN "):
            record = _json.loads(e["msg"][len("DEVBENCH-RUN "):])
            record["config"]["targets"] = [{"name": "evil", "local": {"workdir": "/."}}]
            e["msg"] = "DEVBENCH-RUN " + _json.dumps(record)
            break
    else:
        pytest.fail("no DEVBENCH-RUN line in the log")
    lab.write(entries=hostile)

    bare = lava_results(lab.results, lab.log)
    assert bare["run"]["config"]["targets"] == [{"name": "evil", "local": {"workdir": "/."}}]  # shown as data
    assert "config_seal" not in bare["run"] and "data only" in bare["run"]["lava"]["config_source"]
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(_json.dumps(bare))
    with pytest.raises(ResultsError, match="not sealed by devbench on this host"):
        config_of(str(run_dir))

    given = lava_results(lab.results, lab.log, config_path=lab.cfg_path)
    assert given["run"]["config"] == {
        k: v for k, v in load_config(lab.cfg_path).raw.items() if k in given["run"]["config"]
    }
    assert given["run"]["reported_config"]["targets"] == [{"name": "evil", "local": {"workdir": "/."}}]
    assert any("another config than --config" in w for w in given["targets"][0]["warnings"])
    from devbench.results.seal import host_key, verify

    verify(given["run"], host_key(), "given")  # the user's own config: sealed
