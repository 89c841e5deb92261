"""A QEMU target's kernels: to compare (devbench.kernel.choice): what each entry means, and a
bad one as one line naming file, line, column and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbench.config import load_config
from devbench.errors import ConfigError
from devbench.kernel.choice import KernelChoice, kernel_record_name


def _write(tmp_path: Path, qemu: str, more: str = "", bench: str = "") -> Path:
    p = tmp_path / "cfg" / "run.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"""\
targets:
  - name: kut
    qemu: {{arch: x86_64, clock: icount, {qemu}}}
{more}benchmark:
{bench}  scenarios:
    - {{name: unpopulated, pages: 0}}
""")
    return p


def test_kernels_name_each_kernel_and_say_what_it_boots(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mine.patch").write_text("diff\n")
    o = load_config(_write(tmp_path, "kernels: [{name: refcount}, {name: strdup, patches: [anon-name-strdup.patch, "
                                     "./mine.patch]}, stock, {name: img, kernel: /boot/bzImage}], boots: 4")
                    ).targets[0].options
    assert [(k.name, k.kernel) for k in o.kernels] == [("refcount", "feature"), ("strdup", "feature"),
                                                       ("stock", "stock"), ("img", "/boot/bzImage")]
    assert o.kernels[0] == KernelChoice("refcount") and o.boots == 4
    v = o.kernels[1].variant
    assert v.name == "strdup" and [p.ref for p in v.patches] == ["anon-name-strdup.patch", "./mine.patch"]
    assert v.patches[1].path == tmp_path / "cfg" / "mine.patch"
    # the default: two boots each; the same kernel twice is an A/A comparison
    o = load_config(_write(tmp_path, "kernels: [{name: a}, {name: b}]")).targets[0].options
    assert o.boots == 2 and [k.kernel for k in o.kernels] == ["feature", "feature"]
    assert kernel_record_name("kut", "strdup") == "kut-strdup"


@pytest.mark.parametrize("qemu, field, words", [
    ("kernels: [{name: refcount}]", "targets[0].qemu.kernels", "two or more kernels"),
    ("kernels: {name: refcount}", "targets[0].qemu.kernels", "two or more kernels"),
    ("kernels: [{name: a}, {name: a}]", "targets[0].qemu.kernels[1].name", "duplicate kernel name 'a'"),
    ("kernels: [{name: a}, {kernel: stock}]", "targets[0].qemu.kernels[1].name", "is required"),
    ("kernels: [{name: a}, {name: 'b c'}]", "targets[0].qemu.kernels[1].name", "letters, digits"),
    ("kernels: [{name: a}, {name: b, patches: [anon-name-strdp.patch]}]", "targets[0].qemu.kernels[1].patches[0]",
     "did you mean 'anon-name-strdup.patch'"),
    ("kernels: [{name: a}, {name: b, patches: []}]", "targets[0].qemu.kernels[1].patches", "non-empty list"),
    ("kernels: [{name: a}, {name: b, kernel: stock, patches: [anon-name-strdup.patch]}]",
     "targets[0].qemu.kernels[1].kernel", "feature kernel"),
    ("kernels: [{name: a}, {name: b, pathces: [anon-name-strdup.patch]}]", "targets[0].qemu.kernels[1].pathces",
     "did you mean 'patches'"),
    ("kernels: [{name: a}, strdup]", "targets[0].qemu.kernels[1]", "a kernel to compare"),
    ("kernels: [{name: a}, {name: b}], kernel: feature", "targets[0].qemu.kernel", "leave kernel: out"),
    ("kernels: [{name: a}, {name: b}], boots: 1", "targets[0].qemu.boots", "2..100"),
    ("kernel: feature, boots: 2", "targets[0].qemu.boots", "is for kernels:"),
])
def test_a_bad_kernels_entry_is_one_line_naming_file_line_and_field(tmp_path, qemu, field, words):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, qemu))
    e = info.value
    assert e.field == field and words in e.message, str(e)
    assert e.file.endswith("run.yaml") and e.line == 3 and e.column is not None and "\n" not in str(e)


def test_a_kernel_reported_under_another_targets_name_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "kernels: [{name: a}, {name: b}]", "  - {name: kut-b, local: {}}\n"))
    e = info.value
    assert e.field == "targets[0].qemu.kernels[1]" and "'kut-b', which names another target" in e.message, str(e)


def test_forks_auto_cannot_go_with_kernels(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "kernels: [{name: a}, {name: b}]", bench="  forks: auto\n"))
    e = info.value
    assert e.field == "benchmark.forks" and "kernels" in e.message and e.line == 5, str(e)
