"""The lab LAVA's start-up decisions (devlab.lava.instance), with its commands as stand-ins.

The real thing is proven by tests/lava (a real instance) and tests/fresh (the instance coming up
in a clean root, where lava-server's postinst skipped the database).
"""

from __future__ import annotations

import pytest

from devbench.guest.errors import LabError
from devlab.lava import instance

SETTINGS = {"ENGINE": "django.db.backends.postgresql", "NAME": "lavaserver", "USER": "lavaserver", "PASSWORD": "pw"}


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """Every command the database step runs; the postinst writes the settings it is asked to."""
    log: list[tuple] = []
    state = {"settings": None, "role": False, "postinst_writes": True}
    (tmp_path / "logs").mkdir()

    def run(cmd, step, timeout=120, log_=None, **kw):
        log.append(tuple(cmd))
        if cmd[1:2] == [instance.POSTINST] and state["postinst_writes"]:
            state["settings"] = dict(SETTINGS)
            state["role"] = True

        class Done:
            stdout = ""
        return Done()

    monkeypatch.setattr(instance, "_run", run)
    monkeypatch.setattr(instance, "_psql", lambda sql: "1" if state["role"] else "")
    monkeypatch.setattr(instance, "_database_settings", lambda: state["settings"])
    monkeypatch.setattr(instance, "_set_role_password", lambda user, pw: log.append(("ALTER ROLE", user, pw)))
    return log, state, tmp_path


def test_a_new_machine_gets_settings_role_and_database_as_dpkg_would(calls):
    """lava-server installed while PostgreSQL was down: no DATABASES, no role (the KeyError case)."""
    log, state, st = calls
    instance._database(st, lambda s: None)
    assert log[0] == ("/usr/bin/python3", instance.POSTINST, "--config", "--db", "--fixup")  # not --db alone
    assert log[-1][:3] == ("lava-server", "manage", "migrate")
    assert not [c for c in log if c[0] == "ALTER ROLE"]


def test_a_role_whose_settings_were_lost_gets_the_new_password(calls):
    log, state, st = calls
    state["role"] = True
    instance._database(st, lambda s: None)
    assert log[0][1] == instance.POSTINST
    assert ("ALTER ROLE", "lavaserver", "pw") in log


def test_a_set_up_instance_only_migrates(calls):
    log, state, st = calls
    state.update(settings=dict(SETTINGS), role=True)
    instance._database(st, lambda s: None)
    assert [c[:3] for c in log] == [("lava-server", "manage", "migrate")]


def test_a_postinst_that_writes_no_settings_is_an_error(calls):
    log, state, st = calls
    state["postinst_writes"] = False
    with pytest.raises(LabError, match="wrote no DATABASES settings"):
        instance._database(st, lambda s: None)


def test_a_start_that_fails_half_way_ends_what_it_started(monkeypatch, tmp_path):
    """PostgreSQL started, then the database step fails: down() runs before the error goes up."""
    events: list[str] = []
    monkeypatch.setattr(instance, "_check_packages", lambda: None)
    monkeypatch.setattr(instance, "_postgres_up", lambda st, say: events.append("postgres up"))

    def fail(st, say):
        raise LabError("database", "postinst failed")
    monkeypatch.setattr(instance, "_database", fail)
    monkeypatch.setattr(instance, "down", lambda st=None, say=None: events.append("down"))
    with pytest.raises(LabError, match="postinst failed"):
        instance.up(state=tmp_path)
    assert events == ["postgres up", "down"]


def test_a_running_instance_is_left_running_when_a_check_fails(monkeypatch, tmp_path):
    """up() on an instance that was already up (another user's) does not stop it on failure."""
    events: list[str] = []
    monkeypatch.setattr(instance, "_check_packages", lambda: None)
    monkeypatch.setattr(instance, "lab_of", lambda st=None: object())

    def fail(st, say):
        raise LabError("postgres", "boom")
    monkeypatch.setattr(instance, "_postgres_up", fail)
    monkeypatch.setattr(instance, "down", lambda st=None, say=None: events.append("down"))
    with pytest.raises(LabError):
        instance.up(state=tmp_path)
    assert events == []


def test_no_secret_is_put_in_a_process_argv(monkeypatch, tmp_path):
    """Issue 24 item 7: the lab admin's password was an argument of `lava-server manage users add`
    (readable by every local user through ps); the user is made with lava-server's own random one."""
    argvs: list[list[str]] = []

    class Done:
        def __init__(self, out=""):
            self.stdout = out

    def run(cmd, step, timeout=120, log=None):
        argvs.append(list(cmd))
        if cmd[-1:] == ["list"] or cmd[-2:] == ["list", "--all"]:
            return Done("")
        if "tokens" in cmd:
            return Done("A" * 32 + "\n")
        return Done("")

    monkeypatch.setattr(instance, "_run", run)
    monkeypatch.setattr(instance, "LAVA_ETC", tmp_path / "etc")
    (tmp_path / "etc" / "dispatcher-config" / "devices").mkdir(parents=True)
    monkeypatch.setattr(instance.shutil, "chown", lambda *a, **k: None)
    instance._register(tmp_path, lambda s: None)
    [add] = [a for a in argvs if a[2:4] == ["users", "add"]] or [[]]
    assert add and "--passwd" not in add
    token = (tmp_path / "admin.token").read_text().strip()
    assert all(token not in " ".join(a) for a in argvs)
