"""The `labgrid:` target kind of the config."""

import pytest

from devbench.config import LabgridOptions, parse_text
from devbench.errors import ConfigError

CONFIG = """\
targets:
  - name: rack
    labgrid: {place: rpi4-07, coordinator: "127.0.0.1:20408", key: ~/.ssh/lab, known_hosts: ~/.ssh/lab_known_hosts, workdir: /tmp/devbench}
benchmark:
  scenarios:
    - {name: unpopulated, pages: 0}
"""  # noqa: E501 (data, kept as it is)


def err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_text(text, "cfg.yaml")
    return info.value


def test_labgrid_target_is_parsed():
    [t] = parse_text(CONFIG).targets
    assert t.kind == "labgrid"
    assert t.options == LabgridOptions(place="rpi4-07", coordinator="127.0.0.1:20408", key="~/.ssh/lab",
                                       known_hosts="~/.ssh/lab_known_hosts", workdir="/tmp/devbench")


def test_defaults_leave_the_coordinator_to_labgrid():
    [t] = parse_text(CONFIG.replace('{place: rpi4-07, coordinator: "127.0.0.1:20408", key: ~/.ssh/lab, '
                                    'known_hosts: ~/.ssh/lab_known_hosts, workdir: /tmp/devbench}',
                                    "{place: rpi4-07}")).targets
    assert t.options == LabgridOptions(place="rpi4-07")
    assert t.options.coordinator is None and t.options.known_hosts == "~/.ssh/known_hosts"


@pytest.mark.parametrize(
    "old, new, field, words",
    [
        ("place: rpi4-07, ", "", "targets[0].labgrid.place", "required"),
        ("place: rpi4-07", "place: 'a/b'", "targets[0].labgrid.place", "labgrid name"),
        (
            'coordinator: "127.0.0.1:20408"',
            'coordinator: "ws://127.0.0.1:20408/ws"',
            "targets[0].labgrid.coordinator",
            "host:port",
        ),
        ("workdir: /tmp/devbench", "workdir: tmp", "targets[0].labgrid.workdir", "absolute path"),
        (
            "key: ~/.ssh/lab,",
            "key: ~/.ssh/lab, password: hunter2,",
            "targets[0].labgrid.password",
            "secrets are not taken",
        ),
        ("key: ~/.ssh/lab,", "key: ~/.ssh/lab, plcae: x,", "targets[0].labgrid.plcae", "did you mean 'place'"),
    ],
)
def test_bad_labgrid_options_name_the_field(old, new, field, words):
    e = err(CONFIG.replace(old, new))
    assert e.field == field and words in str(e) and e.line == 3, str(e)
    assert "hunter2" not in str(e)


def test_a_target_cannot_be_labgrid_and_ssh():
    e = err(CONFIG.replace("    labgrid:", "    ssh: {host: 192.0.2.1}\n    labgrid:"))
    assert e.field == "targets[0].name" and "labgrid:" in e.message
