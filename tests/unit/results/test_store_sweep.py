"""Records of a VMA-count sweep: each placed at its count by the plan (never by the device's output),
kept apart per count by the store (resume), and its errors named with their count."""

from devbench.payload.events import event_record
from devbench.results.errors import causes, failure_text
from devbench.results.store import ResultsStore, new_results
from devbench.run.adaptive import precisions
from tests.simdata import make_sweep


def test_events_are_placed_at_the_plans_count():
    kind, rec = event_record({"event": "batch", "arm": "named", "batch": 0, "fork_ns": [5], "vmas": 7},
                             "kut", "unpopulated", "both", vmas=1024)
    assert kind == "sample" and rec["vmas"] == 1024 and list(rec)[:3] == ["target", "vmas", "scenario"]
    kind, rec = event_record({"event": "start", "vmas": 99999, "pages": 0}, "kut", "unpopulated", "both", vmas=256)
    assert kind == "check" and rec["vmas"] == 256  # the payload's echo of --vmas gives way to the plan's count
    kind, rec = event_record({"event": "error", "kind": "vma-check-failed", "message": "m", "vmas": 3},
                             "kut", "unpopulated", "named", vmas=256)
    assert kind == "error" and rec["vmas"] == 256
    kind, rec = event_record({"event": "batch", "arm": "named", "batch": 0, "fork_ns": [5]}, "kut", "u", "both")
    assert "vmas" not in rec  # no count given (a LAVA log of one count): the run's config says it


def test_the_store_keeps_each_count_apart(tmp_path):
    data = new_results("r", "n", {"benchmark": {"vmas": [256, 1024]}}, "c.yaml")
    store = ResultsStore(tmp_path / "results.json", data)
    for v in (256, 1024):
        assert store.add_sample("t", "a", "named", 0, 1, [1, 2], vmas=v)
    assert store.add_sample("t", "a", "named", 1, 1, [3], vmas=1024)
    assert not store.add_sample("t", "a", "named", 0, 1, [9], vmas=256)  # already recorded in full
    assert store.batches_done("t", "a", "named", 256) == {0: 2}
    assert store.batches_done("t", "a", "named", 1024) == {0: 2, 1: 1}
    assert [(s["vmas"], s["batch"]) for s in store.data["samples"]] == [(256, 0), (1024, 0), (1024, 1)]
    # reopened (a resume): the same keys from the file
    again = ResultsStore(tmp_path / "results.json", store.data)
    assert again.batches_done("t", "a", "named", 1024) == {0: 2, 1: 1}


def test_a_file_before_sweeps_resumes_at_its_one_count(tmp_path):
    data = new_results("r", "n", {"benchmark": {"vmas": 2048}}, "c.yaml")
    data["samples"].append({"target": "t", "scenario": "a", "arm": "named", "batch": 0, "warmup": 1, "fork_ns": [1]})
    store = ResultsStore(tmp_path / "results.json", data)
    assert store.batches_done("t", "a", "named", 2048) == {0: 1} == store.batches_done("t", "a", "named")
    assert not store.add_sample("t", "a", "named", 0, 1, [1], vmas=2048)  # the same batch


def test_errors_name_their_count_in_a_sweep():
    errors = [{"target": "t", "scenario": "a", "arm": None, "kind": "map-count-too-low", "message": "m", "vmas": 4096},
              {"target": "t", "scenario": "b", "arm": None, "kind": "map-count-too-low", "message": "m", "vmas": 4096},
              {"target": "t", "scenario": "a", "arm": "named", "kind": "kernel-lacks-anon-vma-name", "message": "k"}]
    assert [c.line() for c in causes(errors, "t", sweep=True)] == [
        "map-count-too-low (a @ 4096 VMAs, b @ 4096 VMAs): m", "kernel-lacks-anon-vma-name (a/named): k"]
    assert [c.line() for c in causes(errors, "t")][0] == "map-count-too-low (a, b): m"
    assert failure_text(errors, "t", True).startswith("a @ 4096 VMAs, b @ 4096 VMAs: m; ")


def test_adaptive_rounds_per_count():
    d = make_sweep((256, 1024), batches=4)
    prec = precisions(d, "phone", sweep=True)
    assert list(prec) == [f"{sc} @ {v} VMAs" for v in (256, 1024) for sc in ("unpopulated", "1 page", "10 pages")]
    assert all(p.forks == 400 for p in prec.values())
