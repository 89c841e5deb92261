"""Work folders are private: devbench's own folder on a device (or on this machine), mode 0700.

What devbench keeps in its work folder (the payload it runs as root, the restore journal it
replays as root, the device lock) is trusted only because no one else can write there. So,
before any read or write, the folder is created by devbench with mode 0700 when absent, and
otherwise checked: not a symbolic link, a directory, owned by the uid devbench's commands run
as, and writable by no one else. A folder that fails is refused with one line and left as it
is; one that is ours but merely readable by others is tightened to 0700. Files in it are
checked the same way before they are read as instructions (the journal: check_file).

The shell scripts take paths as positional parameters only; their answers are parsed
(parse_stat), never obeyed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devbench.errors import TargetError
from devbench.targets.base import Target

# $1: the folder. Prints one `stat=` line (or `stat=symlink` / `stat=absent` / ...) and `me=`.
# Its ancestors first: a symbolic link among them must be root's, and none may be writable by
# everyone without the sticky bit (whoever can write a parent can rename the folder away and put
# another in its place between two checks): `stat=parent-unsafe` and `parent=` name the first.
_FOLDER = r"""
d=$1
mode_of() { stat -c "$1" "$2" 2>/dev/null || toybox stat -c "$1" "$2" 2>/dev/null; }
p=
set -f
oldifs=$IFS
IFS=/
for c in ${d%/*}; do
  [ -n "$c" ] || continue
  p=$p/$c
  if [ -L "$p" ]; then
    [ "$(mode_of %u "$p")" = 0 ] || { echo "stat=parent-unsafe"; echo "parent=$p"; exit 0; }
    continue
  fi
  [ -d "$p" ] || break
  m=$(mode_of %a "$p")
  case $m in
    *[!0-7]* | '') echo "stat=unreadable"; exit 0 ;;
  esac
  if [ $(( 0$m & 02 )) -ne 0 ] && [ $(( 0$m & 01000 )) -eq 0 ]; then
    echo "stat=parent-unsafe"; echo "parent=$p"; exit 0
  fi
done
IFS=$oldifs
set +f
if [ -L "$d" ]; then echo "stat=symlink"; exit 0; fi
if [ ! -e "$d" ]; then
  p=${d%/*}
  [ -z "$p" ] || [ -d "$p" ] || mkdir -p "$p" 2>/dev/null
  if (umask 077 && mkdir "$d") 2>/dev/null; then echo "created=1"; else echo "stat=cannot-create"; exit 0; fi
fi
if [ -L "$d" ]; then echo "stat=symlink"; exit 0; fi
[ -d "$d" ] || { echo "stat=not-a-folder"; exit 0; }
echo "stat=$(stat -c '%u %a' "$d" 2>/dev/null || toybox stat -c '%u %a' "$d" 2>/dev/null)"
echo "me=$(id -u)"
"""

# $1: a file. `stat=absent` when there is none.
_FILE = r"""
f=$1
if [ -L "$f" ]; then echo "stat=symlink"; exit 0; fi
[ -e "$f" ] || { echo "stat=absent"; exit 0; }
[ -f "$f" ] || { echo "stat=not-a-file"; exit 0; }
echo "stat=$(stat -c '%u %a' "$f" 2>/dev/null || toybox stat -c '%u %a' "$f" 2>/dev/null)"
echo "me=$(id -u)"
"""


@dataclass(frozen=True)
class Stat:
    state: str  # "ok", or what is wrong: symlink, absent, not-a-folder, not-a-file, cannot-create, unreadable
    uid: int | None = None
    mode: int | None = None  # permission bits
    me: int | None = None  # the uid the device's commands run as
    created: bool = False
    parent: str = ""  # parent-unsafe: the first ancestor that is not safe (a path devbench gave)


def parse_stat(text: str) -> Stat:
    """The answer of _FOLDER or _FILE: only exact `key=value` lines count, digits only."""
    kv: dict[str, str] = {}
    for line in text.split("\n"):
        key, sep, value = line.strip().partition("=")
        if sep and key in ("stat", "me", "created", "parent") and key not in kv:
            kv[key] = value
    stat = kv.get("stat", "unreadable")
    created = kv.get("created") == "1"
    m = re.fullmatch(r"([0-9]{1,10}) ([0-7]{3,4})", stat)
    me = kv.get("me", "")
    if m is None:
        parent = kv.get("parent", "") if stat == "parent-unsafe" else ""
        return Stat(stat if re.fullmatch(r"[a-z-]{1,20}", stat) else "unreadable", created=created, parent=parent)
    if not re.fullmatch(r"[0-9]{1,10}", me):
        return Stat("unreadable", created=created)
    return Stat("ok", int(m.group(1)), int(m.group(2), 8), int(me), created)


def folder_problem(st: Stat, path: str) -> str | None:
    """Why a work folder cannot be trusted (None: it is private to devbench's uid)."""
    what = {"symlink": "is a symbolic link", "not-a-folder": "is not a folder", "cannot-create": "cannot be created",
            "unreadable": "cannot be checked (no stat on the device?)"}
    if st.state == "parent-unsafe":
        return (f"{path}: its parent {st.parent or '?'} is writable by everyone without the sticky bit, or is a link "
                "that is not root's: refused (set a workdir whose parents only root or devbench can change)")
    if st.state != "ok":
        return f"{path} {what.get(st.state, st.state)}: refused"
    assert st.uid is not None and st.mode is not None
    if st.uid != st.me:
        return (f"{path} is owned by uid {st.uid}, not by devbench's uid {st.me}: refused "
                "(remove it, or set a workdir of devbench's own)")
    if st.mode & 0o022:
        return f"{path} is writable by others (mode {st.mode:o}): refused (remove it; devbench creates it 0700)"
    return None


def file_problem(st: Stat, path: str) -> str | None:
    """Why a file in the work folder (the journal) cannot be read as devbench's own."""
    if st.state == "absent":
        return None
    if st.state != "ok":
        what = {"symlink": "is a symbolic link", "not-a-file": "is not a regular file"}.get(
            st.state, "cannot be checked"
        )
        return f"{path} {what}: refused, left as it is"
    assert st.uid is not None and st.mode is not None
    if st.uid not in (st.me, 0):
        return f"{path} is owned by uid {st.uid}, neither devbench's uid {st.me} nor root: refused, left as it is"
    if st.mode & 0o022:
        return f"{path} is writable by others (mode {st.mode:o}): refused, left as it is"
    return None


def ensure_private(target: Target, workdir: str) -> Stat:
    """Create the work folder 0700, or check that it is private; TargetError (step "work folder") if not."""
    res = target.run(["sh", "-c", _FOLDER, "sh", workdir], timeout=30)
    st = parse_stat(res.stdout)
    problem = folder_problem(st, workdir)
    if problem:
        raise TargetError(target.name, "work folder", problem)
    if st.mode != 0o700:  # ours and written by no one else: only readable by others
        res = target.run(["chmod", "700", workdir], timeout=30)
        if not res.ok:
            raise TargetError(
                target.name, "work folder", f"chmod 700 {workdir}: {res.last_words() or f'exit {res.exit_code}'}"
            )
    return st


def check_file(target: Target, path: str) -> bool:
    """True if the file exists and is devbench's; False if absent; TargetError if it is not to be trusted."""
    res = target.run(["sh", "-c", _FILE, "sh", path], timeout=30)
    st = parse_stat(res.stdout)
    problem = file_problem(st, path)
    if problem:
        raise TargetError(target.name, "work folder", problem)
    return st.state == "ok"
