"""A real LAVA instance on this machine, on loopback only (after ../shared/lava-probe).

    up():   PostgreSQL (pg_ctlcluster, when it is down) -> the database (lava-server's postinst
            step if the package was installed while PostgreSQL was down) -> migrate ->
            the admin user, a fresh API token, worker, device type `qemu` and devices
            (`devbench-qemu01` boots devbench's feature kernel, `devbench-stock01` Debian's
            stock kernel, both on the LAVA guest image, under TCG with instruction counting)
            -> gunicorn (the API), the scheduler, a lava-worker and a file server for the
            images, each in a session of its own, its PID and start time recorded.
    down(): each recorded process group signalled by PID (TERM, then KILL), PostgreSQL only if
            up() started it.

Idempotent: a second up() finds the running services (by recorded PID and start time) and
only checks them. The token is generated per start, kept in STATE/admin.token (0600), never
printed; LAVA's packages are installed by scripts/dev (LAVA_SERVER_PACKAGES).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devbench.device.procid import ProcId, identify
from devbench.guest.adbserver import free_port
from devbench.guest.errors import LabError
from devlab.lava.guest import PROMPT, SuperminKernel, guest_image, lava_cache_root, supermin_kernel
from devlab.lava.state import _alive, _read_state, _running, _spawn, _stop_group, _wait_api, _wait_gone, _write_state

PACKAGES = ("lava-server", "lava-dispatcher", "lavacli", "postgresql", "qemu-system-x86")
WORKER = "devbench-worker"
DEVICE_TYPE = "qemu"
FEATURE_DEVICE = "devbench-qemu01"
STOCK_DEVICE = "devbench-stock01"
USER = "devbench"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # LAVA's scripts: /usr/bin/python3
LAVA_ETC = Path("/etc/lava-server")
POSTINST = "/usr/share/lava-server/postinst.py"  # lava-server's maintainer script, in Python
SCHEDULER_LOG = Path("/var/log/lava-server/devbench-lava-scheduler.log")
SERVICES = ("fileserver", "lava-worker", "lava-scheduler", "gunicorn")  # stop order
# feature: the same QEMU as devbench's own QEMU target with clock: icount (devbench.qemu.machine);
# stock: Debian's cloud kernel hung bringing up its second CPU under icount (tried), so one CPU
# and multi-threaded TCG: that device only shows what a kernel without the feature refuses
QEMU_OPTIONS = {
    "feature": ("-M q35", "-cpu max", "-smp 2", "-accel tcg,thread=single", "-icount shift=0,align=off,sleep=off"),
    "stock": ("-M q35", "-cpu max", "-smp 1", "-accel tcg,thread=multi"),
}

DEVICE_DICT = """{{% extends 'qemu.jinja2' %}}
{{# devbench lab ({kind} kernel): no KVM here, TCG (devlab/lava/instance.py QEMU_OPTIONS) #}}
{{% set no_kvm = True %}}
{{% set netdevice = 'user' %}}
{{% set memory = 1024 %}}
{{% set mac_addr = '{mac}' %}}
{{% set extra_options = {options} %}}
"""

Say = Callable[[str], None]


@dataclass(frozen=True)
class LavaLab:
    """What a running lab instance offers its users (the token is read from token_file)."""

    url: str  # http://127.0.0.1:PORT/
    user: str
    token_file: Path
    files_url: str  # the file server, as the worker sees it (loopback)
    files_dir: Path
    guest_files_url: str  # the file server, as a QEMU guest sees it (10.0.2.2)
    device_type: str = DEVICE_TYPE

    @property
    def rpc_url(self) -> str:
        return self.url.rstrip("/") + "/RPC2"

    def token(self) -> str:
        return self.token_file.read_text().strip()


def state_dir() -> Path:
    return lava_cache_root() / "instance"


def up(say: Say = lambda s: None, state: Path | None = None) -> LavaLab:
    """Start the instance (or check the running one). A start that fails half-way ends what it
    started (the services, PostgreSQL when this lab started it) before the error goes up."""
    st = Path(state or state_dir())
    (st / "logs").mkdir(parents=True, exist_ok=True)
    os.chmod(st, 0o700)
    _check_packages()
    was_up = lab_of(st) is not None
    try:
        return _up(st, say)
    except BaseException:
        if not was_up:
            down(st, say)
        raise


def _up(st: Path, say: Say) -> LavaLab:
    t0 = time.monotonic()
    _postgres_up(st, say)
    _database(st, say)
    www = st / "www"
    _images(www, say)
    supermin = supermin_kernel()
    _worker_config(st, supermin)
    _register(st, say)
    data = _read_state(st)
    running = all(_alive(data, n) for n in SERVICES)
    if not running:
        _stop_services(st, data)
        data = {**data, "port": free_port(), "files_port": free_port()}
        _start_services(st, data, www, say)
    lab = _lab(st, data)
    _wait_api(lab.url, 120, st)
    if not running:
        data["up_seconds"] = round(time.monotonic() - t0, 1)
        _write_state(st, data)
        say(f"LAVA up in {data['up_seconds']} s: {lab.url}")
    return lab


def lab_of(state: Path | None = None) -> LavaLab | None:
    """The running instance, or None."""
    st = Path(state or state_dir())
    data = _read_state(st)
    if not all(_alive(data, n) for n in SERVICES):
        return None
    return _lab(st, data)


def down(state: Path | None = None, say: Say = lambda s: None) -> None:
    st = Path(state or state_dir())
    data = _read_state(st)
    _stop_services(st, data)
    pg = data.get("postgres")
    if pg and _running(pg):
        say(f"stopping PostgreSQL (pid {pg['pid']}), started by this lab")
        os.kill(pg["pid"], signal.SIGINT)  # fast shutdown
        _wait_gone(ProcId(pg["pid"], pg["start"]), 60)
    data.pop("postgres", None)
    _write_state(st, data)


# -- steps -----------------------------------------------------------------------------------------

def _check_packages() -> None:
    missing = [p for p in PACKAGES if not _installed(p)]
    if missing:
        raise LabError("lava", f"not installed: {' '.join(missing)} (scripts/dev test installs them)")


def _installed(pkg: str) -> bool:
    cp = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return cp.returncode == 0 and "install ok installed" in cp.stdout


def _postgres_up(st: Path, say: Say) -> None:
    cluster = _cluster()
    if cluster["status"] == "online":
        return
    say(f"starting PostgreSQL {cluster['version']}/{cluster['name']}")
    _run(["pg_ctlcluster", cluster["version"], cluster["name"], "start"], "postgres", timeout=120)
    pid = int(Path(cluster["datadir"], "postmaster.pid").read_text().split()[0])
    ident = identify(pid)
    if ident is None:
        raise LabError("postgres", f"pg_ctlcluster started no postmaster (pid {pid} is gone)")
    data = _read_state(st)
    data["postgres"] = {"pid": ident.pid, "start": ident.start}
    _write_state(st, data)


def _cluster() -> dict[str, str]:
    cp = _run(["pg_lsclusters", "-h"], "postgres")
    for line in cp.stdout.splitlines():
        f = line.split()
        if len(f) >= 6:
            return {"version": f[0], "name": f[1], "status": f[3], "datadir": f[5]}
    raise LabError("postgres", "no PostgreSQL cluster (pg_lsclusters lists none)")


def _database(st: Path, say: Say) -> None:
    """LAVA's database settings, role and database, then its migrations.

    lava-server's package postinst writes the database settings (settings.d/00-database.yaml,
    a random password) and creates the role and database only when PostgreSQL answers while
    the package is installed. On a new machine it does not (no systemd: the cluster is down),
    and ``postinst.py --db`` alone then fails with ``KeyError: 'DATABASES'``: it reads the
    settings that only its ``--config`` step generates. So the step runs the postinst as
    Debian's maintainer script does, config, fixups and database together, whenever the
    settings or the role are missing. A role left by an earlier install whose settings file is
    gone gets the new file's password (the postinst keeps an existing role as it is).
    """
    has_role = _psql("select 1 from pg_roles where rolname='lavaserver'") == "1"
    settings = _database_settings()
    if settings is None or not has_role:
        say("creating LAVA's database settings, role and database (lava-server's postinst, as dpkg runs it)")
        _run(["/usr/bin/python3", POSTINST, "--config", "--db", "--fixup"], "database", timeout=600,
             log=st / "logs/postinst.log")
        new = _database_settings()
        if new is None:
            raise LabError("database", f"{POSTINST} wrote no DATABASES settings (see {st / 'logs/postinst.log'})")
        if has_role and settings is None:
            _set_role_password(new["USER"], new["PASSWORD"])
    _run(["lava-server", "manage", "migrate", "--noinput"], "database", timeout=600, log=st / "logs/migrate.log")


def _psql(sql: str) -> str:
    """One value from PostgreSQL, as its superuser (the query is ours, never built from data)."""
    return _run(["runuser", "-u", "postgres", "--", "psql", "-tAc", sql], "postgres").stdout.strip()


def _database_settings() -> dict | None:
    """lava-server's DATABASES['default'] as its settings module loads them, or None."""
    code = ("import json, lava_server.settings.prod as m; "
            "print(json.dumps((getattr(m, 'DATABASES', None) or {}).get('default')))")
    out = _run(["/usr/bin/python3", "-c", code], "database").stdout.strip().splitlines()
    value = json.loads(out[-1]) if out else None
    return value if isinstance(value, dict) and value.get("NAME") else None


def _set_role_password(user: str, password: str) -> None:
    """ALTER ROLE through psql's stdin with the values as psql variables (quoted by psql)."""
    script = "ALTER ROLE :\"role\" WITH PASSWORD :'password';\n"
    cp = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-v", "ON_ERROR_STOP=1",
                         "-v", f"role={user}", "-v", f"password={password}"],
                        input=script, capture_output=True, text=True, timeout=60,
                        env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}, cwd="/")
    if cp.returncode != 0:
        raise LabError("database", f"psql ALTER ROLE {user} failed (exit {cp.returncode}): {cp.stderr.strip()[-300:]}")


