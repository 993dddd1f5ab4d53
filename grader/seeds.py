"""Seeds for generated inputs: public ones fixed, hidden ones from the submission and a salt.

Public inputs (visible items, the student self-check) must be the same everywhere so a
student's local check agrees with Gradescope. Hidden inputs depend on a private salt that
students never see, and on the submission, so that they differ from student to student.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PUBLIC_SALT = "hw1-public-inputs"
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


def submission_fingerprint(files: list[Path]) -> str:
    """A digest of a submission's files' bytes, the per-submission part of hidden seeds."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name.lower()):
        digest.update(path.name.lower().encode())
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()
