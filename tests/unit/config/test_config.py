import pytest

from devbench.config import parse_text, with_overrides
from devbench.errors import ConfigError

SEED = """\
run: {name: anon-vma-fork, output: results}
targets:
  - {name: phone, adb: {serial: "R58M123ABC"}}
  - {name: board, ssh: {host: 192.0.2.10, port: 22, user: root, key: ~/.ssh/id_ed25519, known_hosts: ~/.ssh/known_hosts}}
  - {name: here, local: {}}
device: {stop_framework: true, cpufreq: {governor: performance, khz: 2400000}, max_map_count: 262144}
benchmark:
  vmas: 65536
  name_length: 79
  forks: 1000        # timed forks per arm and scenario, split evenly over the batches
  warmup: 10
  batches: 10
  scenarios:
    - {name: unpopulated, pages: 0}
    - {name: 1 page, pages: 1}
    - {name: 10 pages, pages: 10}
"""  # noqa: E501 (data, kept as it is)


def err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_text(text, "cfg.yaml")
    return info.value


def test_seed_shape_parses_as_written():
    cfg = parse_text(SEED, "seed.yaml")
    assert [t.kind for t in cfg.targets] == ["adb", "ssh", "local"]
    assert cfg.targets[0].options.serial == "R58M123ABC"
    assert cfg.targets[1].options.host == "192.0.2.10" and cfg.targets[1].options.port == 22
    assert cfg.device.cpufreq.khz == 2400000 and cfg.device.max_map_count == 262144
    assert [(s.name, s.pages) for s in cfg.benchmark.scenarios] == [("unpopulated", 0), ("1 page", 1), ("10 pages", 10)]
    assert cfg.benchmark.forks == 1000 and cfg.benchmark.batches == 10 and cfg.benchmark.mode == "interleaved"


def test_typo_key_names_line_column_and_field_with_suggestion():
    e = err(SEED.replace("  forks: 1000", "  forkz: 1000"))
    assert (e.file, e.line, e.column, e.field) == ("cfg.yaml", 10, 3, "benchmark.forkz")
    assert "did you mean 'forks'" in str(e)
    assert str(e).startswith("cfg.yaml:10:3: benchmark.forkz:")


def test_wrong_type_names_the_value_position():
    e = err(SEED.replace("vmas: 65536", "vmas: many"))
    assert (e.line, e.column, e.field) == (8, 9, "benchmark.vmas")
    assert "integer" in e.message


def test_name_length_80_is_refused():
    e = err(SEED.replace("name_length: 79", "name_length: 80"))
    assert e.field == "benchmark.name_length" and e.line == 9 and "1..79" in e.message


def test_bool_is_not_an_integer():
    assert err(SEED.replace("warmup: 10", "warmup: true")).field == "benchmark.warmup"


def test_nested_typo_in_a_target():
    e = err(SEED.replace("port: 22,", "prot: 22,"))
    assert e.field == "targets[1].ssh.prot" and e.line == 4 and "did you mean 'port'" in str(e)


def test_target_needs_exactly_one_transport():
    e = err(SEED.replace("{name: here, local: {}}", "{name: here}"))
    assert e.field == "targets[2].name" and "exactly one of" in e.message
    e = err(SEED.replace("{name: here, local: {}}", "{name: here, lcoal: {}}"))
    assert e.field == "targets[2].lcoal" and "local" in str(e)


def test_duplicates_refused():
    assert "duplicate target" in err(SEED.replace("name: board", "name: phone")).message
    assert "duplicate scenario" in err(SEED.replace("name: 1 page", "name: unpopulated")).message
    assert err("benchmark: {vmas: 1}\nbenchmark: {vmas: 2}\n").message == "duplicate key"


def test_batches_cannot_exceed_forks():
    assert err(SEED.replace("batches: 10", "batches: 2000")).field == "benchmark.batches"


def test_secrets_are_refused_in_configs():
    e = err(SEED.replace("user: root,", "user: root, password: hunter2,"))
    assert e.field == "targets[1].ssh.password" and "hunter2" not in str(e)


def test_device_workdir_must_be_a_plain_absolute_path():
    e = err(SEED.replace('serial: "R58M123ABC"', 'serial: "X", workdir: "/data/$(reboot)"'))
    assert e.field == "targets[0].adb.workdir"
    e = err(SEED.replace('serial: "R58M123ABC"', 'serial: "X", workdir: "/data/../../etc"'))
    assert e.field == "targets[0].adb.workdir"


def test_invalid_yaml_reports_position():
    e = err("run: {name: x\nbenchmark: [")
    assert e.line is not None and "not valid YAML" in e.message


def test_unsafe_tags_are_not_constructed():
    e = err("benchmark: !!python/object/apply:os.system ['true']\n")
    assert e.field == "benchmark" and "unsupported YAML tag" in e.message
    e = err("run: {name: !!python/name:os.system x}\n")
    assert e.field == "run.name" and "bad value" in e.message


