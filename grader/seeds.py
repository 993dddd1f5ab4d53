"""Seeds for generated inputs: public ones fixed, hidden ones from the submission and a salt.

Public inputs (visible items, the student self-check) must be the same everywhere so a
student's local check agrees with Gradescope. Hidden inputs depend on a private salt that
students never see, and on the submission (all of it that its code can read, see
`submission_fingerprint`), so that they differ from student to student and change whenever
anything submitted changes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


def public_salt(assignment: str) -> str:
    """The salt of an assignment's public inputs: the same for every student and every run."""
    return f"{assignment}-public-inputs"
SALT_ENV = "GRADER_SALT"
SALT_FILE_ENV = "GRADER_SALT_FILE"
DEVELOPMENT_SALT = "development-salt-not-secret"


def derive_seed(*parts: str | bytes) -> int:
    """A 64-bit seed from any number of strings, stable across processes and platforms."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return int.from_bytes(digest.digest()[:8], "little")


def private_salt() -> tuple[str, bool]:
    """The private salt and whether it is a real secret (not the development default).

    Read from $GRADER_SALT, else the file named by $GRADER_SALT_FILE; a Gradescope build
    writes such a file into the autograder zip.
    """
    value = os.environ.get(SALT_ENV)
    if value:
        return value, True
    file_name = os.environ.get(SALT_FILE_ENV)
    if file_name and Path(file_name).is_file():
        return Path(file_name).read_text(encoding="utf-8").strip(), True
    return DEVELOPMENT_SALT, False


MAX_FILES = 20_000
"""Files read in full for a submission's digest; past this, the rest enter by name and size."""
MAX_BYTES = 1 << 30
"""Bytes read in all for a submission's digest; past this, the rest enter by name and size."""


def submission_fingerprint(files: Sequence[Path]) -> str:
    """A digest of everything a submission's code can read: the per-submission part of hidden seeds.

    `files` are the submission's located files (written answers, notebook, weights). Not only
    they enter, but every file in the folders holding them, at any depth, by name and bytes:
    the notebook runs in a copy of its own folder and may read any file there, so a file beside
    it (say, a table of answers to the hidden inputs an earlier run printed) must change the
    hidden inputs as surely as the notebook itself.
    """
    digest = hashlib.sha256(b"submission files v2\0")
    budget = ReadBudget()
    for folder in _outermost({path.parent for path in files}):
        hash_chunk(digest, b"\0root")  # no name holds a NUL: never taken for an entry
        hash_tree(digest, folder, budget=budget)
    return digest.hexdigest()


class ReadBudget:
    """What is left of the files and bytes one digest may read (`MAX_FILES`, `MAX_BYTES`)."""

    def __init__(self) -> None:
        self.files = MAX_FILES
        self.bytes = MAX_BYTES


def hash_tree(digest: Any, root: Path, *, exclude: Path | None = None,
              budget: ReadBudget | None = None) -> None:
    """Hash every file below `root` (a file: itself) by relative name and bytes, in a stable order.

    Links enter by their target and are never followed, special files by a marker; `exclude`
    (a folder below root) is left out. Past the budget, files enter by name and size only.
    """
    budget = budget if budget is not None else ReadBudget()
    for name, path in _tree(root, exclude):
        hash_chunk(digest, os.fsencode(name))
        _hash_file(digest, path, budget)


def _outermost(folders: set[Path]) -> list[Path]:
    """The folders that are not inside another of them, in a stable order."""
    resolved = {folder.resolve() for folder in folders}
    return sorted(f for f in resolved if not any(other in f.parents for other in resolved))


def _tree(root: Path, exclude: Path | None) -> Iterator[tuple[str, Path]]:
    """Each file, folder and link below root with its relative name, sorted; a file is itself.

    Folders count even when empty: their names are data the notebook can list."""
    if not root.is_dir() or root.is_symlink():
        yield "", root
        return
    for folder, dirs, names in os.walk(root):  # never follows links to folders: a student's links
        here = Path(folder)
        links = [d for d in dirs if (here / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if d not in links and (here / d) != exclude)
        for name in sorted([*names, *links, *dirs]):
            yield (here / name).relative_to(root).as_posix(), here / name


def _hash_file(digest: Any, path: Path, budget: ReadBudget) -> None:
    """A regular file's size and bytes (its size only past the budget), a link's target, a folder's mark."""
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            hash_chunk(digest, b"link:" + os.fsencode(os.readlink(path)))
        elif stat.S_ISDIR(info.st_mode):
            hash_chunk(digest, b"folder")
        elif not stat.S_ISREG(info.st_mode):
            hash_chunk(digest, b"special")
        elif budget.files <= 0 or info.st_size > budget.bytes:
            hash_chunk(digest, b"unread:" + info.st_size.to_bytes(8, "little"))
        else:
            budget.files -= 1
            budget.bytes -= info.st_size
            digest.update(b"file:" + info.st_size.to_bytes(8, "little"))
            with path.open("rb") as stream:
                left = info.st_size  # never more than was counted, should the file grow meanwhile
                while left > 0 and (block := stream.read(min(left, 1 << 20))):
                    digest.update(block)
                    left -= len(block)
    except OSError:
        hash_chunk(digest, b"unreadable")


def hash_chunk(digest: Any, data: bytes) -> None:
    """Hash `data` with its length first, so that no two sequences of chunks hash alike."""
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)
