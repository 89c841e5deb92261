"""What a LAVA job needs beyond the devbench config: the device type, how to deploy and boot
it, and where the payload comes from. Read from a YAML snippet, checked as strictly as the
config (ConfigError names file:line:column and the field).

    device_type: qemu
    target: qemu-amd64                # the target name in results.json (default: lava)
    server: {url: https://lava.example.org/, user: alice}   # for `devbench run --lava`; the token
                                      # comes from $DEVBENCH_LAVA_TOKEN or lavacli's identity file;
                                      # http:// only to loopback, or with insecure_http: true
    payload:                          # devbench builds it, you upload it:
      url: https://files.example.org/forkbench-x86_64    # fetched by the install steps
      sha256: 3f0c...                 # checked on the device (recommended)
      # or path: /usr/local/bin/forkbench   (already on the device, e.g. via deploy overlays)
      # or dir: /srv/files + base_url: http://files.example.org/  (devbench builds the payload
      #    for the device's ABI, copies it into dir, the device fetches base_url/forkbench-<sha>)
    qemu:                             # a QEMU device: deploy to tmpfs, boot with method qemu
      arch: amd64
      rootfs_url: https://images.example.org/debian-amd64.img.gz
      rootfs_compression: gz
      kernel_url: https://kernels.example.org/bzImage    # optional: else the image boots itself
      initrd_url: https://kernels.example.org/initrd.img # optional, with kernel_url
    # or, for any other device type, LAVA's own actions, passed through unchanged:
    deploy: {to: tftp, kernel: {url: ...}, ...}          # a mapping or a list of them
    boot: {method: u-boot, commands: ramdisk, prompts: ["/ #"]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devbench.config import NAME_RE
from devbench.config.yamlsrc import Section, Source, load_file

URL_RE = re.compile(r"^https?://[^\s'\"\\<>`$]+\Z")
PATH_RE = re.compile(r"^/[A-Za-z0-9._/\-]+\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
WORD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")  # device types, LAVA arches, tags
APPEND_RE = re.compile(r"^[A-Za-z0-9_.,:=/+\- ]*\Z")  # kernel arguments, as the config's qemu.append
COMPRESSIONS = ("gz", "xz", "bz2", "zstd", "zip")


@dataclass(frozen=True)
class PayloadSource:
    url: str | None = None  # fetched on the device by the test definition's install steps
    path: str | None = None  # already on the device
    sha256: str | None = None  # checked on the device before the run
    dir: str | None = None  # devbench publishes its build here (then url and sha256 are set)
    base_url: str | None = None  # where the device fetches what is in dir

    def device_path(self, workdir: str) -> str:
        if self.path:
            return self.path
        name = "forkbench" + (f"-{self.sha256[:12]}" if self.sha256 else "")
        return f"{workdir.rstrip('/')}/{name}"


@dataclass(frozen=True)
class QemuDeploy:
    arch: str  # LAVA's context arch: amd64, arm64, ...
    rootfs_url: str
    rootfs_compression: str | None = None
    kernel_url: str | None = None
    initrd_url: str | None = None
    append: str = ""  # extra kernel arguments (with kernel_url)
    memory_mb: int | None = None
    cpus: int | None = None


@dataclass(frozen=True)
class TestdefSource:
    repository: str | None = None  # a git URL that holds the test definition; None: inline in the job
    path: str = "devbench.yaml"
    branch: str | None = None


@dataclass(frozen=True)
class ServerRef:
    """A LAVA server for `devbench run --lava`: never a token (environment or lavacli's identity)."""

    url: str  # http(s)://host[:port]/ (the API is url + RPC2)
    user: str
    identity: str | None = None  # the lavacli identity whose token is used (default: the one whose uri matches)


ABIS = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64", "armhf": "armv7",
        "arm": "armv7", "riscv64": "riscv64"}  # LAVA arch -> payload ABI


