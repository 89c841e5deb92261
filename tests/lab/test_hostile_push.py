"""adb push on the real lab adbd (issue 24, item 7): the payload goes to a fresh unpredictable
name beside its final one, gets its mode there, and is renamed over the final name. A link
planted at the final name is replaced, never written through or chmod'ed through; a folder
there is refused in one line; no temporary file is left either way."""

from __future__ import annotations

import pytest

from devbench.errors import TargetError

pytestmark = pytest.mark.lab

SCRATCH = "/tmp/dvb-hostile-push"


@pytest.fixture
def scratch(adb_target):
    res = adb_target.run(["sh", "-c", 'rm -rf "$1"; mkdir -p "$1/work" && echo canary > "$1/canary" && '
                          'chmod 600 "$1/canary"', "sh", SCRATCH], timeout=30)
    assert res.ok, res.stderr
    yield f"{SCRATCH}/work"
    adb_target.run(["rm", "-rf", SCRATCH], timeout=30)


def state(adb_target, *paths):
    res = adb_target.run(["sh", "-c", 'for p; do if [ -L "$p" ]; then echo "$p link"; elif [ -e "$p" ]; then '
                          'echo "$p $(stat -c %a "$p") $(cat "$p" 2>/dev/null | head -c 40)"; else echo "$p none"; fi; '
                          'done', "sh", *paths], timeout=30)
    assert res.ok, res.stderr
    return res.stdout.splitlines()


def leftovers(adb_target, folder):
    return adb_target.run(["sh", "-c", 'ls -A "$1" | grep "\\.part$" || true', "sh", folder], timeout=30).stdout.split()


def test_a_link_at_the_final_name_is_replaced_not_followed(adb_target, scratch, tmp_path):
    local = tmp_path / "payload"
    local.write_text("the payload\n")
    final = f"{scratch}/forkbench"
    assert adb_target.run(["ln", "-s", f"{SCRATCH}/canary", final], timeout=30).ok
    adb_target.push(local, final, 0o700)
    assert state(adb_target, f"{SCRATCH}/canary", final) == [f"{SCRATCH}/canary 600 canary", f"{final} 700 the payload"]
    assert leftovers(adb_target, scratch) == []


def test_a_folder_at_the_final_name_is_refused_in_one_line(adb_target, scratch, tmp_path):
    local = tmp_path / "payload"
    local.write_text("the payload\n")
    final = f"{scratch}/forkbench"
    assert adb_target.run(["mkdir", final], timeout=30).ok
    with pytest.raises(TargetError) as err:
        adb_target.push(local, final, 0o755)
    assert err.value.step == "push" and "\n" not in str(err.value) and final in str(err.value)
    assert leftovers(adb_target, scratch) == []
    assert adb_target.run(["sh", "-c", 'ls -A "$1"', "sh", final], timeout=30).stdout.split() == []
