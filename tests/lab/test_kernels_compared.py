"""Kernels compared in one run (issue 27 item 3), on real kernels: devbench's x86_64 feature
kernel ("refcount": names refcounted, shared on fork) against its strdup variant (the seed's
first approach: every child VMA gets a fresh copy of the name), one QEMU target with
``kernels:``, booted alternately under instruction counting, 2 boots each (A B B A).

It shows what the kernels table is for: the named arm much slower on strdup (its CI far above
zero, the boot as the unit) and the unnamed arm unchanged within the boot-to-boot spread; each
kernel's own table (named against unnamed) with strdup's regression above refcount's; every
row of `devbench report --format json` saying its kernel and architecture; CSV and text
carrying the kernels table. A small run: 1024 VMAs, 3 scenarios, 5 batches of 4 forks per boot,
one vCPU: about 3.5 min on 2 busy cores (4 boots of about 25 s plus their measurement).

The kernels must be in the user's kernel cache for this to be quick (the strdup variant is
built incrementally from the kept base tree otherwise: ``python -m devbench.kernel build --arch
x86_64 --patch anon-name-strdup.patch``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import time

import pytest

from devbench.kernel.build import find_source
from tests.lab import runs
from tests.lab.qemu_helpers import qemu_pids_mentioning

pytestmark = [pytest.mark.qemu, pytest.mark.lab, pytest.mark.timeout(1800)]

# The boot-to-boot spread of a fork's instruction time at 1024 VMAs (x86_64, icount, one vCPU):
# the feature kernel's boots spread over up to 1.8% (unpopulated: 0.9486, 0.9661, 0.9505 ms in
# one run; 1 page 0.8%; 10 pages 0.1%), and the issue measured 2.2% between two boots at 64K
# VMAs. The unnamed arm must stay within the larger of that (rounded up) and the run's own A/A
# range; the strdup patch changes it by about one instruction per VMA (+0.1%).
SPREAD_PCT = 2.5
SCENARIOS = ("unpopulated", "1 page", "10 pages")


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "out"
    yield d
    left = qemu_pids_mentioning(str(d))
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"QEMU left behind: {left}"


def test_strdup_against_refcount_in_one_run(tmp_path, out_dir, devbench_cmd, adb_server):
    try:
        find_source()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no kernel source: {e}")
    cfg = tmp_path / "kernels.yaml"
    cfg.write_text(f"""\
run: {{name: kernels compared, output: {out_dir}}}
targets:
  - name: x86
    qemu:
      arch: x86_64
      clock: icount
      cpus: 1
      memory_mb: 1024
      server_port: {adb_server.port}
      kernels:
        - {{name: refcount}}
        - {{name: strdup, patches: [anon-name-strdup.patch]}}
      boots: 2
benchmark:
  vmas: 1024
  forks: 20
  warmup: 10
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

    # the boots: A B B A, each a fresh guest with its own console log, each sample marked
    rec = {t["name"]: t for t in data["targets"]}
    assert set(rec) == {"x86-refcount", "x86-strdup"}
    assert [(b["boot"], b["status"]) for b in rec["x86-refcount"]["boots"]] == [(1, "ok"), (4, "ok")]
    assert [(b["boot"], b["status"]) for b in rec["x86-strdup"]["boots"]] == [(2, "ok"), (3, "ok")]
    assert rec["x86-strdup"]["transport_info"]["kernel_variant"] == "strdup"
    assert all((run_dir / f"console-{name}-boot{b['boot']}-1.log").is_file()
               for name, r in rec.items() for b in r["boots"])
    assert {(s["target"], s["boot"]) for s in data["samples"]} == {("x86-refcount", 1), ("x86-refcount", 4),
                                                                  ("x86-strdup", 2), ("x86-strdup", 3)}

    # every row of the JSON summary says its kernel and architecture
    js = json.loads(runs.run([*devbench_cmd, "report", str(run_dir), "--format", "json"], capture_output=True,
                             text=True, timeout=300).stdout)
    rows = [r for t in js["targets"] for r in t["rows"]] + [r for k in js["kernels"] for r in k["rows"]]
    assert len(rows) == 2 * 3 + 6 and all(r["arch"] == "x86_64" and r["kernel"] in ("refcount", "strdup")
                                          for r in rows)
    [pair] = js["kernels"]
    assert (pair["kernel"], pair["against"], pair["boots"]) == ("strdup", "refcount",
                                                                {"refcount": [1, 4], "strdup": [2, 3]})
    kern = {(r["scenario"], r["arm"]): r for r in pair["rows"]}
    seed = {(r["kernel"], r["scenario"]): r for t in js["targets"] for r in t["rows"]}
    means = {(m["scenario"], m["arm"]): m for m in pair["boot_means"]}

    print(f"\nrun {took:.0f} s (4 boots)")
    for sc in SCENARIOS:
        s, r = seed[("strdup", sc)], seed[("refcount", sc)]
        print(f"{sc:11} named vs unnamed: refcount {r['change_pct']:+.2f}% {r['ci_pct']}, "
              f"strdup {s['change_pct']:+.2f}% {s['ci_pct']}")
    for (sc, arm), r in kern.items():
        m = means[(sc, arm)]
        print(f"{sc:11} {arm:7} strdup vs refcount {r['change_pct']:+.3f}% CI {r['ci_pct']} {r['verdict']}; "
              f"boots refcount {[round(x, 4) for x in m['a']]} strdup {[round(x, 4) for x in m['b']]} ms")

    for sc in SCENARIOS:
        # strdup's named-vs-unnamed regression lies above refcount's, CIs apart
        assert seed[("strdup", sc)]["ci_pct"][0] > seed[("refcount", sc)]["ci_pct"][1], sc
        # the named arm much slower on strdup, the boot as the unit
        named = kern[(sc, "named")]
        assert named["verdict"] == "slower" and named["ci_pct"][0] > 5, named
        assert named["effect"]["unit"] == "boot" and named["effect"]["units"] == 2
        # the unnamed arm unchanged within the boot-to-boot spread
        m = means[(sc, "unnamed")]
        aa = max((max(v) - min(v)) / min(v) * 100 for v in (m["a"], m["b"]))
        unnamed = kern[(sc, "unnamed")]
        assert abs(unnamed["change_pct"]) <= max(aa, SPREAD_PCT), (sc, unnamed["change_pct"], aa)

    # the text report has the kernels table, the CSV its rows
    assert "x86 (x86_64): kernel strdup against kernel refcount" in res.stdout
    table = runs.run([*devbench_cmd, "report", str(run_dir), "--format", "csv"], capture_output=True, text=True,
                     timeout=300).stdout
    lines = list(csv.DictReader(io.StringIO(table)))
    assert [(r["kernel"], r["against"], r["arm"]) for r in lines if r["against"]] == [
        ("strdup", "refcount", arm) for _ in SCENARIOS for arm in ("unnamed", "named")]
    assert (run_dir / "report.html").read_text().count('id="kernels-0"') == 1
