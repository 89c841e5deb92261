"""LAVA job and test definition generation, checked with LAVA's own validator (lava-common).

The validator runs in the system python (/usr/bin/python3), where Debian's lava-common is
installed; these tests skip, saying so, only when that package is missing.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from devbench.config import load_config
from devbench.errors import ConfigError
from devbench.lava import lava_job
from devbench.lava.job import build_job
from devbench.lava.options import load_options, options_from_mapping
from devbench.lava.testdef import HEREDOC_END, MAIN_SCRIPT, WORKDIR_FILE, device_scripts
from devbench.lava.validate import ValidatorMissing, validate_job, validate_testdef, validator_version
from devbench.run.plan import plan

ROOT = Path(__file__).resolve().parents[3]

CONFIG = """\
run: {name: lava smoke}
targets: [{name: here, local: {}}]
device: {max_map_count: auto, pin: [0, 1]}
benchmark:
  vmas: 4096
  forks: 40
  warmup: 2
  batches: 4
  timeout_s: 600
  scenarios:
    - {name: unpopulated, pages: 0}
    - {name: 1 page, pages: 1}
    - {name: 10 pages, pages: 10}
"""

SHA = "7118610c46823944eed3b034e2132f2cf014d091fbbe31a39a95d205072238cc"
QEMU = {
    "device_type": "qemu",
    "target": "qemu-amd64",
    "payload": {"url": "https://files.example.org/devbench/forkbench-x86_64", "sha256": SHA},
    "qemu": {"arch": "amd64", "rootfs_url": "https://images.example.org/debian-amd64.img.gz",
             "rootfs_compression": "gz", "kernel_url": "https://images.example.org/bzImage",
             "append": "mitigations=off", "memory_mb": 2048, "cpus": 2},
}
# a board: LAVA's own deploy and boot actions, passed through as the user wrote them
BOARD = """\
device_type: bcm2711-rpi-4-b
target: rpi4
payload: {path: /usr/local/bin/forkbench}
tags: [devbench]
deploy:
  to: tftp
  kernel: {url: "https://images.example.org/Image", type: image}
  dtb: {url: "https://images.example.org/bcm2711-rpi-4-b.dtb"}
  nfsrootfs: {url: "https://images.example.org/rootfs.tar.xz", compression: xz}
  os: debian
boot:
  method: u-boot
  commands: nfs
  prompts: ["root@rpi4:~#"]
  auto_login: {login_prompt: "login:", username: root}
