"""A Python runtime the sandbox user can read: the interpreter, its standard library and numpy.

The uid layer runs student code as an unprivileged user, who often cannot read the grader's
own Python: pyenv or a virtual environment under /root (mode 0700), or a checkout in a private
folder. Importing before the switch covers only the modules one thinks of; the rest
(`csv`, `zipfile` for `np.savez`, `unittest` for `numpy.testing`) would be missing. So the
runtime is mirrored once per machine into a root-owned, world-readable folder: hard links
where the file system allows (no copy, no disk), copies where not. The mirror also keeps the
checkout's path out of the child's `sys.path`.

The mirror's folder is made by root under a root-owned parent and checked before use (owner,
no write bit for others), so the sandbox user can neither plant nor change a file in it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError

MIRROR_ROOT = Path("/var/cache/grader-runtime")
# Parts of the standard library that no notebook needs: tests, GUIs, the installer.
_SKIPPED_STDLIB = frozenset({"site-packages", "dist-packages", "test", "idlelib", "tkinter",
                             "turtledemo", "ensurepip", "lib2to3", "__phello__"})


class MirrorError(GraderError):
    """The readable runtime could not be made (disk, permissions)."""


@dataclass(frozen=True)
class Runtime:
    """Where the child's interpreter is and what it needs besides: library path and packages."""

    executable: Path
    packages: Path               # a folder holding numpy and the extra packages, by name
    library_path: str | None     # for LD_LIBRARY_PATH, where the interpreter links libpython
    root: Path                   # everything the child needs to read lies beneath it


def mirror_runtime(packages: list[Path], base: Path = MIRROR_ROOT) -> Runtime:
    """The mirror of this interpreter and `packages` under `base`, made on first use."""
    executable = Path(sys.executable).resolve()
    stdlib = Path(sysconfig.get_path("stdlib")).resolve()
    key = _key(executable, stdlib, packages)
    _safe_parent(base)
    target = base / key
    if not (target / "ready").exists():
        _build(target, executable, stdlib, packages)
    _check_owned(target)
    lib = target / "lib"
    return Runtime(target / "bin" / executable.name, target / "pkgs",
                   str(lib) if any(lib.glob("libpython*")) else None, target)


def _key(executable: Path, stdlib: Path, packages: list[Path]) -> str:
    """A name that changes whenever the interpreter, its library or a package changes."""
    digest = hashlib.sha256()
    for path in (executable, stdlib / "os.py", *packages, *(p / "__init__.py" for p in packages)):
        try:
            info = path.stat()
        except OSError:
            continue
        digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}\n".encode())
    digest.update(sys.version.encode())
    return f"py{sys.version_info[0]}{sys.version_info[1]}-{digest.hexdigest()[:20]}"


def _safe_parent(base: Path) -> None:
    try:
        base.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise MirrorError(f"cannot create {base} for the sandbox's Python ({exc})") from exc
    _check_owned(base)


def _check_owned(path: Path) -> None:
    info = path.lstat()
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        raise MirrorError(f"{path} is not a folder that only the grader's user can change; "
                            "remove it and try again")


def _build(target: Path, executable: Path, stdlib: Path, packages: list[Path]) -> None:
    """Build the mirror in a temporary folder beside `target`, then rename it into place."""
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        staging.chmod(0o755)
        (staging / "bin").mkdir(mode=0o755)
        _link(executable, staging / "bin" / executable.name)
        lib = staging / "lib"
        lib.mkdir(mode=0o755)
        for shared in executable.parent.parent.joinpath("lib").glob("libpython*"):
            if shared.is_file():
                _link(shared.resolve(), lib / shared.name)
        _mirror_tree(stdlib, lib / stdlib.name, skip=_SKIPPED_STDLIB)
        pkgs = staging / "pkgs"
        pkgs.mkdir(mode=0o755)
        for package in packages:
            if package.is_dir():
                _mirror_tree(package, pkgs / package.name, skip=frozenset())
            elif package.is_file():
                _link(package, pkgs / package.name)
        (staging / "ready").write_text("ok\n")
        (staging / "ready").chmod(0o644)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "ready").exists():  # not another grader's finished mirror
                raise
    except OSError as exc:
        raise MirrorError(f"cannot mirror the Python runtime into {target} ({exc})") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _mirror_tree(source: Path, target: Path, *, skip: frozenset[str]) -> None:
    """Folders made 0755, regular files linked (or copied), symlinks inside kept as links."""
    target.mkdir(mode=0o755)
    for folder, dirs, files in os.walk(source):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here != source or d not in skip]
        out = target / here.relative_to(source)
        for name in dirs:
            entry = here / name
            if entry.is_symlink():
                os.symlink(os.readlink(entry), out / name)
            else:
                (out / name).mkdir(mode=0o755)
        for name in files:
            entry = here / name
            if entry.is_symlink():
                os.symlink(os.readlink(entry), out / name)
            elif entry.is_file():
                _link(entry, out / name)
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]


def _link(source: Path, target: Path) -> None:
    """A hard link when the file is world-readable and on the same file system, else a copy."""
    info = source.stat()
    readable = info.st_mode & stat.S_IROTH and (info.st_mode & stat.S_IXOTH or not info.st_mode & stat.S_IXUSR)
    if readable:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    shutil.copyfile(source, target)
    target.chmod(0o755 if info.st_mode & stat.S_IXUSR else 0o644)
