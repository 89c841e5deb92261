"""Stand-ins for what LAVA does around a test shell, to test devbench's LAVA support without a
LAVA server. Each follows LAVA 2023.01 (Debian's lava-dispatcher / lava-server):

- run_sh(): the run.sh that lava_dispatcher's TestRunnerAction writes around the run steps
  (set -e, set -x, TESTRUN_ID, cd, STARTRUN/ENDRUN signals);
- LAVA_TEST_CASE: a stand-in `lava-test-case` for PATH that records its arguments and prints
  the TESTCASE signal as lava_test_shell/lava-test-case does;
- log_entries(): the job log the dispatcher keeps of that console output: lvl "target" lines
  with ShellLogger's escaping (every " written as \\"), lvl "results" for each TESTCASE signal
  (TestShellAction.signal_test_case), around a few of LAVA's own lines;
- log_text(): that log as LAVA stores and serves it (lava_common.log.dump: one flow mapping per
  line, every string double-quoted);
- export_results(): the results as lava-server exports them (lava_results_app.utils.export_testcase,
  which `lavacli results JOB --yaml` prints): every value a string, measurement "None" if unset;
- run_test_shell(): install.sh and run.sh of a test definition, as lava-test-runner runs them;
- STANDIN_PAYLOAD / payload_lines(): a stand-in for the forkbench payload that prints recorded
  JSON Lines in forkbench's layout (both arms, whatever this machine's kernel supports).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import yaml

LAVA_TEST_CASE = """#!/bin/sh
# stand-in for LAVA's lava-test-case (lava_dispatcher/lava_test_shell/lava-test-case): records
# its arguments, then prints the same TESTCASE signal
printf '%s\\n' "$*" >> "$DEVBENCH_STANDIN_CASES"
TEST_CASE_ID=$1
shift
TCDATA=""
while [ $# -gt 0 ]; do
    case $1 in
        --result) TCDATA="$TCDATA RESULT=$2"; shift 2 ;;
        --units) TCDATA="$TCDATA UNITS=$2"; shift 2 ;;
        --measurement) TCDATA="$TCDATA MEASUREMENT=$2"; shift 2 ;;
        *) echo "lava-test-case stand-in: unknown argument $1" >&2; exit 1 ;;
    esac
