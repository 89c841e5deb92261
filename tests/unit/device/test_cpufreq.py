"""CPU frequency policies: parsing, choosing a frequency, governor checks, write order."""

from __future__ import annotations

import random

import pytest

from devbench.device.cpufreq import (
    CpufreqChoiceError,
    Policy,
    check_governor,
    choose_khz,
    parse_cpu_list,
    policy_from_files,
    range_writes,
    select_policies,
)

FREQS = (300000, 576000, 1017600, 1420800, 1804800)


def policy(
    name: str = "policy0",
    *,
    cpus=(0, 1, 2, 3),
    frequencies=FREQS,
    governors=("schedutil", "performance", "userspace"),
    setspeed: bool = True,
    hw_min: int | None = 300000,
    hw_max: int | None = 1804800,
) -> Policy:
    return Policy(
        name=name,
        cpus=tuple(cpus),
        governor="schedutil",
        governors=tuple(governors),
        frequencies=tuple(frequencies),
        min_khz=hw_min,
        max_khz=hw_max,
        hw_min_khz=hw_min,
        hw_max_khz=hw_max,
        cur_khz=576000,
        setspeed=setspeed,
    )


# parse_cpu_list

@pytest.mark.parametrize("text, cpus", [
    ("0-3,6", (0, 1, 2, 3, 6)),
    ("0 1 2", (0, 1, 2)),
    ("0,2-7", (0, 2, 3, 4, 5, 6, 7)),
    ("3,1,1-2", (1, 2, 3)),
    ("5\n", (5,)),
    ("", ()),
    (None, ()),
])
def test_parse_cpu_list(text, cpus):
    assert parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text, cpus", [
    ("junk", ()),
    ("0-3,x,6", (0, 1, 2, 3, 6)),
    ("a-b 2", (2,)),
    ("3-1", ()),  # a reversed range is not a range
    ("-1 4", (4,)),
    ("0-70000", ()),  # absurdly large
])
def test_parse_cpu_list_skips_junk(text, cpus):
    assert parse_cpu_list(text) == cpus


# policy_from_files / select_policies

def test_policy_from_files():
    p = policy_from_files("policy4", {
        "related_cpus": "4 5 6 7", "scaling_governor": "schedutil",
        "scaling_available_governors": "schedutil performance",
        "scaling_available_frequencies": "2841600 710400 x 1440000 ",
        "scaling_min_freq": "710400", "scaling_max_freq": "2841600",
        "cpuinfo_min_freq": "710400", "cpuinfo_max_freq": "2841600", "scaling_cur_freq": "",
    })
    assert p.cpus == (4, 5, 6, 7)
    assert p.frequencies == (710400, 1440000, 2841600)  # sorted, junk dropped
    assert p.governors == ("schedutil", "performance")
    assert (p.min_khz, p.max_khz, p.cur_khz) == (710400, 2841600, None)
    assert p.setspeed is False
    assert (p.lowest, p.highest) == (710400, 2841600)


def test_policy_without_frequency_list_uses_cpuinfo_limits():
    p = policy_from_files("policy0", {"affected_cpus": "0-1", "cpuinfo_min_freq": "100", "cpuinfo_max_freq": "900",
                                      "scaling_setspeed": "<unsupported>"})
    assert p.cpus == (0, 1) and p.frequencies == () and p.setspeed is True
    assert (p.lowest, p.highest) == (100, 900)
    assert p.governor is None


def test_select_policies():
    little, big = policy("policy0", cpus=(0, 1, 2, 3)), policy("policy4", cpus=(4, 5, 6, 7))
    assert select_policies([little, big], None) == [little, big]
    assert select_policies([little, big], (5,)) == [big]
    assert select_policies([little, big], (3, 4)) == [little, big]
    assert select_policies([little, big], (9,)) == []


# choose_khz

def test_choose_max_and_min():
    p = policy()
    khz, why = choose_khz(p, "max")
    assert khz == 1804800 and "asked: max" in why and "1804800 kHz" in why
    khz, why = choose_khz(p, "min")
    assert khz == 300000 and "asked: min" in why and why.startswith("300000 kHz")


def test_choose_int_exact():
    khz, why = choose_khz(policy(), 1017600)
    assert khz == 1017600
    assert "exactly available" in why and "asked: 1017600 kHz" in why


def test_choose_int_nearest():
    khz, why = choose_khz(policy(), 1000000)
    assert khz == 1017600
    assert "nearest available" in why and "asked: 1000000 kHz" in why and why.startswith("1017600 kHz")


def test_choose_int_nearest_tie_goes_to_higher():
    p = policy(frequencies=(1000, 2000, 3000))
    assert choose_khz(p, 1500)[0] == 2000
    assert choose_khz(p, 2500)[0] == 3000
    assert choose_khz(p, 1499)[0] == 1000


def test_choose_int_outside_the_list_takes_the_end():
    p = policy()
    assert choose_khz(p, 10)[0] == 300000
    assert choose_khz(p, 10**9)[0] == 1804800


