from devbench.payload.events import exit_error, parse_event


def test_batch_events_are_validated():
    ok = parse_event('{"event":"batch","batch":0,"arm":"named","warmup":1,"forks":2,"fork_ns":[10,20]}')
    assert ok["fork_ns"] == [10, 20]
    assert parse_event('{"event":"batch","batch":0,"arm":"other","fork_ns":[1]}') is None
    assert parse_event('{"event":"batch","batch":0,"arm":"named","fork_ns":[1.5]}') is None
    assert parse_event('{"event":"batch","batch":0,"arm":"named","fork_ns":[-1]}') is None
    assert parse_event('{"event":"batch","batch":0,"arm":"named","fork_ns":[true]}') is None


def test_non_events_are_not_events():
    assert parse_event("forkbench: hello") is None
    assert parse_event("{not json") is None
    assert parse_event("[1,2]") is None
    assert parse_event('{"no_event": 1}') is None
    assert parse_event('{"event":"end","exit_code":0}')["event"] == "end"


def test_exit_codes_map_to_kinds():
    assert exit_error(3, "")[0] == "kernel-lacks-anon-vma-name"
    assert exit_error(4, "need 70000")[1] == "need 70000"
    kind, msg = exit_error(137, "")
    assert kind == "payload-killed" and "SIGKILL" in msg and "OOM" in msg
    assert exit_error(139, "x") == ("payload-killed", "payload killed by SIGSEGV: x")
    assert exit_error(127, "sh: not found")[0] == "payload-not-runnable"
    assert exit_error(42, "")[0] == "payload-failed"
    assert exit_error(255, "")[0] == "payload-failed" and exit_error(192, "")[0] == "payload-killed"  # 255: no signal


def test_event_records_keep_the_device_from_renaming_where_they_belong():
    from devbench.payload.events import event_record

    kind, rec = event_record(
        {
            "event": "error",
            "kind": "system-error",
            "message": "m",
            "target": "evil",
            "scenario": "x",
            "time": "t",
            "errno": 12,
        },
        "phone",
        "1 page",
        "both",
    )
    assert kind == "error" and rec == {"target": "phone", "scenario": "1 page", "arm": None, "kind": "system-error",
                                       "message": "m", "errno": 12}
    kind, rec = event_record({"event": "setup", "maps_before": 3, "check": "named_check", "process_arm": "named"},
                             "phone", "1 page", "both")
    assert kind == "check" and rec == {"maps_before": 3, "target": "phone", "scenario": "1 page", "process_arm": "both",
                                       "check": "setup"}
    kind, rec = event_record({"event": "batch", "arm": "named", "batch": 2, "fork_ns": [5, 6], "warmup": None},
                             "phone", "1 page", "both", batch_offset=10)
    assert kind == "sample" and rec["batch"] == 12 and rec["warmup"] == 0 and rec["fork_ns"] == [5, 6]
    assert event_record({"event": "end", "exit_code": 0}, "p", "s", "both") == ("end", {})
    assert event_record({"event": "version", "payload_version": 3}, "p", "s", "both") is None


def test_payload_3_name_checks_and_a_failed_clear_are_carried_to_the_results():
    """The range counts of a check and a vma-check-failed error after clearing (stage "clear",
    the counts that failed) reach results.json as the payload wrote them; the message is the one
    line the run prints."""
    import json

    from devbench.payload.events import event_record

    clear = parse_event('{"event":"clear","clear_ns":35958384,"anon_lines":3,"maps_in_range":16384,"named_in_range":3,'
                        '"vmas_expected":0,"ok":false}')
    kind, rec = event_record(clear, "kut", "unpopulated", "both")
    assert kind == "check" and rec["check"] == "clear" and rec["ok"] is False and rec["named_in_range"] == 3
    line = json.dumps({"event": "error", "kind": "vma-check-failed", "arm": "unnamed", "errno": None,
                       "message": "clearing names left 3 of the payload's 16384 VMAs named", "stage": "clear",
                       "anon_lines": 3, "maps_in_range": 16384, "named_in_range": 3, "vmas_expected": 0})
    kind, rec = event_record(parse_event(line), "kut", "unpopulated", "both")
    assert kind == "error" and rec["kind"] == "vma-check-failed" and rec["arm"] == "unnamed"
    assert rec["stage"] == "clear" and rec["named_in_range"] == 3 and "\n" not in rec["message"]
    assert exit_error(6, "")[0] == "vma-check-failed"  # the payload's exit code for both checks