"""


@pytest.fixture(scope="module")
def lava_validator():
    try:
        return validator_version()
    except ValidatorMissing as exc:
        pytest.skip(f"LAVA's validator is not available: {exc}")


@pytest.fixture
def cfg_path(tmp_path):
    p = tmp_path / "lava.yaml"
    p.write_text(CONFIG)
    return p


def scenario_steps(testdef):
    return [s for s in testdef["run"]["steps"] if s.startswith(f"sh ./{MAIN_SCRIPT} scenario ")]


def start_step(testdef):
    return next(s for s in testdef["run"]["steps"] if s.startswith(f"sh ./{MAIN_SCRIPT} start "))


def test_qemu_job_passes_lavas_validator(cfg_path, lava_validator):
    job_yaml, testdef_yaml = lava_job(cfg_path, QEMU)
    assert validate_job(job_yaml) == []
    assert validate_testdef(testdef_yaml) == []
    job = yaml.safe_load(job_yaml)
    assert job["device_type"] == "qemu" and job["visibility"] == "public"
    assert [next(iter(a)) for a in job["actions"]] == ["deploy", "boot", "test"]
    images = job["actions"][0]["deploy"]["images"]
    assert images["kernel"]["image_arg"] == '-kernel {kernel} -append "console=ttyS0 root=/dev/vda rw mitigations=off"'
    assert images["rootfs"]["compression"] == "gz"
    assert job["context"] == {"arch": "amd64", "netdevice": "user", "memory": 2048, "extra_options": ["-smp", "2"]}
    definition = job["actions"][2]["test"]["definitions"][0]
    assert definition["from"] == "inline" and definition["name"] == "devbench"
    assert definition["repository"] == yaml.safe_load(testdef_yaml)  # the same test definition, inline


def test_board_job_passes_deploy_and_boot_through(cfg_path, lava_validator, tmp_path):
    opts_file = tmp_path / "board.yaml"
    opts_file.write_text(BOARD)
    job_yaml, testdef_yaml = lava_job(cfg_path, load_options(opts_file))
    assert validate_job(job_yaml) == []
    job = yaml.safe_load(job_yaml)
    deploy, boot = job["actions"][0]["deploy"], job["actions"][1]["boot"]
    assert (
        deploy["to"] == "tftp" and deploy["nfsrootfs"]["compression"] == "xz" and deploy["timeout"] == {"minutes": 15}
    )
    assert boot["method"] == "u-boot" and boot["prompts"] == ["root@rpi4:~#"]
    assert job["tags"] == ["devbench"] and "context" not in job
    testdef = yaml.safe_load(testdef_yaml)
    assert "install" not in testdef  # the payload is already on the board: nothing to fetch
    assert " /usr/local/bin/forkbench " in scenario_steps(testdef)[0]


def test_test_definition_from_git_passes_the_validator(cfg_path, lava_validator):
    opts = {
        **QEMU,
        "testdef": {
            "repository": "https://git.example.org/lab/tests.git",
            "path": "devbench/forkbench.yaml",
            "branch": "main",
        },
    }
    job_yaml, testdef_yaml = lava_job(cfg_path, opts)
    assert validate_job(job_yaml) == [] and validate_testdef(testdef_yaml) == []
    definition = yaml.safe_load(job_yaml)["actions"][2]["test"]["definitions"][0]
    assert definition == {"repository": "https://git.example.org/lab/tests.git", "from": "git",
                          "path": "devbench/forkbench.yaml", "name": "devbench", "branch": "main"}


def test_the_validator_really_checks(cfg_path, lava_validator):
    job = yaml.safe_load(lava_job(cfg_path, QEMU)[0])
    del job["visibility"]
    assert any("visibility" in e for e in validate_job(yaml.safe_dump(job)))
    job = yaml.safe_load(lava_job(cfg_path, QEMU)[0])
    job["timeouts"]["job"] = {"minutes": 1}
    assert any("larger than job timeout" in e for e in validate_job(yaml.safe_dump(job)))
    job = yaml.safe_load(lava_job(cfg_path, QEMU)[0])
    job["actions"][2]["test"]["definitions"][0]["repository"]["run"]["stepz"] = []
    assert any("stepz" in e for e in validate_job(yaml.safe_dump(job)))


def test_one_run_step_per_payload_invocation_of_the_plan(cfg_path):
    cfg = load_config(cfg_path)
    testdef = build_job(cfg, options_from_mapping(QEMU)).testdef
    steps = scenario_steps(testdef)
    invocations = plan(cfg.benchmark)
    assert len(steps) == len(invocations) == 3
    payload = f"forkbench-{SHA[:12]}"  # in the private work folder the install steps made
    for i, (step, inv) in enumerate(zip(steps, invocations, strict=False)):
        argv = shlex.split(step)
        assert argv[:11] == ["sh", f"./{MAIN_SCRIPT}", "scenario", "/tmp/devbench", payload, str(i),
                             inv.scenario.name.replace(" ", "_"), "both", "40", "600", "0,1"]
        assert argv[11] == SHA  # checked again right before each execution
        assert argv[12] == "--" and tuple(argv[13:]) == inv.args
    run = testdef["run"]["steps"]
    assert shlex.split(run[-1]) == ["sh", f"./{MAIN_SCRIPT}", "finish", "/tmp/devbench", "/proc", "/sys"]
    start = shlex.split(start_step(testdef))
    assert start[3:8] == ["/tmp/devbench", payload, "5120", "/sys", "/proc"]  # 4096 VMAs + 1024
    record = json.loads(start[8])  # the run record survives the shell quoting whole
    assert record["target"] == "qemu-amd64" and record["run_name"] == "lava smoke"
    assert [(i["scenario"], i["case"], i["arm"]) for i in record["invocations"]] == [
        ("unpopulated", "unpopulated", "both"), ("1 page", "1_page", "both"), ("10 pages", "10_pages", "both")]
    assert record["config"]["benchmark"]["vmas"] == 4096 and "targets" not in record["config"]


def test_the_device_scripts_are_written_whole_by_the_run_steps(cfg_path):
    testdef = build_job(load_config(cfg_path), options_from_mapping(QEMU)).testdef
    written = {}
    for step in testdef["run"]["steps"]:
        head, _, body = step.partition("\n")
        if head.startswith("cat > "):
            name = head.split()[2]
            assert head.endswith(f"<<'{HEREDOC_END}'") and body.endswith(f"\n{HEREDOC_END}")
            written[name] = body[: -len(HEREDOC_END)]
    assert written == device_scripts()


def test_no_step_is_rewritten_by_lava(cfg_path):
    # lava_dispatcher's TestRunnerAction escapes $1, $2... in run steps that contain --cmd or --shell
    testdef = build_job(load_config(cfg_path), options_from_mapping(QEMU)).testdef
    assert not [s for s in testdef["run"]["steps"] + testdef["install"]["steps"] if "--cmd" in s or "--shell" in s]


def test_install_steps_fetch_and_check_the_payload(cfg_path):
    testdef = build_job(load_config(cfg_path), options_from_mapping(QEMU)).testdef
    steps = testdef["install"]["steps"]
    assert steps[0] == "set -e"  # LAVA runs install.sh without -e
    assert any("wget -O" in s and "curl -fsSL" in s and QEMU["payload"]["url"] in s for s in steps)
    assert any(s.startswith("sha256sum -c ") for s in steps) and SHA in " ".join(steps)
    # a fresh private folder, recorded in the test's own folder for the run steps; nothing fixed in /tmp
    assert steps[1] == "d=$(mktemp -d /tmp/devbench.XXXXXX)" and steps[2] == f"printf '%s\\n' \"$d\" > {WORKDIR_FILE}"
    assert not any("mkdir" in s for s in steps)
    assert all('"$d"/' in s for s in steps[3:]) and not any("/tmp/devbench/" in s for s in steps)


def test_separate_mode_runs_one_step_per_arm_and_batch_in_abba_order(tmp_path):
    p = tmp_path / "separate.yaml"
    p.write_text(CONFIG.replace("timeout_s: 600", "timeout_s: 600\n  mode: separate"))
    steps = scenario_steps(build_job(load_config(p), options_from_mapping(QEMU)).testdef)
    abba, baab = ["named", "unnamed", "unnamed", "named"] * 2, ["unnamed", "named", "named", "unnamed"] * 2
    # 4 batches, 3 scenarios: their first arm alternates
    assert [shlex.split(s)[7] for s in steps] == abba + baab + abba
    assert [shlex.split(s)[5] for s in steps] == [str(i) for i in range(24)]


def test_timeouts_cover_every_invocation(cfg_path):
    job = build_job(load_config(cfg_path), options_from_mapping(QEMU)).job
    assert job["actions"][2]["test"]["timeout"] == {"minutes": 3 * 10 + 10}  # 3 x 600 s, plus 10 min
    assert job["timeouts"]["job"] == {"minutes": 15 + 10 + 40 + 5}


def test_what_a_lava_job_does_on_the_device_and_what_it_says(tmp_path):
    p = tmp_path / "cpufreq.yaml"
    p.write_text(
        CONFIG.replace(
            "device: {max_map_count: auto, pin: [0, 1]}",
            "device: {cpufreq: {governor: performance, khz: 0.8, cpus: [2, 3]}, stop_framework: true}",
        )
    )
    opts = {**QEMU, "payload": {"url": QEMU["payload"]["url"]}}
    lj = build_job(load_config(p), options_from_mapping(opts))
    text = lj.job_yaml()
    assert (
        "# warning: clocks not locked" not in text
        and "# warning: the payload is fetched without a sha256 check" in text
    )
    start = shlex.split(start_step(lj.testdef))
    assert start[9:] == ["performance/0.8/2,3", "1"]  # the device script locks cpufreq and stops the framework
    record = json.loads(start[8])
    assert not any(w.startswith(("framework still running", "clocks not locked")) for w in record["warnings"])
    assert " - -- " in scenario_steps(lj.testdef)[0]  # no pinning
    plain = tmp_path / "plain.yaml"
    plain.write_text(CONFIG.replace("device: {max_map_count: auto, pin: [0, 1]}", "device: {max_map_count: auto}"))
    lj = build_job(load_config(plain), options_from_mapping(opts))
    assert shlex.split(start_step(lj.testdef))[9:] == ["-", "0"]
    assert "# warning: clocks not locked: device.cpufreq is not set" in lj.job_yaml()


def test_root_never_leaves_the_map_count_alone(tmp_path):
    p = tmp_path / "never.yaml"
    p.write_text(CONFIG.replace("device: {max_map_count: auto, pin: [0, 1]}", "device: {root: never}"))
    testdef = build_job(load_config(p), options_from_mapping(QEMU)).testdef
    assert shlex.split(start_step(testdef))[5] == "0"


def test_scenarios_that_give_the_same_case_name_are_refused(tmp_path):
    p = tmp_path / "clash.yaml"
    p.write_text(CONFIG.replace("{name: 10 pages, pages: 10}", "{name: 1_page, pages: 10}"))
    with pytest.raises(ConfigError, match="same LAVA test case name '1_page'"):
        build_job(load_config(p), options_from_mapping(QEMU))


@pytest.mark.parametrize(
    "text,needle",
    [
        (
            "device_type: qemu\npayload: {url: 'https://x.example/f'}\nqemu: {arch: amd64, rootfs_url: "
            "'https://x.example/r'}\nqemu_extra: 1\n",
            "lava-opts.yaml:4:1: qemu_extra: unknown key",
        ),
        ("device_type: qemu\nqemu: {arch: amd64, rootfs_url: 'https://x.example/r'}\n", "payload: is required"),
        (
            "device_type: qemu\npayload: {url: 'https://x.example/f', path: /x}\nqemu: {arch: amd64, rootfs_url: 'https://x.example/r'}\n",
            "needs exactly one of url:",
        ),
        (
            "device_type: qemu\npayload: {url: \"https://x.example/f;rm -rf /\"}\nqemu: {arch: amd64, rootfs_url: 'https://x.example/r'}\n",
            "payload.url: must be an http(s) URL",
        ),
        ("device_type: qemu\npayload: {path: /x}\n", "needs qemu: (a QEMU device) or both deploy: and boot:"),
        (
            "device_type: b\npayload: {path: /x}\nqemu: {arch: amd64, rootfs_url: 'https://x.example/r'}\nboot: "
            "{method: qemu}\n",
            "either qemu: or deploy: and boot:",
        ),
        (
            "device_type: qemu\npayload: {path: /x, sha256: abc}\nqemu: {arch: amd64, rootfs_url: 'https://x.example/r'}\n",
            "payload.sha256: must be 64 hex digits",
        ),
        (
            "device_type: qemu\npayload: {path: /x}\nqemu: {arch: amd64, rootfs_url: 'https://x.example/r', "
            "append: 'a\"b'}\n",
            "qemu.append: must be kernel arguments",
        ),
        (
            "device_type: qemu\npayload: {path: /x}\nworkdir: /tmp/a b\nqemu: {arch: amd64, rootfs_url: 'https://x.example/r'}\n",
            "workdir: must be an absolute path",
        ),
    ],
)
def test_bad_options_name_file_line_and_field(tmp_path, text, needle):
    p = tmp_path / "lava-opts.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_options(p)
    assert needle in str(info.value) and str(p) in str(info.value)


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_gives_a_valid_lava_job(config, lava_validator):
    job_yaml, testdef_yaml = lava_job(ROOT / "configs" / config, QEMU)
    assert validate_job(job_yaml) == [] and validate_testdef(testdef_yaml) == []
