"""Kernels compared in one run (issue 27 items 3 and 6), on real kernels: a small version of
configs/cover-letter.yaml. devbench's feature kernel ("refcount": names refcounted, shared on
fork) against its strdup variant (the seed's first approach: every child VMA gets a fresh copy
of the name), on x86_64 and arm64 side by side, each a QEMU target with ``kernels:``, booted
alternately under instruction counting, 2 boots each (A B B A), a sweep of two VMA counts.

It shows what the kernels table is for: the named arm much slower on strdup (its CI far above
zero, the boot as the unit) and the unnamed arm unchanged within the boot-to-boot spread; each
kernel's own table (named against unnamed) with strdup's regression above refcount's, at every
count, on both architectures; every row of `devbench report --format json` saying its kernel
and architecture; CSV and text carrying the kernels table; and every output opening with the
seed's two tables beside the run's rows (the largest count standing in for the seed's 65536),
labelled. A small run: 1024 and 4096 VMAs, 3 scenarios, 5 batches of 2 forks per boot, one
vCPU: 114 s on 2 cores nearly idle, 277 s on 2 busy ones (4 boots per architecture, the
architectures side by side).

The kernels must be in the user's kernel cache for this to be quick (the strdup variant is
built incrementally from the kept base tree otherwise: ``python -m devbench.kernel build --arch
x86_64 --patch anon-name-strdup.patch``, and the same with ``--arch arm64``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import time

import pytest

from devbench.kernel.build import find_source
from tests.lab import runs
from tests.lab.qemu_helpers import qemu_pids_mentioning

pytestmark = [pytest.mark.qemu, pytest.mark.lab, pytest.mark.timeout(1800)]

# The boot-to-boot spread of a fork's instruction time at 1024 VMAs (icount, one vCPU; x86_64):
# the feature kernel's boots spread over up to 1.8% (unpopulated: 0.9486, 0.9661, 0.9505 ms in
# one run; 1 page 0.8%; 10 pages 0.1%), and the issue measured 2.2% between two boots at 64K
# VMAs. The unnamed arm must stay within the larger of that (rounded up) and the run's own A/A
# range; the strdup patch changes it by about one instruction per VMA (+0.1%).
SPREAD_PCT = 2.5
SCENARIOS = ("unpopulated", "1 page", "10 pages")
COUNTS = (1024, 4096)
ARCHES = {"x86": "x86_64", "arm": "arm64"}  # target name: architecture


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "out"
    yield d
    left = qemu_pids_mentioning(str(d))
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"QEMU left behind: {left}"


def _target(name: str, arch: str, port: int) -> str:
    return f"""\
  - name: {name}
    qemu:
      arch: {arch}
      clock: icount
      cpus: 1
      memory_mb: 1024
      server_port: {port}
      kernels:
        - {{name: refcount}}
        - {{name: strdup, patches: [anon-name-strdup.patch]}}
      boots: 2
"""


def test_strdup_against_refcount_on_both_architectures(tmp_path, out_dir, devbench_cmd, adb_server):
    try:
        find_source()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no kernel source: {e}")
    cfg = tmp_path / "kernels.yaml"
    targets = "".join(_target(name, arch, adb_server.port) for name, arch in ARCHES.items())
    cfg.write_text(f"""\
run: {{name: kernels compared, output: {out_dir}}}
targets:
{targets}benchmark:
  vmas: [{", ".join(str(c) for c in COUNTS)}]
  forks: 10
  warmup: 4
  batches: 5
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 1 page, pages: 1}}
    - {{name: 10 pages, pages: 10}}