@dataclass(frozen=True)
class LavaOptions:
    device_type: str
    payload: PayloadSource
    target: str = "lava"
    job_name: str | None = None
    qemu: QemuDeploy | None = None
    deploy: tuple[dict[str, Any], ...] = ()  # LAVA deploy action(s), passed through
    boot: tuple[dict[str, Any], ...] = ()  # LAVA boot action(s), passed through
    prompts: tuple[str, ...] = ("root@debian:~#",)  # qemu: the shell prompt after login
    login: str | None = "root"  # qemu: auto_login user at "login:" (None: no login)
    context: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    priority: str | int = "medium"
    visibility: str = "public"
    workdir: str = "/tmp/devbench"  # on the device: the payload and its output
    testdef: TestdefSource = TestdefSource()
    deploy_minutes: int = 15
    boot_minutes: int = 10
    server: ServerRef | None = None
    queue_minutes: int = 60  # run --lava: a job not running after this long is cancelled (queue timeout)
    abi: str | None = None  # the payload's ABI (default: from qemu.arch)
    file: str = "<lava options>"

    def payload_abi(self) -> str | None:
        return self.abi or (ABIS.get(self.qemu.arch) if self.qemu else None)


def load_options(path: str | Path) -> LavaOptions:
    return parse_options(load_file(Path(path)))


def options_from_mapping(data: Mapping[str, Any], file: str = "<lava options>") -> LavaOptions:
    return parse_options(Source(file=file, data=dict(data)))


def parse_options(src: Source) -> LavaOptions:
    top = Section(src, (), src.data)
    device_type = top.value("device_type", _word)
    target = top.string("target", "lava")
    if not NAME_RE.match(target):
        raise top.error(
            "target", "must start with a letter or digit and use only letters, digits, '.', '_', '-', ' ' (max 64)"
        )
    payload = _payload(top.section("payload", required=True))
    qemu = _qemu(top.section("qemu"))
    deploy = _actions(top, "deploy")
    boot = _actions(top, "boot")
    if qemu is None and not (deploy and boot):
        raise top.error(
            "device_type", "needs qemu: (a QEMU device) or both deploy: and boot: (LAVA actions for the device)"
        )
    if qemu is not None and (deploy or boot):
        raise top.error("qemu", "give either qemu: or deploy: and boot:, not both")
    prompts = tuple(top.string_list("prompts", ["root@debian:~#"]))
    if not prompts or any(not p for p in prompts):
        raise top.error("prompts", "must be a non-empty list of non-empty prompts")
    login = top.raw("login", "root")
    if login is not False and not (isinstance(login, str) and WORD_RE.match(login)):
        raise top.error("login", f"must be a user name, or false for no login (got {login!r})")
    context = top.raw("context", {})
    if not isinstance(context, dict):
        raise top.error("context", "must be a mapping of LAVA context variables")
    tags = tuple(top.string_list("tags", []))
    for i, tag in enumerate(tags):
        if not WORD_RE.match(tag):
            raise top.sub("tags", {}).error(
                i, f"must be a LAVA device tag of letters, digits, '.', '_', '-' (got {tag!r})"
            )
    priority = top.raw("priority", "medium")
    if priority not in ("high", "medium", "low") and not (
        isinstance(priority, int) and not isinstance(priority, bool) and 0 <= priority <= 100
    ):
        raise top.error("priority", f"must be high, medium, low or 0..100 (got {priority!r})")
    out = LavaOptions(
        device_type=device_type,
        payload=payload,
        target=target,
        job_name=top.string("job_name", None),
        qemu=qemu,
        deploy=deploy,
        boot=boot,
        prompts=prompts,
        login=login or None,
        context=context,
        tags=tags,
        priority=priority,
        visibility=top.string("visibility", "public", choices=("public", "personal")),
        workdir=top.value("workdir", _path, "/tmp/devbench"),
        testdef=_testdef(top.section("testdef")),
        deploy_minutes=top.integer("deploy_minutes", 15, lo=1, hi=24 * 60),
        boot_minutes=top.integer("boot_minutes", 10, lo=1, hi=24 * 60),
        server=_server(top),
        queue_minutes=top.integer("queue_minutes", 60, lo=1, hi=7 * 24 * 60),
        abi=top.string("abi", None, choices=tuple(sorted(set(ABIS.values())))),
        file=src.file,
    )
    if payload.dir is not None and out.payload_abi() is None:
        raise top.error("abi", "payload dir: needs the device's ABI: abi: or qemu: arch")
    if out.job_name is not None and len(out.job_name) > 200:
        raise top.error("job_name", "must be at most 200 characters (LAVA's limit)")
    top.done()
    return out