def _images(www: Path, say: Say) -> None:
    """The file server's folder: the feature kernel, the stock kernel and its initramfs, the
    guest image (symlinks into the caches)."""
    from devbench.kernel.build import ensure_kernel
    from devbench.qemu.stock import stock_kernel

    www.mkdir(parents=True, exist_ok=True)
    say("LAVA guest image, feature and stock kernels (cached)")
    links = {"rootfs.ext4": guest_image(), "bzImage": ensure_kernel("x86_64").image}
    stock = stock_kernel("x86_64")
    links.update({"stock-vmlinuz": stock.kernel, "stock-initrd.img": stock.initrd})
    for name, target in links.items():
        link = www / name
        if link.is_symlink() and os.readlink(link) == str(target):
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)


def _worker_config(st: Path, k: SuperminKernel) -> None:
    d = LAVA_ETC / "dispatcher.d" / WORKER
    d.mkdir(parents=True, exist_ok=True)
    gfs = st / "guestfs-cache"
    gfs.mkdir(exist_ok=True)
    # env.yaml's purge drops whatever the worker's own environment held
    (d / "env.yaml").write_text(
        "purge: true\noverrides:\n  LC_ALL: C.UTF-8\n  LANG: C\n"
        f"  PATH: {SYSTEM_PATH}\n  SUPERMIN_KERNEL: {k.kernel}\n  SUPERMIN_MODULES: {k.modules}\n"
        f"  SUPERMIN_KERNEL_VERSION: {k.release}\n  LIBGUESTFS_BACKEND: direct\n"
        f"  LIBGUESTFS_BACKEND_SETTINGS: force_tcg\n  LIBGUESTFS_CACHEDIR: {gfs}\n")
    (d / "dispatcher.yaml").write_text("dispatcher_ip: 127.0.0.1\n")


