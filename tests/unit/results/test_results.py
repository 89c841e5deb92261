import json

import pytest

from devbench.errors import ResultsError
from devbench.results.store import SCHEMA, ResultsStore, load, new_results, summarize


def store(tmp_path):
    cfg = {"benchmark": {"scenarios": [{"name": "s", "pages": 1}]}}
    return ResultsStore(tmp_path / "results.json", new_results("id1", "n", cfg, "c.yaml"))


def test_file_is_valid_after_every_change(tmp_path):
    st = store(tmp_path)
    assert json.loads((tmp_path / "results.json").read_text())["schema"] == SCHEMA
    st.add_sample("t", "s", "unnamed", 0, 1, [1_000_000, 3_000_000])
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["samples"][0]["fork_ns"] == [1_000_000, 3_000_000]
    assert on_disk["summary"][0]["unnamed_mean_ms"] == 2.0 and on_disk["summary"][0]["named_mean_ms"] is None
    st.add_sample("t", "s", "named", 0, 1, [2_200_000, 2_200_000])
    st.add_error("t", "s", "named", "kind-x", "msg", needed=5)
    st.finish("failed")
    data = load(tmp_path)
    row = data["summary"][0]
    assert row["pages"] == 1 and row["named_mean_ms"] == pytest.approx(2.2)
    assert row["regression_pct"] == pytest.approx(10.0)
    assert data["errors"][0]["needed"] == 5 and data["run"]["status"] == "failed"
    assert not list(tmp_path.glob("*.tmp"))


def test_summary_is_per_target_and_scenario_over_batches():
    data = {"samples": [
        {"target": "a", "scenario": "x", "arm": "unnamed", "batch": 0, "fork_ns": [1_000_000]},
        {"target": "a", "scenario": "x", "arm": "unnamed", "batch": 1, "fork_ns": [3_000_000]},
        {"target": "b", "scenario": "x", "arm": "named", "batch": 0, "fork_ns": [5_000_000]},
    ]}
    rows = summarize(data)
    assert [(r["target"], r["unnamed"]["n"], r["named"]["n"]) for r in rows] == [("a", 2, 0), ("b", 0, 1)]
    assert rows[0]["unnamed_mean_ms"] == 2.0 and rows[0]["unnamed"]["median_ms"] == 2.0


@pytest.mark.parametrize("content,needle", [
    ("{", "not valid JSON"),
    ('{"schema": "other"}', "not a devbench results file"),
    ("[]", "not a devbench results file"),
    (json.dumps({"schema": SCHEMA, "run": {}, "targets": [], "samples": {}, "errors": []}), "'samples'"),
    (json.dumps({"schema": SCHEMA, "run": {}, "targets": [], "errors": [],
                 "samples": [{"target": "t", "scenario": "s", "arm": "named", "fork_ns": ["1"]}]}), "samples[0]"),
])
def test_malformed_results_give_a_clear_error(tmp_path, content, needle):
    p = tmp_path / "results.json"
    p.write_text(content)
    with pytest.raises(ResultsError) as info:
        load(p)
    assert needle in str(info.value) and str(p) in str(info.value)


def test_missing_results_file(tmp_path):
    with pytest.raises(ResultsError, match="no such file"):
        load(tmp_path / "nope")
