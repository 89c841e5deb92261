from devbench.device.probe import parse_facts

LINUX = """machine=x86_64
kernel=6.12.0-test
kernel_build=#1 SMP
sdk=
android_abi=
model=
uid=0
cpus=2
online=0-1
max_map_count=65530
pagesize=4096
MemTotal:       24000000 kB
MemAvailable:   20000000 kB
kconfig:CONFIG_ANON_VMA_NAME=y
kconfig:# CONFIG_PERF_EVENTS is not set
probe=done
"""

ANDROID = """machine=aarch64
kernel=5.10.110-android12
sdk=33
android_abi=arm64-v8a
model=Pixel 6
uid=2000
cpus=8
max_map_count=65530
pagesize=
probe=done
"""


def test_linux_facts():
    f = parse_facts(LINUX)
    assert (f.abi, f.android, f.root, f.cpus, f.max_map_count, f.page_size) == ("x86_64", False, True, 2, 65530, 4096)
    assert f.mem_available_kb == 20000000 and f.kernel_release == "6.12.0-test"
    assert f.kernel_config == {"ANON_VMA_NAME": "y", "PERF_EVENTS": "n"} and f.has_anon_vma_name is True


def test_android_facts():
    f = parse_facts(ANDROID)
    assert (f.abi, f.android, f.android_sdk, f.model, f.root) == ("aarch64", True, 33, "Pixel 6", False)
    assert f.page_size is None and f.has_anon_vma_name is None


def test_unknown_machine_has_no_abi_and_32bit_arm_maps():
    assert parse_facts("machine=mips\nprobe=done").abi is None
    assert parse_facts("machine=armv8l\n").abi == "armv7"
