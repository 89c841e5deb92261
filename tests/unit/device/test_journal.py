"""The restore journal: encoding, decoding and what a journal may name."""

from __future__ import annotations

import json

import pytest

from devbench.device.journal import SCHEMA, Entry, Journal, JournalError, allowed_path, check, decode, entry_problem

WHERE = "phone:/data/local/tmp/devbench/restore-journal.json"
GOV = "/sys/devices/system/cpu/cpufreq/policy0/scaling_governor"
MIN = "/sys/devices/system/cpu/cpufreq/policy0/scaling_min_freq"


def journal(**kw) -> Journal:
    base = dict(
        run_id="r1",
        host="bench-host",
        pid=4242,
        started="2024-06-01T10:00:00+00:00",
        sysfs="/sys",
        procfs="/proc",
        root_prefix=("su", "0"),
        entries=[
            Entry("framework", "android framework", before="running"),
            Entry("file", "policy0 scaling_governor", GOV, "schedutil"),
            Entry("range", "policy0 scaling_min_freq/scaling_max_freq", MIN, "300000 1804800"),
            Entry("file", "vm.max_map_count", "/proc/sys/vm/max_map_count", "65530"),
        ],
    )
    base.update(kw)
    return Journal(**base)


def raw(**kw) -> str:
    data = json.loads(journal().encode())
    data.update(kw)
    return json.dumps(data)


def test_round_trip():
    j = journal()
    text = j.encode()
    assert json.loads(text)["schema"] == SCHEMA
    assert json.loads(text)["root_prefix"] == ["su", "0"]
    back = decode(text, WHERE)
    assert back == j
    assert back.entries[2].max_path == "/sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq"


@pytest.mark.parametrize("prefix", [(), ("su", "0"), ("sudo", "-n")])
def test_round_trip_every_known_root_prefix(prefix):
    j = journal(root_prefix=prefix, entries=[])
    assert decode(j.encode(), WHERE) == j


def test_round_trip_other_roots():
    j = journal(sysfs="/data/tree/sys", procfs="/data/tree/proc", entries=[
        Entry("file", "cpu1 online", "/data/tree/sys/devices/system/cpu/cpu1/online", "0"),
        Entry("file", "vm.max_map_count", "/data/tree/proc/sys/vm/max_map_count", "1000"),
    ])
    assert decode(j.encode(), WHERE) == j
    with pytest.raises(JournalError, match="outside /data/tree/sys"):
        decode(journal(sysfs="/data/tree/sys", procfs="/data/tree/proc").encode(), WHERE)  # entries under /sys


def test_wrong_schema():
    with pytest.raises(JournalError, match="not a devbench restore journal") as exc:
        decode(raw(schema="devbench/restore-journal/0"), WHERE)
    assert WHERE in str(exc.value) and "devbench/restore-journal/0" in str(exc.value)
    with pytest.raises(JournalError, match="not a devbench restore journal"):
        decode("[1, 2]", WHERE)


def test_not_json():
    with pytest.raises(JournalError, match="not JSON") as exc:
        decode("{half a journal", WHERE)
    assert str(exc.value).startswith(WHERE)


def test_path_outside_sysfs_and_procfs():
    j = journal(entries=[Entry("file", "evil", "/etc/passwd", "root::0:0::/:/bin/sh")])
    with pytest.raises(JournalError) as exc:
        decode(j.encode(), WHERE)
    assert "'/etc/passwd'" in str(exc.value) and "outside /sys and /proc/sys" in str(exc.value)


def test_dotdot_in_path():
    j = journal(entries=[Entry("file", "evil", "/sys/../etc/passwd", "x")])
    with pytest.raises(JournalError, match="outside"):
        decode(j.encode(), WHERE)


def test_procfs_but_not_sysctl():
    j = journal(entries=[Entry("file", "evil", "/proc/1/mem", "x")])
    with pytest.raises(JournalError, match="'/proc/1/mem'"):
        decode(j.encode(), WHERE)


def test_range_entry_sibling_is_checked_too():
    j = journal(entries=[Entry("range", "evil", "/proc/sys/vm/x", "1 2")])
    with pytest.raises(JournalError, match="not a setting devbench makes"):
        decode(j.encode(), WHERE)
    j = journal(entries=[Entry("range", "evil", "/etc/scaling_min_freq", "1 2")])
    with pytest.raises(JournalError, match="outside"):
        decode(j.encode(), WHERE)


