"""devbench.results.strict: which recorded warnings break which required device condition."""

import pytest

from devbench.results.strict import REQUIREMENTS, STRICT, breaks, unmet

# warnings as devbench records them (devbench.device.actions/conditions, the targets)
CASES = [
    ("clocks not locked: device.cpufreq is not set", ["clocks_locked"]),
    ("cpufreq not available: frequency not locked", ["clocks_locked"]),
    ("not root: device settings were not changed (clocks not locked)", ["clocks_locked"]),
    ("clocks not locked on policy4: wrote 2400000, read 1800000", ["clocks_locked"]),
    ("thermal throttling seen: policy0 ran at 300000 kHz, below its locked 1800000 kHz", ["no_throttling"]),
    ("Android emulator: emulator timings are not device timings", ["not_emulator"]),
    ("QEMU guest with instruction counting (clock: icount): a time is ...", ["not_emulator"]),
    ("framework still running: Android's framework adds background noise", ["framework_stopped"]),
    ("low battery: 12% (below 25%)", []),
    ("resumed: 3 payload invocation(s) left", []),
]


@pytest.mark.parametrize("warning,expected", CASES)
def test_each_warning_breaks_what_it_says(warning, expected):
    assert breaks(warning) == expected


def test_unmet_lists_only_the_required_conditions_per_target():
    data = {"targets": [
        {"name": "phone", "warnings": ["clocks not locked: device.cpufreq is not set", "framework still running: x"]},
        {"name": "board", "warnings": ["low battery"]},
        {"name": "bad", "warnings": [{"not": "a string"}]},
        "not a mapping",
    ]}
    assert [(u.target, u.requirement) for u in unmet(data, STRICT)] == [
        ("phone", "clocks_locked"),
        ("phone", "framework_stopped"),
    ]
    assert [(u.target, u.requirement) for u in unmet(data, ["framework_stopped"])] == [("phone", "framework_stopped")]
    assert unmet(data, []) == [] and unmet(data, ["no_throttling"]) == []
    line = unmet(data, ["clocks_locked"])[0].line()
    assert (
        line == "phone: required clocks_locked (CPU clocks locked), but: clocks not locked: device.cpufreq is not set"
    )


def test_strict_is_every_requirement():
    assert set(STRICT) == set(REQUIREMENTS) == {"clocks_locked", "no_throttling", "not_emulator", "framework_stopped"}


def test_device_require_is_checked_like_the_rest_of_the_config():
    from devbench.config import parse_text
    from devbench.errors import ConfigError

    bench = "benchmark: {scenarios: [{name: u, pages: 0}]}\n"
    base = "targets: [{name: here, local: {}}]\ndevice: {require: %s}\n" + bench
    assert parse_text(base % "[clocks_locked, not_emulator, clocks_locked]", "c.yaml").device.require == (
        "clocks_locked", "not_emulator")
    assert parse_text("targets: [{name: here, local: {}}]\n" + bench, "c.yaml").device.require == ()
    with pytest.raises(ConfigError) as err:
        parse_text(base % "[clock_locked]", "c.yaml")
    assert (
        "c.yaml:2" in str(err.value)
        and "device.require" in str(err.value)
        and "did you mean 'clocks_locked'" in str(err.value)
    )
    with pytest.raises(ConfigError, match="must be a list of clocks_locked"):
        parse_text(base % "yes", "c.yaml")