def _register(st: Path, say: Say) -> None:
    """User, token, worker, device type and devices, each added once."""
    manage = lambda *a: _run(["lava-server", "manage", *a], "register", timeout=300)  # noqa: E731
    if not re.search(rf"^\s*\*?\s*{USER}\b", manage("users", "list").stdout, re.M):
        # no --passwd: a password in argv is readable by every local user (ps); lava-server then makes
        # a random one, printed to our captured stdout and never kept (the lab uses an API token)
        manage("users", "add", USER, "--superuser", "--staff")
    token_file = st / "admin.token"
    if not token_file.is_file() or not token_file.read_text().strip():
        out = manage("tokens", "add", "--user", USER, "--description", "devbench lab").stdout.strip().splitlines()
        if not out or not re.fullmatch(r"[A-Za-z0-9]{20,}", out[-1].strip()):
            raise LabError("register", "lava-server manage tokens add printed no token")
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(out[-1].strip() + "\n")
    if not re.search(rf"\b{WORKER}\b", manage("workers", "list").stdout):
        manage("workers", "add", WORKER, "--description", "devbench lab worker")
    if not re.search(rf"\b{DEVICE_TYPE}\b", manage("device-types", "list").stdout):
        manage("device-types", "add", DEVICE_TYPE)
    devices = manage("devices", "list", "--all").stdout
    for name, kind, mac in (
        (FEATURE_DEVICE, "feature", "52:54:00:12:34:61"),
        (STOCK_DEVICE, "stock", "52:54:00:12:34:62"),
    ):
        if not re.search(rf"\b{name}\b", devices):
            manage(
                "devices",
                "add",
                "--device-type",
                DEVICE_TYPE,
                "--worker",
                WORKER,
                "--tags",
                f"devbench-{kind}",
                "--",
                name,
            )
        path = LAVA_ETC / "dispatcher-config" / "devices" / f"{name}.jinja2"
        path.write_text(DEVICE_DICT.format(kind=kind, mac=mac, options=list(QEMU_OPTIONS[kind])))
        shutil.chown(path, "lavaserver", "lavaserver")


def _worker_token() -> str:
    out = _run(["lava-server", "manage", "workers", "details", WORKER], "register").stdout
    m = re.search(r"token\s*:\s*(\S+)", out)
    if not m:
        raise LabError("register", f"no token in `lava-server manage workers details {WORKER}`")
    return m.group(1)