def test_unknown_root_prefix():
    with pytest.raises(JournalError, match=r"unknown root prefix \['sh', '-c'\]"):
        decode(raw(root_prefix=["sh", "-c"]), WHERE)
    with pytest.raises(JournalError, match="unknown root prefix"):
        decode(raw(root_prefix=["su"]), WHERE)


@pytest.mark.parametrize("before", ["300000", "", "1 2 3"])
def test_malformed_range_entry(before):
    data = json.loads(journal().encode())
    data["entries"][2]["before"] = before
    with pytest.raises(JournalError, match="needs 'MIN MAX'"):
        decode(json.dumps(data), WHERE)


@pytest.mark.parametrize("change, match", [
    ({"entries": [{"kind": "shell", "path": "/sys/x"}]}, "bad entry"),
    ({"entries": ["x"]}, "bad entry"),
    ({"entries": None}, "malformed journal"),
    ({"pid": "many"}, "malformed journal"),
    ({"sysfs": "sys"}, "bad sys root 'sys'"),
    ({"procfs": "/proc/../etc"}, "bad proc root"),
    ({"sysfs": 5}, "bad sys root"),
    ({"sysfs": "/"}, "bad sys root '/'"),  # a journal cannot widen what it may write to
    ({"sysfs": "/etc"}, "bad sys root"),
    ({"procfs": "/data/tree/sys"}, "bad proc root"),
])
def test_malformed_fields(change, match):
    with pytest.raises(JournalError, match=match):
        decode(raw(**change), WHERE)


def test_missing_field():
    data = json.loads(journal().encode())
    del data["run_id"]
    with pytest.raises(JournalError, match="malformed journal .KeyError"):
        decode(json.dumps(data), WHERE)


@pytest.mark.parametrize("path, ok", [
    ("/sys/devices/system/cpu/cpu1/online", True),
    ("/proc/sys/vm/max_map_count", True),
    ("/sys", False),
    ("/sysfoo/x", False),
    ("/proc/sysrq-trigger", False),
    ("/proc/self/mem", False),
    ("sys/devices/x", False),
    ("/sys/devices/../../etc/passwd", False),
    ("/sys/devices/x\n", False),
    ("/sys/devices/x\0", False),
])
def test_allowed_path(path, ok):
    assert allowed_path(path, "/sys", "/proc") is ok


def test_allowed_path_trailing_slash_roots():
    assert allowed_path("/sys/x", "/sys/", "/proc/")
    assert allowed_path("/proc/sys/kernel/x", "/sys/", "/proc/")
    assert not allowed_path("/proc/x", "/sys/", "/proc/")


def test_range_entry_with_non_integer_values_is_refused():
    data = json.loads(journal().encode())
    data["entries"][2]["before"] = "low high"
    with pytest.raises(JournalError):
        decode(json.dumps(data), WHERE)


# -- a journal is data: only devbench's own settings, with values of their shape (issue 16) --------

@pytest.mark.parametrize("entry", [
    Entry("file", "kernel.core_pattern", "/proc/sys/kernel/core_pattern", "|/data/local/tmp/evil %p"),
    Entry("file", "vm.max_map_count", "/proc/sys/kernel/core_pattern", "65530"),  # a devbench label on another file
    Entry("file", "kernel.modprobe", "/proc/sys/kernel/modprobe", "/data/local/tmp/evil"),
    Entry("file", "uevent_helper", "/sys/kernel/uevent_helper", "/tmp/evil"),
    Entry("file", "policy0 scaling_governor", "/sys/devices/system/cpu/cpufreq/policy0/../../../../kernel/x", "a"),
    Entry("file", "policy0 scaling_governor", "/sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq", "1"),
    Entry("file", "policy1 scaling_governor", GOV, "schedutil"),  # the label names another policy
    Entry("range", "policy0 scaling_min_freq/scaling_max_freq", "/sys/devices/system/cpu/cpu0/online", "1 2"),
    Entry("framework", "kernel.core_pattern", before="running"),
])
def test_only_devbench_settings_are_accepted(entry):
    with pytest.raises(JournalError, match="not a setting devbench makes|outside") as exc:
        decode(journal(entries=[entry]).encode(), WHERE)
    assert "\n" not in str(exc.value) and str(exc.value).startswith(WHERE)


