from devbench.protocol import exit_error, parse_event


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
    from devbench.protocol import event_record

    kind, rec = event_record({"event": "error", "kind": "system-error", "message": "m", "target": "evil", "scenario": "x",
                              "time": "t", "errno": 12}, "phone", "1 page", "both")
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
