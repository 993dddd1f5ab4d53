"""What the layers share: the child's interpreter, packages, environment, system paths, and
copies and permissions of its working folder. No layer-specific logic here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from grader.sandbox.layers.base import IsolationError

ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
             "/etc/localtime")


def python_executable() -> Path:
    """The grader's own interpreter, resolved (children start it with -I -S -B)."""
    if not sys.executable:
        raise IsolationError("the grader's Python has no executable to start children with")
    return Path(sys.executable).resolve()


def environment(home: str) -> dict[str, str]:
    """The child's whole environment: nothing of the grader's is passed on."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "AUTOGRADER": "1",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
    if os.name == "nt":
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", r"C:\Windows")
    return env


def packages(extra: Sequence[str], notices: list[str] | None = None) -> list[Path]:
    """Directories (or files) of numpy and the extra packages, with their bundled `.libs`."""
    found: list[Path] = []
    for name in ("numpy", *extra):
        spec = importlib.util.find_spec(name) if name.isidentifier() else None
        if spec is None or not (spec.submodule_search_locations or spec.origin):
            if notices is not None:
                notices.append(f"Package {name!r} is not installed; the notebook cannot import it.")
            continue
        locations = list(spec.submodule_search_locations or [])
        path = Path(locations[0] if locations else str(spec.origin)).resolve()
        found.append(path)
        libs = path.parent / f"{name}.libs"
        if libs.is_dir():
            found.append(libs.resolve())
    return found


def system_paths() -> list[str]:
    """The system folders and files a child reads: shared libraries and the loader's config."""
    return ["/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", *ETC_FILES]


def landlock_rules(read_only: list[str], read_write: list[str]) -> dict[str, list[str]]:
    """The child's Landlock allow-list, as it sees its paths."""
    return {"read_only": list(dict.fromkeys(read_only)), "read_write": read_write,
            "files": ["/dev/null"]}


def copy_tree(source: Path, target: Path) -> None:
    """Copy a submission without following symlinks (a link to a secret stays a link)."""
    for entry in os.scandir(source):
        destination = target / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), destination)
        elif entry.is_dir(follow_symlinks=False):
            destination.mkdir()
            copy_tree(Path(entry.path), destination)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, destination, follow_symlinks=False)
        # FIFOs, sockets and devices are skipped: reading a FIFO could block the grader.


def chown_tree(top: Path, uid: int, gid: int) -> None:
    """Give the whole working copy to the child's user."""
    os.chown(top, uid, gid)
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def allows(info: os.stat_result, uid: int, gid: int, bits: int) -> bool:
    """Whether uid/gid (no capabilities) has all of `bits` (r=4, w=2, x=1) on the file."""
    mode = info.st_mode
    if info.st_uid == uid:
        granted = (mode >> 6) & 7
    elif info.st_gid == gid:
        granted = (mode >> 3) & 7
    else:
        granted = mode & 7
    return granted & bits == bits


def searchable_by(folder: Path, uid: int, gid: int) -> bool:
    """Whether uid could pass through `folder` (it and every parent searchable)."""
    try:
        return all(allows(part.stat(), uid, gid, 1) for part in (*reversed(folder.resolve().parents), folder.resolve()))
    except OSError:
        return False


def reachable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether uid could read `path`: every parent searchable and the path itself readable."""
    for parent in reversed(path.parents):
        if not allows(parent.stat(), uid, gid, 1):
            return False
    return allows(path.stat(), uid, gid, 4)