def test_target_selection_and_output_override():
    cfg = with_overrides(parse_text(SEED, "s.yaml"), targets=["here"], output="/tmp/x")
    assert [t.name for t in cfg.targets] == ["here"] and cfg.run.output == "/tmp/x"
    with pytest.raises(ConfigError) as info:
        with_overrides(parse_text(SEED, "s.yaml"), targets=["nope"])
    assert "no target named 'nope'" in str(info.value)


def test_qemu_target_shape_and_defaults():
    text = SEED.replace(
        "{name: here, local: {}}",
        "{name: kut-arm64, qemu: {arch: arm64, kernel: ~/linux/arch/arm64/boot/Image, memory_mb: 4096, cpus: 2}}",
    )
    q = parse_text(text, "q.yaml").target("kut-arm64")
    assert q.kind == "qemu" and q.options.arch == "arm64" and q.options.kernel.endswith("Image")
    assert (q.options.accel, q.options.retries, q.options.server_port) == ("auto", 2, None)
    e = err(SEED.replace("{name: here, local: {}}", "{name: k, qemu: {arch: mips}}"))
    assert e.field == "targets[2].qemu.arch"
    e = err(SEED.replace("{name: here, local: {}}", "{name: k, qemu: {arch: x86_64, append: 'init=/bin/sh; reboot'}}"))
    assert e.field == "targets[2].qemu.append"
    assert q.options.clock == "real"
    icount = SEED.replace("{name: here, local: {}}", "{name: k, qemu: {arch: x86_64, clock: icount}}")
    assert parse_text(icount, "q.yaml").target("k").options.clock == "icount"
    e = err(SEED.replace("{name: here, local: {}}", "{name: k, qemu: {arch: x86_64, clock: icount, accel: kvm}}"))
    assert e.field == "targets[2].qemu.clock" and "TCG" in e.message
    e = err(SEED.replace("{name: here, local: {}}", "{name: k, qemu: {arch: x86_64, clock: wall}}"))
    assert e.field == "targets[2].qemu.clock"


def test_adb_server_port_follows_the_environment_like_adb(monkeypatch):
    from devbench.config import AdbOptions

    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "5099")
    assert AdbOptions(serial="x").resolved_server_port() == 5099
    assert AdbOptions(serial="x", server_port=6000).resolved_server_port() == 6000
    monkeypatch.delenv("ANDROID_ADB_SERVER_PORT")
    assert AdbOptions(serial="x").resolved_server_port() == 5037


def test_device_section_parses_and_names_bad_fields():
    import pytest

    from devbench.config import parse_text
    from devbench.errors import ConfigError

    base = "targets: [{name: a, local: {}}]\nbenchmark: {scenarios: [{name: s, pages: 0}]}\n"
    cfg = parse_text(
        base
        + "device: {root: require, pin: [5, 4, 4], cpufreq: {governor: userspace, khz: 0.5, cpus: [4]}, sysfs: "
          "/x/sys/}\n"
    )
    d = cfg.device
    assert (d.root, d.pin, d.cpufreq.governor, d.cpufreq.khz, d.cpufreq.cpus, d.sysfs, d.procfs) == (
        "require", (4, 5), "userspace", 0.5, (4,), "/x/sys", "/proc")
    for bad, field in [
        ("{cpufreq: {khz: 1.5}}", "khz"),
        ("{cpufreq: {governor: 'a b'}}", "governor"),
        ("{pin: []}", "pin"),
        ("{pin: [-1]}", "pin"),
        ("{sysfs: /etc}", "sysfs"),
        ("{root: maybe}", "root"),
        ("{procfs: relative/proc}", "procfs"),
        ("{battery_min_pct: 101}", "battery_min_pct"),
    ]:
        with pytest.raises(ConfigError) as err:
            parse_text(base + f"device: {bad}\n", "c.yaml")
        assert str(err.value).startswith("c.yaml:3:") and f"{field}:" in str(err.value), str(err.value)


def test_build_defines_take_only_the_payloads_test_hooks():
    cfg = parse_text(
        SEED + "build: {defines: [FORKBENCH_TEST_KEEP_NAMES, FORKBENCH_TEST_EXTRA_NAMED, FORKBENCH_TEST_KEEP_NAMES]}\n",
        "c.yaml",
    )
    assert cfg.build.defines == ("FORKBENCH_TEST_EXTRA_NAMED", "FORKBENCH_TEST_KEEP_NAMES")
    assert parse_text(SEED, "c.yaml").build.defines == ()
    for bad in ("[NDEBUG]", "['FORKBENCH_TEST_KEEP_NAMES -o/tmp/x']", "[-O0]"):
        with pytest.raises(ConfigError) as info:
            parse_text(SEED + f"build:\n  compiler: zig\n  defines: {bad}\n", "c.yaml")
        assert str(info.value).startswith("c.yaml:") and "build.defines[0]" in str(info.value), str(info.value)
        assert "is not one of the payload's test builds" in str(info.value)
    with pytest.raises(ConfigError, match="build.defines: must be a list of strings"):
        parse_text(SEED + "build: {defines: FORKBENCH_TEST_KEEP_NAMES}\n", "c.yaml")