def test_choose_fraction():
    khz, why = choose_khz(policy(), 0.5)  # 0.5 x 1804800 = 902400 -> nearest 1017600
    assert khz == 1017600
    assert "0.5 of 1804800 kHz = 902400 kHz" in why
    assert choose_khz(policy(), 1.0)[0] == 1804800


def test_choose_clamps_without_frequency_list():
    p = policy(frequencies=(), hw_min=400000, hw_max=2000000)
    khz, why = choose_khz(p, 100000)
    assert khz == 400000 and "clamped to the cpuinfo range 400000-2000000 kHz" in why and "asked: 100000 kHz" in why
    khz, why = choose_khz(p, 3000000)
    assert khz == 2000000 and "clamped" in why
    khz, why = choose_khz(p, 1234567)
    assert khz == 1234567 and "within the cpuinfo range" in why
    khz, why = choose_khz(p, 0.25)
    assert khz == 500000 and "0.25 of 2000000 kHz = 500000 kHz" in why
    assert choose_khz(p, "max")[0] == 2000000 and choose_khz(p, "min")[0] == 400000


def test_choose_reason_lists_a_long_offer_as_a_range():
    p = policy(frequencies=tuple(range(100, 900, 100)))  # 8 frequencies
    _, why = choose_khz(p, "max")
    assert "8 available, 100-800 kHz" in why
    _, why = choose_khz(policy(), "max")
    assert "available 300000, 576000, 1017600, 1420800, 1804800 kHz" in why


def test_choose_refuses_without_limits_or_bad_spec():
    with pytest.raises(CpufreqChoiceError, match="policy0: no available frequencies"):
        choose_khz(policy(frequencies=(), hw_min=None, hw_max=None), "max")
    with pytest.raises(CpufreqChoiceError, match="cannot lock at 'fast'"):
        choose_khz(policy(), "fast")


# check_governor

def test_check_governor_accepts_offered():
    check_governor(policy(), "performance")
    check_governor(policy(), "userspace")
    check_governor(policy(governors=()), "anything")  # nothing listed: nothing to refuse on


def test_check_governor_not_offered():
    with pytest.raises(CpufreqChoiceError) as exc:
        check_governor(policy(governors=("schedutil", "powersave")), "performance")
    assert "governor 'performance' is not offered" in str(exc.value)
    assert "available: schedutil, powersave" in str(exc.value)


def test_check_governor_userspace_needs_setspeed():
    with pytest.raises(CpufreqChoiceError, match="userspace needs scaling_setspeed"):
        check_governor(policy(setspeed=False), "userspace")
    with pytest.raises(CpufreqChoiceError, match="userspace needs scaling_setspeed"):
        check_governor(policy(governors=(), setspeed=False), "userspace")


# range_writes

def test_range_writes_raising_above_current_max_writes_max_first():
    assert range_writes(2000, 2000, 300, 1800) == [("scaling_max_freq", 2000), ("scaling_min_freq", 2000)]


def test_range_writes_lowering_below_current_min_writes_min_first():
    assert range_writes(100, 100, 300, 1800) == [("scaling_min_freq", 100), ("scaling_max_freq", 100)]


def test_range_writes_within_range_writes_min_first():
    assert range_writes(1000, 1000, 300, 1800) == [("scaling_min_freq", 1000), ("scaling_max_freq", 1000)]
    assert range_writes(1800, 1800, 300, 1800) == [("scaling_min_freq", 1800), ("scaling_max_freq", 1800)]
    assert range_writes(500, 600, None, None) == [("scaling_min_freq", 500), ("scaling_max_freq", 600)]


class StrictKernel:
    """A cpufreq policy that refuses any write that would leave min > max."""

    def __init__(self, lo: int, hi: int):
        self.values = {"scaling_min_freq": lo, "scaling_max_freq": hi}

    def write(self, name: str, value: int) -> None:
        after = dict(self.values, **{name: value})
        if after["scaling_min_freq"] > after["scaling_max_freq"]:
            raise OSError(f"EINVAL: {name}={value} with {self.values}")
        self.values = after


def test_strict_kernel_refuses_the_wrong_order():
    k = StrictKernel(300, 1800)  # the stand-in itself must be able to fail
    with pytest.raises(OSError):
        k.write("scaling_min_freq", 2000)


def test_range_writes_never_violate_min_le_max():
    rng = random.Random(20240601)
    for _ in range(5000):
        cur_min, cur_max = sorted(rng.randint(1, 100) for _ in range(2))
        new_min, new_max = sorted(rng.randint(1, 100) for _ in range(2))
        if rng.random() < 0.5:
            new_max = new_min  # a lock: min == max
        k = StrictKernel(cur_min, cur_max)
        for name, value in range_writes(new_min, new_max, cur_min, cur_max):
            k.write(name, value)  # raises on a violation
        assert k.values == {"scaling_min_freq": new_min, "scaling_max_freq": new_max}, (
            cur_min,
            cur_max,
            new_min,
            new_max,
        )
