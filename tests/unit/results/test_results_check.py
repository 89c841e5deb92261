"""devbench.results.schema: the published JSON Schema of results.json is the checker."""

import copy
import json

import jsonschema
import pytest

from devbench.errors import ResultsError
from devbench.results import schema as results_check
from devbench.results import store as results
from devbench.results.schema import parse_results, schema_file, shape_problem
from tests.simdata import make_results
from tests.unit.cli.test_fuzz_cli import BASE_RESULTS


def published():
    return json.loads(schema_file().read_text())


def test_the_schema_is_a_valid_json_schema_versioned_as_the_files():
    schema = published()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == results.SCHEMA == results_check.SCHEMA
    assert schema_file().name == "results-2.schema.json" and schema_file().parent.name == "results"
    assert schema["properties"]["schema"]["enum"] == ["devbench/results/2", "devbench/results/1"]


def test_a_real_results_file_validates_with_jsonschema_alone(tmp_path):
    """What a consumer (CI dashboard, SQUAD, KernelCI) does: the published file and any validator."""
    store = results.ResultsStore(tmp_path / "results.json", make_results(seed=4))
    store.finish("complete")
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["summary"] and on_disk["run"]["status"] == "complete"
    jsonschema.Draft202012Validator(published()).validate(on_disk)
    bad = copy.deepcopy(on_disk)
    bad["samples"][2]["fork_ns"][5] = -3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(published()).validate(bad)


def test_schema_1_files_still_read():
    old = copy.deepcopy(BASE_RESULTS)
    old["schema"] = "devbench/results/1"
    for s in old["samples"]:
        s.pop("exit_ns", None)
    assert shape_problem(old) is None


# the same one-line errors as the hand-written checker it replaces (its messages, field by field)
CASES = {
    "samples[0].fork_ns[0] must be an integer 0..2**63-1, not '1'": lambda d: d["samples"][0].__setitem__(
        "fork_ns", ["1"]
    ),
    "samples[0].fork_ns[0] must be an integer 0..2**63-1, not -1": lambda d: d["samples"][0].__setitem__(
        "fork_ns", [-1]
    ),
    "samples[0].exit_ns[0] must be an integer 0..2**63-1, not 1.5": lambda d: d["samples"][0].__setitem__(
        "exit_ns", [1.5]
    ),
    "samples[1].batch must be an integer 0..2147483647, not 'x'": lambda d: d["samples"][1].__setitem__("batch", "x"),
    "samples[1].arm must be one of named, unnamed, not 'both'": lambda d: d["samples"][1].__setitem__("arm", "both"),
    "samples[1].target is missing": lambda d: d["samples"][1].pop("target"),
    "targets[0] must be a mapping, not an integer": lambda d: d.__setitem__("targets", [1]),
    "field 'targets' is missing or not a list": lambda d: d.__setitem__("targets", {}),
    "field 'samples' is missing or not a list": lambda d: d.pop("samples"),
    "targets[0].facts.mem_total_kb must be a number, not '8G'": lambda d: d["targets"][0]["facts"].__setitem__(
        "mem_total_kb", "8G"
    ),
    "targets[0].facts.mem_total_kb must be a number, not nan": lambda d: d["targets"][0]["facts"].__setitem__(
        "mem_total_kb", float("nan")
    ),
    "targets[0].facts.model is missing": lambda d: d["targets"][0]["facts"].pop("model"),
    "targets[0].warnings must be a list, not a string": lambda d: d["targets"][0].__setitem__("warnings", "x"),
    "run.config must be a mapping, not a list": lambda d: d["run"].__setitem__("config", [1]),
    "run.id must be a plain value (text or number), not a list": lambda d: d["run"].__setitem__("id", [1]),
    "run.config.benchmark.scenarios[0].pages must be an integer 0..2**63-1, not -1":
        lambda d: d["run"]["config"]["benchmark"]["scenarios"][0].__setitem__("pages", -1),
    "errors[0].message is missing": lambda d: d["errors"][0].pop("message"),
    "errors[0].target must be a string, not an integer": lambda d: d["errors"][0].__setitem__("target", 3),
    "checks[0].vmas_created is missing": lambda d: d["checks"][0].pop("vmas_created"),
    "profiles[0].folded.forkbench;main;fork;copy_process must be an integer 0..2**63-1, not 'x'":
        lambda d: d["profiles"][0]["folded"].__setitem__("forkbench;main;fork;copy_process", "x"),
    "run.host.n is a number too large for a results file": lambda d: d["run"].__setitem__("host", {"n": 10**400}),
}


@pytest.mark.parametrize("message", list(CASES))
def test_one_line_errors_name_the_field(message):
    data = copy.deepcopy(BASE_RESULTS)
    CASES[message](data)
    assert shape_problem(data) == message
    with pytest.raises(ResultsError) as info:
        parse_results(json.dumps(data, allow_nan=True), "run/results.json")
    assert str(info.value) == f"run/results.json: {message}"


def test_the_samples_are_reported_first():
    data = copy.deepcopy(BASE_RESULTS)
    data["run"]["id"] = [1]
    data["samples"][1]["fork_ns"] = [1, 2, "x"]
    assert shape_problem(data) == "samples[1].fork_ns[2] must be an integer 0..2**63-1, not 'x'"


def test_name_check_range_counts_and_the_clear_check():
    """Payload 3's checks (counts of its own address range; clear with ok) validate; a clear
    check's time must be a number; checks without the new fields (payload 2) still read."""
    data = copy.deepcopy(BASE_RESULTS)
    data["checks"] += [
        {"target": "phone", "scenario": "unpopulated", "check": "named_check", "vmas_expected": 64, "anon_lines": 66,
         "maps_in_range": 64, "named_in_range": 63, "ok": False, "name_ns": 10},
        {"target": "phone", "scenario": "unpopulated", "check": "clear", "clear_ns": 5, "anon_lines": 0,
         "maps_in_range": 64, "named_in_range": 0, "ok": True},
        {"target": "phone", "scenario": "unpopulated", "check": "clear", "clear_ns": 5, "anon_lines": 0},
    ]
    assert shape_problem(data) is None
    data["checks"][-1]["clear_ns"] = "5 ms"
    assert shape_problem(data) is not None and "clear_ns" in shape_problem(data)
