"""Conditions of a run: warnings from the facts, and the clock/temperature samples (pure)."""

from __future__ import annotations

from dataclasses import replace

from devbench.config import DeviceConfig
from devbench.device.conditions import device_warnings, parse_sample, throttle_warnings
from devbench.device.probe import Facts, ThermalZone, TripPoint

ZONE = ThermalZone("thermal_zone0", "cpu-thermal", 45_000, (TripPoint("trip_point_0", 95_000, "passive"),
                                                             TripPoint("trip_point_1", 110_000, "critical")))
FACTS = Facts(abi="aarch64", machine="aarch64", kernel_release="5.15", kernel_build="#1", android=True, android_sdk=34,
              model="Phone", root=True, cpus=8, cpus_online="0-7", mem_total_kb=8_000_000, mem_available_kb=6_000_000,
              max_map_count=65530, page_size=4096, kernel_config={"ANON_VMA_NAME": "y"},
              props={"ro.build.type": "user", "init.svc.zygote": "running"}, thermal=(ZONE,), battery_pct=80)


def facts(**kw) -> Facts:
    return replace(FACTS, **kw)


def test_quiet_device_no_warnings():
    assert device_warnings(FACTS, DeviceConfig(), framework_stopped=True) == []


def test_low_battery():
    out = device_warnings(facts(battery_pct=10), DeviceConfig(battery_min_pct=25), framework_stopped=True)
    assert out == ["low battery: 10% (< 25%): devices throttle or change power policy when low"]
    assert device_warnings(facts(battery_pct=25), DeviceConfig(battery_min_pct=25), framework_stopped=True) == []
    assert device_warnings(facts(battery_pct=None), DeviceConfig(battery_min_pct=25), framework_stopped=True) == []


def test_zone_over_passive_trip():
    hot = replace(ZONE, temp=97_500)
    out = device_warnings(facts(thermal=(hot,)), DeviceConfig(), framework_stopped=True)
    assert out == ["thermal throttling seen: zone thermal_zone0 (cpu-thermal) at 97.5 °C, over its passive trip point "
                   "95.0 °C before the run"]


def test_zone_trip_types_that_do_not_throttle_are_ignored():
    zone = ThermalZone("thermal_zone1", "battery", 60_000, (TripPoint("trip_point_0", 50_000, "active"),
                                                             TripPoint("trip_point_1", 0, "passive")))
    assert device_warnings(facts(thermal=(zone,)), DeviceConfig(), framework_stopped=True) == []


def test_framework_running_and_not_stopped():
    out = device_warnings(FACTS, DeviceConfig(), framework_stopped=False)
    assert out == [
        "framework still running: Android's framework adds background noise (device.stop_framework: true stops it)"
    ]
    stopped = facts(props={"ro.build.type": "user", "init.svc.zygote": "stopped"})
    assert device_warnings(stopped, DeviceConfig(), framework_stopped=False) == []
    linux = facts(android=False, android_sdk=None, props={})
    assert device_warnings(linux, DeviceConfig(), framework_stopped=False) == []


def test_eng_build():
    out = device_warnings(facts(props={"ro.build.type": "eng"}), DeviceConfig(), framework_stopped=True)
    assert out == [
        "eng build (ro.build.type=eng): debug features on; numbers are not those of a user or userdebug build"
    ]


def test_kernel_debug_options():
    cfg = {"ANON_VMA_NAME": "y", "PROVE_LOCKING": "y", "KASAN": "y", "DEBUG_VM": "n", "PERF_EVENTS": "y"}
    out = device_warnings(facts(kernel_config=cfg), DeviceConfig(), framework_stopped=True)
    assert out == [
        "kernel built with debug options (CONFIG_KASAN, CONFIG_PROVE_LOCKING): fork times are not those of a "
        "production kernel"
    ]


def test_all_warnings_in_order():
    f = facts(
        battery_pct=5,
        thermal=(replace(ZONE, temp=120_000),),
        props={"ro.build.type": "eng", "init.svc.zygote": "running"},
        kernel_config={"KASAN": "y"},
    )
    out = device_warnings(f, DeviceConfig(), framework_stopped=False)
    prefixes = ["low battery: 5%", "thermal throttling seen: zone thermal_zone0", "framework still running:",
                "eng build", "kernel built with debug options (CONFIG_KASAN)"]
    assert len(out) == len(prefixes) and all(w.startswith(p) for w, p in zip(out, prefixes, strict=False)), out
    assert "over its passive trip point" in out[1]  # the lowest trip reached, not the critical one


SAMPLE = """freq:policy0=1804800
freq:policy4=2841600
temp:thermal_zone0=45000
temp:thermal_zone1=-5000
freq:policy7=
temp:thermal_zone2=n/a
junk line
sample=done
"""


def test_parse_sample():
    s = parse_sample(SAMPLE, "after batch 1")
    assert s["when"] == "after batch 1"
    assert s["freq_khz"] == {"policy0": 1804800, "policy4": 2841600}
    assert s["temp_mc"] == {"thermal_zone0": 45000, "thermal_zone1": -5000}
    assert s["time"].endswith("+00:00") and "T" in s["time"]


def test_parse_sample_empty():
    s = parse_sample("", "before")
    assert (s["freq_khz"], s["temp_mc"]) == ({}, {})


def sample(when: str, freq: dict[str, int], temp: dict[str, int] | None = None) -> dict:
    return {"when": when, "time": "t", "freq_khz": freq, "temp_mc": temp or {}}


def test_throttle_frequency_below_locked():
    samples = [sample("before", {"policy0": 1804800, "policy4": 2841600}),
               sample("batch 1", {"policy0": 1420800, "policy4": 2841600}),
               sample("batch 2", {"policy0": 1017600, "policy4": 2841600}),
               sample("after", {"policy4": 2841600})]
    out = throttle_warnings(samples, {"policy0": 1804800, "policy4": 2841600}, FACTS)
    assert out == ["thermal throttling seen: policy0 ran at 1017600 kHz, below its locked 1804800 kHz "
                   "(2 of 4 readings, lowest batch 2)"]


def test_throttle_none_when_at_or_above_locked():
    samples = [sample("a", {"policy0": 1804800}), sample("b", {"policy0": 1900000})]
    assert throttle_warnings(samples, {"policy0": 1804800}, FACTS) == []
    assert throttle_warnings(samples, {}, FACTS) == []


def test_throttle_temperature_over_trip():
    samples = [sample("before", {}, {"thermal_zone0": 50_000}),
               sample("batch 1", {}, {"thermal_zone0": 96_000}),
               sample("batch 2", {}, {"thermal_zone0": 111_000}),
               sample("after", {}, {"thermal_zone9": 200_000})]
    out = throttle_warnings(samples, {}, FACTS)
    assert out == [
        "thermal throttling seen: zone thermal_zone0 (cpu-thermal) reached 111.0 °C, over its passive trip point "
        "95.0 °C (batch 2)"
    ]


def test_throttle_temperature_below_trip():
    samples = [sample("a", {}, {"thermal_zone0": 94_999})]
    assert throttle_warnings(samples, {}, FACTS) == []


def test_parse_sample_skips_a_double_minus():
    assert parse_sample("temp:thermal_zone0=--5\nsample=done\n", "x")["temp_mc"] == {}