done
echo "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=$TEST_CASE_ID$TCDATA>"
"""

SIGNAL = re.compile(r"<LAVA_SIGNAL_(\S+) ([^>]+)>")


def run_sh(steps: list[str], folder: str, testrun_id: str = "0_devbench") -> str:
    out = ["set -e", "set -x", f"export TESTRUN_ID={testrun_id}", f"cd {folder}", "UUID=1234_1.4.2.3.1", "set +x",
           'echo "<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>"', "set -x"]
    out += steps
    out += ["set +x", 'echo "<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>"']
    return "\n".join(out) + "\n"


def _dt(i: int) -> str:
    return f"2024-03-01T10:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:06d}"


def log_entries(console: Iterable[str], definition: str = "0_devbench", escape: bool = True,
                boot: Iterable[str] = ()) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [
        {"lvl": "info", "msg": "lava-dispatcher, installed at version: 2023.01"},
        {"lvl": "info", "msg": "start: 1 tmpfs-deploy (timeout 00:15:00) [common]"},
        {"lvl": "info", "msg": "start: 2 qemu (timeout 00:10:00) [common]"},
    ]
    entries += [{"lvl": "target", "msg": line} for line in boot]
    entries.append({"lvl": "info", "msg": "start: 3 lava-test-retry (timeout 03:10:00) [common]"})
    for line in console:
        line = line.rstrip("\r\n")
        entries.append({"lvl": "target", "msg": line.replace('"', '\\"') if escape else line})
        m = SIGNAL.search(line)
        if m and m.group(1) == "TESTCASE":
            data = dict(p.split("=", 1) for p in m.group(2).split())
            res: dict[str, Any] = {"definition": definition, "case": data["TEST_CASE_ID"], "result": data["RESULT"]}
            if "MEASUREMENT" in data:
                res["measurement"] = float(Decimal(data["MEASUREMENT"]))
                if "UNITS" in data:
                    res["units"] = data["UNITS"]
            entries.append({"lvl": "results", "msg": res})
    entries.append({"lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "pass"}})
    entries.append({"lvl": "info", "msg": "Job finished correctly"})
    return [{"dt": _dt(i), **e} for i, e in enumerate(entries)]


def log_text(entries: list[dict[str, Any]]) -> str:
    lines = []
    for e in entries:
        one = yaml.safe_dump(e, default_flow_style=True, default_style='"', width=10**6, sort_keys=True)
        lines.append("- " + one.rstrip("\n"))
    return "\n".join(lines) + "\n"


def export_results(entries: list[dict[str, Any]], job: str = "4242") -> list[dict[str, Any]]:
    out = []
    for i, e in enumerate(x for x in entries if x["lvl"] == "results"):
        msg = e["msg"]
        m = msg.get("measurement")
        out.append({
            "name": str(msg["case"]), "job": job, "suite": str(msg["definition"]), "result": str(msg["result"]),
            "measurement": "None" if m is None else str(Decimal(str(m)).quantize(Decimal("1.0000000000"))),
            "unit": str(msg.get("units", "")), "level": "", "url": f"/results/testcase/{9000 + i}",
            "id": str(9000 + i), "logged": e["dt"].replace("T", " ") + "+00:00",
            "log_start_line": "", "log_end_line": "", "metadata": dict(msg),
        })
    return out


# --- running a test definition the way LAVA's test shell does -----------------------------

STANDIN_PAYLOAD = """#!/bin/sh
# stand-in for the forkbench payload: prints the JSON Lines recorded for its --pages value
# (standin-PAGES.jsonl beside it), the stderr in standin-PAGES.stderr, exits with standin-PAGES.exit
pages=
while [ $# -gt 0 ]; do
    [ "$1" = --pages ] && pages=$2
    shift
done
d=$(dirname "$0")
cat "$d/standin-$pages.jsonl"
[ -f "$d/standin-$pages.stderr" ] && cat "$d/standin-$pages.stderr" >&2
exit "$(cat "$d/standin-$pages.exit" 2>/dev/null || echo 0)"
"""


@dataclass
class ShellRun:
    console: list[str]  # stdout and stderr as one stream, as on a serial console
    cases: list[list[str]]  # the stand-in lava-test-case's argument lists
    install_rc: int | None
    run_rc: int


def run_test_shell(testdef: dict[str, Any], folder: Path, shell: str = "dash", env: dict[str, str] | None = None,
                   timeout: float = 600) -> ShellRun:
    """install.sh (when the test definition has install steps), then run.sh, as lava-test-runner
    runs them (install.sh with plain sh, run.sh with `sh -e`), with a stand-in lava-test-case."""
    folder.mkdir(parents=True, exist_ok=True)
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    standin = bin_dir / "lava-test-case"
    standin.write_text(LAVA_TEST_CASE)
    standin.chmod(0o755)
    cases_file = folder / "cases.txt"
    cases_file.write_text("")
    run_env = {**os.environ, **(env or {}), "PATH": f"{bin_dir}:{os.environ['PATH']}",
               "DEVBENCH_STANDIN_CASES": str(cases_file)}
    console: list[str] = []
    install_rc = None
    if "install" in testdef:
        (folder / "install.sh").write_text("\n".join([f"cd {folder}", "pwd", *testdef["install"]["steps"]]) + "\n")
        proc = subprocess.run([shell, str(folder / "install.sh")], cwd=folder, env=run_env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
        console += proc.stdout.splitlines()
        install_rc = proc.returncode
        if install_rc != 0:
            return ShellRun(console, [], install_rc, -1)
    (folder / "run.sh").write_text(run_sh(testdef["run"]["steps"], str(folder)))
    proc = subprocess.run([shell, "-e", str(folder / "run.sh")], cwd=folder, env=run_env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    console += proc.stdout.splitlines()
    cases = [line.split(" ") for line in cases_file.read_text().splitlines()]
    return ShellRun(console, cases, install_rc, proc.returncode)


def install_standin_payload(path: Path, outputs: dict[int, tuple[list[str], int, str]]) -> None:
    """outputs: pages -> (JSON lines, exit code, stderr text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STANDIN_PAYLOAD)
    path.chmod(0o755)
    for pages, (lines, code, err) in outputs.items():
        (path.parent / f"standin-{pages}.jsonl").write_text("".join(line + "\n" for line in lines))
        (path.parent / f"standin-{pages}.exit").write_text(f"{code}\n")
        (path.parent / f"standin-{pages}.stderr").write_text(err)


def payload_lines(seed: int, pages: int, *, forks: int = 40, batches: int = 4, warmup: int = 2, base_ms: float = 16.0,
                  shift: float = 0.1, named: bool = True, stop_after: int | None = None) -> list[str]:
    """JSON Lines shaped like forkbench's (payload 2) in interleaved mode (both arms, alternating
    batches), each batch with its forks' fork_ns and exit_ns."""
    rng = np.random.default_rng(seed)
    xrng = np.random.default_rng(seed + 1000)  # the child's exits (payload 2), drawn apart from the forks
    per = forks // batches

    def line(**event: Any) -> str:
        return json.dumps(event, separators=(",", ":"))

    out = [line(event="start", payload_version=1, pid=4242, page_size=4096, vmas=64, pages=pages, forks=forks,
                warmup=warmup, batches=batches, arm="both", seed=1, max_map_count=65530, maps_needed=90),
           line(event="setup", maps_before=10, maps_after=74, vmas_created=64, vmas_expected=64, vmas_ok=True,
                map_ns=440232, populate_ns=161)]
    if not named:
        out.insert(1, line(event="error", kind="kernel-lacks-anon-vma-name", arm="named", errno=22,
                           message="kernel lacks CONFIG_ANON_VMA_NAME: named arm skipped"))
    for b in range(batches):
        if stop_after is not None and b >= stop_after:
            return out
        for arm in (("named", "unnamed") if b % 2 else ("unnamed", "named")):
            if arm == "named" and not named:
                continue
            level = np.log(base_ms * 1e6) + (np.log1p(shift) if arm == "named" else 0.0)
            ns = [int(v) for v in rng.lognormal(level, 0.05, per)]
            if arm == "named":
                out.append(line(event="named_check", anon_lines=64, vmas_expected=64, ok=True, name_ns=5000))
            exits = [int(v) for v in xrng.lognormal(level + 0.2, 0.05, per)]
            out.append(
                line(event="batch", batch=b, arm=arm, warmup=warmup, forks=per, fork_ns=ns, exit_ns=exits, prep_ns=40)
            )
    out.append(line(event="end", exit_code=0 if named else 3, elapsed_ns=123456789))
    return out