""")
    start = time.monotonic()
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=1500)
    took = time.monotonic() - start
    [run_dir] = [p for p in out_dir.iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    assert res.returncode == 0, (res.stderr[-3000:], data["errors"])
    assert data["errors"] == [] and data["run"]["status"] == "complete"
    assert re.search(r"^devbench: took \d+ min \d\d s \(run\.started ", res.stderr, re.M), res.stderr[-2000:]

    # the boots: A B B A per architecture, each a fresh guest with its own console log, each sample marked
    rec = {t["name"]: t for t in data["targets"]}
    assert set(rec) == {f"{t}-{k}" for t in ARCHES for k in ("refcount", "strdup")}
    for t in ARCHES:
        assert [(b["boot"], b["status"]) for b in rec[f"{t}-refcount"]["boots"]] == [(1, "ok"), (4, "ok")]
        assert [(b["boot"], b["status"]) for b in rec[f"{t}-strdup"]["boots"]] == [(2, "ok"), (3, "ok")]
        assert rec[f"{t}-strdup"]["transport_info"]["kernel_variant"] == "strdup"
    assert all((run_dir / f"console-{name}-boot{b['boot']}-1.log").is_file()
               for name, r in rec.items() for b in r["boots"])
    assert {(s["target"], s["boot"]) for s in data["samples"]} == {
        (f"{t}-{k}", b) for t in ARCHES for k, boots in (("refcount", (1, 4)), ("strdup", (2, 3))) for b in boots}

    # every row of the JSON summary says its kernel and architecture
    js = json.loads(runs.run([*devbench_cmd, "report", str(run_dir), "--format", "json"], capture_output=True,
                             text=True, timeout=300).stdout)
    rows = [r for t in js["targets"] for r in t["rows"]] + [r for k in js["kernels"] for r in k["rows"]]
    cases = len(SCENARIOS) * len(COUNTS)
    assert len(rows) == len(ARCHES) * (2 * cases + 2 * cases)
    assert all(r["kernel"] in ("refcount", "strdup") and r["arch"] == ARCHES[r["target"].split("-")[0]]
               for r in rows)
    pairs = {k["target"]: k for k in js["kernels"]}
    assert set(pairs) == set(ARCHES)
    seed = {(r["arch"], r["kernel"], r["vmas"], r["scenario"]): r for t in js["targets"] for r in t["rows"]}

    print(f"\nrun {took:.0f} s (4 boots per architecture, side by side)")
    for t, arch in ARCHES.items():
        pair = pairs[t]
        assert (pair["kernel"], pair["against"], pair["arch"], pair["boots"]) == (
            "strdup", "refcount", arch, {"refcount": [1, 4], "strdup": [2, 3]})
        kern = {(r["vmas"], r["scenario"], r["arm"]): r for r in pair["rows"]}
        means = {(m["vmas"], m["scenario"], m["arm"]): m for m in pair["boot_means"]}
        for (vmas, sc, arm), r in kern.items():
            m = means[(vmas, sc, arm)]
            print(f"{arch:6} {vmas:5} {sc:11} {arm:7} strdup vs refcount {r['change_pct']:+.3f}% CI {r['ci_pct']} "
                  f"{r['verdict']}; boots refcount {[round(x, 4) for x in m['a']]} strdup "
                  f"{[round(x, 4) for x in m['b']]} ms")
        for vmas in COUNTS:
            for sc in SCENARIOS:
                s, r = seed[(arch, "strdup", vmas, sc)], seed[(arch, "refcount", vmas, sc)]
                print(f"{arch:6} {vmas:5} {sc:11} named vs unnamed: refcount {r['change_pct']:+.2f}% {r['ci_pct']}, "
                      f"strdup {s['change_pct']:+.2f}% {s['ci_pct']}")
                # strdup's named-vs-unnamed regression lies above refcount's, CIs apart
                assert s["ci_pct"][0] > r["ci_pct"][1], (arch, vmas, sc)
                # the named arm much slower on strdup, the boot as the unit
                named = kern[(vmas, sc, "named")]
                # its whole CI above the largest boot-to-boot spread (2 boots a kernel: the t interval
                # has 2 degrees of freedom; arm64's 10 pages at 1024 VMAs, about +6.5%, once had its
                # CI's low end at +4.8% on a loaded machine, below the 5 this test asked before)
                assert named["verdict"] == "slower" and named["ci_pct"][0] > SPREAD_PCT, named
                assert named["effect"]["unit"] == "boot" and named["effect"]["units"] == 2
                # the unnamed arm unchanged within the boot-to-boot spread
                m = means[(vmas, sc, "unnamed")]
                aa = max((max(v) - min(v)) / min(v) * 100 for v in (m["a"], m["b"]))
                unnamed = kern[(vmas, sc, "unnamed")]
                assert abs(unnamed["change_pct"]) <= max(aa, SPREAD_PCT), (arch, vmas, sc, unnamed["change_pct"], aa)

    # the seed's two tables open every output, beside both architectures' rows at the largest count
    letter = js["seed_letter"]
    for table in letter["tables"]:
        for row in table["rows"]:
            assert [(b["arch"], b["kernel"], b["vmas"], b["clock"]) for b in row["devbench"]] == [
                ("arm64", table["kernel"], COUNTS[-1], "icount"), ("x86_64", table["kernel"], COUNTS[-1], "icount")]
    assert len(letter["ordering"]) == 6 and all(o["cis_apart"] for o in letter["ordering"])
    assert res.stdout.startswith("The seed's cover letter beside this run\n")
    assert " ".join(res.stdout.split()).count("not a phone's timing") >= 1
    html = (run_dir / "report.html").read_text()
    assert html.index('id="seed-letter"') < html.index('id="kernels-0"') and html.count('id="kernels-1"') == 1

    # the text report has the kernels tables, the CSV their rows
    assert "x86 (x86_64): kernel strdup against kernel refcount" in res.stdout
    assert "arm (arm64): kernel strdup against kernel refcount" in res.stdout
    table = runs.run([*devbench_cmd, "report", str(run_dir), "--format", "csv"], capture_output=True, text=True,
                     timeout=300).stdout
    lines = list(csv.DictReader(io.StringIO(table)))
    assert sorted((r["arch"], r["kernel"], r["against"], r["arm"]) for r in lines if r["against"]) == sorted(
        (arch, "strdup", "refcount", arm) for arch in ARCHES.values() for _ in range(cases)
        for arm in ("unnamed", "named"))
