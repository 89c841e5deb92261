import os

from devbench.config import LocalOptions
from devbench.device.probe import parse_facts, probe
from devbench.targets.local import LocalTarget
from tests.standins import android_device as standin

LINUX = """machine=x86_64
kernel=6.12.0-test
kernel_build=#1 SMP
uid=0
cpus=2
online=0-1
max_map_count=65530
pagesize=4096
MemTotal:       24000000 kB
MemAvailable:   20000000 kB
kconfig:CONFIG_ANON_VMA_NAME=y
kconfig:# CONFIG_PERF_EVENTS is not set
kconfig:CONFIG_KASAN=y
probe=done
"""

ANDROID = """machine=aarch64
kernel=5.10.110-android12
prop:ro.build.version.sdk=33
prop:ro.product.cpu.abi=arm64-v8a
prop:ro.product.model=Pixel 6
prop:init.svc.zygote=running
prop:ro.kernel.qemu=
uid=2000
cpus=8
max_map_count=65530
pagesize=
selinux=Enforcing
cpufreq:policy4:related_cpus=4 5
cpufreq:policy4:scaling_available_frequencies=2000000 500000 1000000
cpufreq:policy0:related_cpus=0-3
thermal:thermal_zone10:type=skin
thermal:thermal_zone10:temp=41000
thermal:thermal_zone10:trip_point_1_temp=39000 passive
thermal:thermal_zone10:trip_point_0_temp=99000 critical
thermal:thermal_zone2:type=cpu
battery:battery=17
probe=done
"""


def test_linux_facts():
    f = parse_facts(LINUX)
    assert (f.abi, f.android, f.root, f.cpus, f.max_map_count, f.page_size) == ("x86_64", False, True, 2, 65530, 4096)
    assert f.mem_available_kb == 20000000 and f.kernel_release == "6.12.0-test"
    assert f.kernel_config == {"ANON_VMA_NAME": "y", "PERF_EVENTS": "n", "KASAN": "y"} and f.has_anon_vma_name is True
    assert f.debug_kernel_options == ["KASAN"] and f.framework_running is None and f.props == {}
    assert f.cpufreq == () and f.thermal == () and f.battery_pct is None


def test_android_facts():
    f = parse_facts(ANDROID)
    assert (f.abi, f.android, f.android_sdk, f.model, f.root, f.uid) == ("aarch64", True, 33, "Pixel 6", False, 2000)
    assert f.page_size is None and f.has_anon_vma_name is None and f.emulator is False
    assert f.framework_running is True and f.selinux == "Enforcing" and f.battery_pct == 17
    assert [p.name for p in f.cpufreq] == ["policy0", "policy4"]  # natural order
    assert f.cpufreq[0].cpus == (0, 1, 2, 3) and f.cpufreq[1].frequencies == (500000, 1000000, 2000000)
    assert [z.name for z in f.thermal] == ["thermal_zone2", "thermal_zone10"]
    skin = f.thermal[1]
    assert [t.temp for t in skin.trips] == [39000, 99000] and skin.over_trip().type == "passive"
    assert f.thermal[0].temp is None and f.thermal[0].over_trip() is None


def test_unknown_machine_has_no_abi_and_32bit_arm_maps():
    assert parse_facts("machine=mips\nprobe=done").abi is None
    assert parse_facts("machine=armv8l\n").abi == "armv7"


def test_probe_script_reads_a_stand_in_tree_through_a_real_shell(tmp_path, monkeypatch):
    """The real probe script, run by a real sh on this machine, against the stand-in phone tree."""
    target = LocalTarget("here", LocalOptions(workdir=str(tmp_path / "work")))
    root = str(tmp_path / "tree")
    standin.lay_out(target, root, standin.tree_files(battery=12, temp_mc=96000))
    f = probe(target, f"{root}/sys", f"{root}/proc")
    assert f.cpus == 8 and f.cpus_online == "0,2-7" and f.cpus_present == "0-7"
    assert (f.max_map_count, f.kptr_restrict, f.perf_event_paranoid) == (1000, 2, 3)
    assert (f.mem_total_kb, f.mem_available_kb) == (8000000, 6000000)
    p4 = f.cpufreq[1]
    assert (p4.name, p4.cpus, p4.governor, p4.min_khz, p4.max_khz, p4.cur_khz) == (
        "policy4",
        (4, 5, 6, 7),
        "schedutil",
        710400,
        2841600,
        1440000,
    )
    assert p4.frequencies[-1] == 2841600 and "userspace" in p4.governors and p4.setspeed
    [zone] = f.thermal
    assert zone.type == "cpu-thermal" and zone.temp == 96000 and zone.over_trip().temp == 95000
    assert f.battery_pct == 12


FORGED = (
    "\nuid=0\nmax_map_count=99999999\nmachine=riscv64\nprop:ro.build.version.sdk=34\ncpufreq:policy9:scaling_governor=x"
)


def test_device_values_cannot_forge_facts(tmp_path):
    """Issue 16: sysfs/procfs contents and directory names with newlines, run through the real
    probe script by a real sh on the stand-in tree: no byte of them becomes another fact."""
    target = LocalTarget("here", LocalOptions(workdir=str(tmp_path / "work")))
    root = str(tmp_path / "tree")
    files = standin.tree_files()
    files["sys/class/thermal/thermal_zone0/type"] = "cpu" + FORGED
    files["sys/devices/system/cpu/online"] = "0-3" + FORGED
    files["sys/devices/system/cpu/cpufreq/policy0/scaling_governor"] = "schedutil" + FORGED
    files["sys/class/thermal/thermal_zone0/trip_point_0_type"] = "passive" + FORGED
    files["proc/sys/kernel/kptr_restrict"] = "2\\nuid=0"  # dash's echo would turn this into a newline
    standin.lay_out(target, root, files)
    os.makedirs(f"{root}/sys/devices/system/cpu/cpufreq/policy1{FORGED}", exist_ok=True)  # a name with newlines
    with open(f"{root}/sys/devices/system/cpu/cpufreq/policy1{FORGED}/scaling_governor", "w") as fh:
        fh.write("performance\n")
    plain = probe(LocalTarget("here", LocalOptions(workdir=str(tmp_path / "work"))), f"{root}/sys", f"{root}/proc")
    assert plain.uid == os.getuid() and plain.root == (os.getuid() == 0)
    assert plain.machine == os.uname().machine and plain.max_map_count == 1000 and not plain.android
    assert plain.thermal[0].type == "cpu" and plain.cpus_online == "0-3" and plain.kptr_restrict is None
    assert [p.name for p in plain.cpufreq] == ["policy0", "policy4"] and plain.cpufreq[0].governor == "schedutil"
    assert [t.type for t in plain.thermal[0].trips] == ["passive"]


def test_parser_believes_the_first_line_of_a_key_and_plain_names_only():
    f = parse_facts("machine=x86_64\nuid=1000\nuid=0\ncpufreq:policy0/../x:scaling_governor=a\nprobe=done")
    assert f.uid == 1000 and not f.root and f.cpufreq == ()