def _start_services(st: Path, data: dict, www: Path, say: Say) -> None:
    logs = st / "logs"
    env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "HOME": "/root"}
    port, files_port = data["port"], data["files_port"]
    cmds = {
        "gunicorn": ["/usr/bin/gunicorn3", "lava_server.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                     "--worker-class", "eventlet", "-u", "lavaserver", "-g", "lavaserver", "--log-level", "info",
                     "--log-file", str(logs / "gunicorn.log")],
        # the scheduler drops to the lavaserver user before it opens its log: LAVA's own log folder
        "lava-scheduler": ["/usr/bin/lava-server", "manage", "lava-scheduler", "--level", "INFO",
                           "--log-file", str(SCHEDULER_LOG)],
    }
    for name, cmd in cmds.items():
        data[name] = _spawn(cmd, logs / f"{name}.out", env)
        _write_state(st, data)
    _wait_api(f"http://127.0.0.1:{port}/", 120, st)
    token_file = st / "worker.token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(_worker_token())
    data["lava-worker"] = _spawn(
        [
            "/usr/bin/lava-worker",
            "--level",
            "INFO",
            "--log-file",
            str(logs / "lava-worker.log"),
            "--url",
            f"http://127.0.0.1:{port}/",
            "--name",
            WORKER,
            "--token-file",
            str(token_file),
        ],
        logs / "lava-worker.out",
        env,
    )
    data["fileserver"] = _spawn(
        ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(www), str(files_port)],
        logs / "fileserver.out",
        env,
    )
    _write_state(st, data)
    time.sleep(2)
    dead = [n for n in SERVICES if not _alive(data, n)]
    if dead:
        raise LabError("lava", f"{', '.join(dead)} exited at start (see {logs}/{dead[0]}.out)")
    say(f"started gunicorn (pid {data['gunicorn']['pid']}), lava-scheduler (pid {data['lava-scheduler']['pid']}), "
        f"lava-worker (pid {data['lava-worker']['pid']}), file server (pid {data['fileserver']['pid']}) on 127.0.0.1")


def _stop_services(st: Path, data: dict) -> None:
    for name in SERVICES:
        rec = data.get(name)
        if rec and _running(rec):
            _stop_group(ProcId(rec["pid"], rec["start"]))
        data.pop(name, None)
    _write_state(st, data)


# -- state (the file and the processes: devlab.lava.state) ---------------------------------------

def _lab(st: Path, data: dict) -> LavaLab:
    return LavaLab(url=f"http://127.0.0.1:{data['port']}/", user=USER, token_file=st / "admin.token",
                   files_url=f"http://127.0.0.1:{data['files_port']}/", files_dir=st / "www",
                   guest_files_url=f"http://10.0.2.2:{data['files_port']}/")


def _run(cmd: list[str], step: str, timeout: float = 120, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "HOME": "/root"}
    cp = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env, cwd="/"
    )
    if log is not None:
        log.write_text(cp.stdout + cp.stderr)
    if cp.returncode != 0:
        last = (cp.stderr.strip() or cp.stdout.strip() or "no output").splitlines()[-1]
        raise LabError(step, f"{cmd[0]} {' '.join(cmd[1:4])} failed (exit {cp.returncode}): {last[-300:]}")
    return cp


__all__ = ["LavaLab", "PROMPT", "down", "lab_of", "up"]


def lava_options(lab: LavaLab, kind: str = "feature", target: str | None = None) -> dict:
    """A `--lava` options mapping for one of the lab's devices: `feature` (devbench's feature
    kernel) or `stock` (Debian's cloud kernel with devbench's stock initramfs)."""
    from devbench.qemu.image import INIT_PATH

    if kind == "feature":
        qemu = {"arch": "amd64", "rootfs_url": lab.files_url + "rootfs.ext4", "kernel_url": lab.files_url + "bzImage",
                "append": f"init={INIT_PATH}"}
    elif kind == "stock":
        qemu = {
            "arch": "amd64",
            "rootfs_url": lab.files_url + "rootfs.ext4",
            "kernel_url": lab.files_url + "stock-vmlinuz",
            "initrd_url": lab.files_url + "stock-initrd.img",
        }
    else:
        raise ValueError(f"kind must be feature or stock, not {kind!r}")
    return {"server": {"url": lab.url, "user": lab.user}, "device_type": lab.device_type,
            "target": target or f"lava-{kind}", "tags": [f"devbench-{kind}"], "login": False, "prompts": [PROMPT],
            "payload": {"dir": str(lab.files_dir), "base_url": lab.guest_files_url},
            "context": {"guestfs_interface": "virtio"}, "qemu": qemu, "boot_minutes": 4, "deploy_minutes": 5}