@pytest.mark.parametrize("entry", [
    Entry("file", "policy0 scaling_governor", GOV, "$(touch /tmp/x)"),
    Entry("file", "policy0 scaling_governor", GOV, "performance\nx"),
    Entry("file", "policy0 scaling_governor", GOV, ""),
    Entry("file", "cpu1 online", "/sys/devices/system/cpu/cpu1/online", "2"),
    Entry("file", "vm.max_map_count", "/proc/sys/vm/max_map_count", "65530; reboot"),
    Entry("file", "vm.max_map_count", "/proc/sys/vm/max_map_count", "-1"),
    Entry("file", "kernel.kptr_restrict", "/proc/sys/kernel/kptr_restrict", "3"),
    Entry("file", "kernel.perf_event_paranoid", "/proc/sys/kernel/perf_event_paranoid", "-1 2"),
    Entry("framework", "android framework", before="stopped; reboot"),
])
def test_old_values_must_have_their_settings_shape(entry):
    with pytest.raises(JournalError, match="is not of its shape"):
        decode(journal(entries=[entry]).encode(), WHERE)


@pytest.mark.parametrize(
    "entry",
    [
        Entry("file", "cpu3 online", "/sys/devices/system/cpu/cpu3/online", "0"),
        Entry(
            "file", "policy4 scaling_governor", "/sys/devices/system/cpu/cpufreq/policy4/scaling_governor", "schedutil"
        ),
        Entry(
            "range",
            "policy4 scaling_min_freq/scaling_max_freq",
            "/sys/devices/system/cpu/cpufreq/policy4/scaling_min_freq",
            "300000 2400000",
        ),
        Entry("file", "vm.max_map_count", "/proc/sys/vm/max_map_count", "65530"),
        Entry("file", "kernel.kptr_restrict", "/proc/sys/kernel/kptr_restrict", "2"),
        Entry("file", "kernel.perf_event_paranoid", "/proc/sys/kernel/perf_event_paranoid", "-1"),
        Entry("framework", "android framework", before="running"),
    ],
)
def test_every_setting_devbench_makes_is_accepted(entry):
    assert entry_problem(entry, "/sys", "/proc") is None
    assert decode(journal(entries=[entry]).encode(), WHERE).entries == [entry]


def test_the_roots_are_the_configs_not_the_journals():
    j = journal(sysfs="/data/evil/sys", procfs="/data/evil/proc", entries=[
        Entry("file", "vm.max_map_count", "/data/evil/proc/sys/vm/max_map_count", "1")])
    decoded = decode(j.encode(), WHERE)  # well formed ...
    with pytest.raises(JournalError, match=r"sysfs root '/data/evil/sys' is not the config's device.sysfs '/sys'"):
        check(decoded, "/sys", "/proc", WHERE)  # ... but not under the config's roots
    with pytest.raises(JournalError, match="procfs root"):
        check(decode(journal(procfs="/data/evil/proc", entries=[]).encode(), WHERE), "/sys", "/proc", WHERE)
    assert check(decode(journal().encode(), WHERE), "/sys/", "/proc", WHERE).entries == journal().entries


def test_too_many_entries():
    e = Entry("file", "cpu1 online", "/sys/devices/system/cpu/cpu1/online", "0")
    with pytest.raises(JournalError, match="257 entries"):
        decode(journal(entries=[e] * 257).encode(), WHERE)


def test_refusals_are_one_bounded_line_whatever_the_journal_holds():
    huge = "x\n" * 100_000
    for bad in (journal(entries=[Entry("file", huge, "/proc/sys/kernel/" + huge, "1")]),
                journal(entries=[Entry("file", "vm.max_map_count", "/proc/sys/vm/max_map_count", huge)]),
                journal(root_prefix=(huge,), entries=[])):
        with pytest.raises(JournalError) as exc:
            decode(bad.encode(), WHERE)
        assert "\n" not in str(exc.value) and len(str(exc.value)) < 800