def _payload(sec: Section | None) -> PayloadSource:
    assert sec is not None
    out = PayloadSource(url=sec.value("url", _url, None), path=sec.value("path", _path, None),
                        sha256=sec.value("sha256", _sha256, None), dir=sec.value("dir", _path, None),
                        base_url=sec.value("base_url", _url, None))
    if sum(x is not None for x in (out.url, out.path, out.dir)) != 1:
        raise sec.src.error(sec.path, "needs exactly one of url: (fetched by the install steps), path: (already on the "
                                      "device) or dir: with base_url: (devbench publishes its build there)")
    if (out.dir is None) != (out.base_url is None):
        raise sec.error("base_url" if out.dir else "dir", "dir: and base_url: go together")
    if out.dir is not None and out.sha256 is not None:
        raise sec.error("sha256", "with dir: devbench sets the sha256 of what it builds")
    sec.done()
    return out


def _server(top: Section) -> ServerRef | None:
    sec = top.section("server")
    if sec is None:
        return None
    for secret in ("token", "password"):
        if sec.raw(secret, None) is not None:
            raise sec.error(
                secret, "never in a file: the token comes from $DEVBENCH_LAVA_TOKEN or lavacli's identity file"
            )
    out = ServerRef(
        url=sec.value("url", _url), user=sec.value("user", _word), identity=sec.value("identity", _word, None)
    )
    insecure = sec.boolean("insecure_http", False)
    if out.url.lower().startswith("http://") and not insecure and not is_loopback_url(out.url):
        raise sec.error("url", "http:// would send the LAVA token in clear: use https://, or set insecure_http: true "
                               "to accept that (a loopback address is allowed as it is)")
    sec.done()
    return out


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _qemu(sec: Section | None) -> QemuDeploy | None:
    if sec is None:
        return None
    compression = sec.raw("rootfs_compression", None)
    if compression not in (None, *COMPRESSIONS):
        raise sec.error("rootfs_compression", f"must be one of {', '.join(COMPRESSIONS)} (got {compression!r})")
    out = QemuDeploy(
        arch=sec.value("arch", _word),
        rootfs_url=sec.value("rootfs_url", _url),
        rootfs_compression=compression,
        kernel_url=sec.value("kernel_url", _url, None),
        initrd_url=sec.value("initrd_url", _url, None),
        append=sec.value("append", _append, ""),
        memory_mb=sec.integer("memory_mb", None, lo=128, hi=1024 * 1024),
        cpus=sec.integer("cpus", None, lo=1, hi=512),
    )
    if out.append and out.kernel_url is None:
        raise sec.error("append", "kernel arguments need kernel_url: (an image that boots itself has its own)")
    if out.initrd_url and out.kernel_url is None:
        raise sec.error("initrd_url", "an initramfs needs kernel_url:")
    sec.done()
    return out


def _testdef(sec: Section | None) -> TestdefSource:
    if sec is None:
        return TestdefSource()
    out = TestdefSource(repository=sec.string("repository"), path=sec.value("path", _relative, "devbench.yaml"),
                        branch=sec.value("branch", _word, None))
    sec.done()
    return out


def _actions(top: Section, key: str) -> tuple[dict[str, Any], ...]:
    value = top.raw(key, None)
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(a, dict) and a for a in items):
        raise top.error(key, f"must be a LAVA {key} action (a mapping) or a list of them")
    return tuple(items)


def _word(value: Any) -> str:
    if not isinstance(value, str) or not WORD_RE.match(value):
        raise ValueError(f"must be a name of letters, digits, '.', '_', '-' (got {value!r})")
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str) or not URL_RE.match(value):
        raise ValueError(f"must be an http(s) URL without spaces, quotes or shell characters (got {value!r})")
    return value


def _path(value: Any) -> str:
    if not isinstance(value, str) or not PATH_RE.match(value) or "/../" in value + "/":
        raise ValueError(f"must be an absolute path of letters, digits, '.', '_', '-', '/' (got {value!r})")
    return value


def _relative(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not re.match(r"^[A-Za-z0-9._-][A-Za-z0-9._/\-]*\Z", value)
        or ".." in value.split("/")
    ):
        raise ValueError(f"must be a path inside the repository (got {value!r})")
    return value


def _sha256(value: Any) -> str:
    if not isinstance(value, str) or not SHA256_RE.match(value.lower()):
        raise ValueError(f"must be 64 hex digits (got {value!r})")
    return value.lower()


def _append(value: Any) -> str:
    if not isinstance(value, str) or not APPEND_RE.match(value):
        raise ValueError(f"must be kernel arguments of letters, digits and _.,:=/+- (got {value!r})")
    return value
