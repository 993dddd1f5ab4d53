"""Build the zip uploaded to Gradescope as the assignment's autograder.

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` there once (as root, with
bash, after apt-get update) when it builds the image, and then runs /autograder/run_autograder
for each submission. Both scripts must sit at the zip's root, with LF line endings.
"""

from __future__ import annotations

import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path

from grader.errors import GraderError
from grader.gradescope.entry import SALT_FILE_NAME
from grader.paths import GRADER_PACKAGE, PROJECT_ROOT, REFERENCE_PACKAGE

__all__ = ["build_autograder", "run_autograder_script", "setup_script"]

_EXECUTABLE = 0o100755 << 16  # regular file, rwxr-xr-x, in the zip's Unix attributes
_REGULAR = 0o100644 << 16
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same bytes for the same sources (but for the salt)
_SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo", ".salt"}
SANDBOX_USER = "grader-student"
"""The unprivileged user setup.sh creates and run_autograder names in $GRADER_SANDBOX_USER."""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04), after
# `apt-get update`. Safe to run again: every step checks before it changes anything.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# python3-venv/pip for our own environment; bubblewrap gives the sandbox its strongest layer.
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap

# A virtual environment, never packages in the system python3: Gradescope's harness runs on it.
if [ ! -x /autograder/venv/bin/python ]; then
  python3 -m venv /autograder/venv
fi
/autograder/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check \\
  /autograder/source

# The unprivileged user that the uid isolation layer runs student code as.
if ! id -u {user} >/dev/null 2>&1; then
  adduser --system --no-create-home --group --disabled-password --disabled-login {user}
fi

# The salt and the rubric are for root only, whichever isolation layer ends up in use.
chmod 600 /autograder/source/{salt}
chmod -R go-rwx /autograder/source
""".replace("{salt}", SALT_FILE_NAME).replace("{user}", SANDBOX_USER)


def setup_script() -> str:
    """The text of setup.sh."""
    return SETUP_SH


def run_autograder_script(rubric_name: str) -> str:
    """The text of run_autograder for the rubric file `rubric_name` (under source/rubrics/)."""
    return f"""\
#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in /autograder. What counts is
# results/results.json, which the grader writes even when grading fails; so this script always
# exits 0. AUTOGRADER_ROOT and GRADER_BIN exist only so tests can run this very script.
root="${{AUTOGRADER_ROOT:-/autograder}}"
grader="${{GRADER_BIN:-$root/venv/bin/grader}}"
export GRADER_SALT_FILE="$root/source/{SALT_FILE_NAME}"
# The uid isolation layer runs student code as the user setup.sh created.
if [ -z "${{GRADER_SANDBOX_USER:-}}" ] && id -u {SANDBOX_USER} >/dev/null 2>&1; then
  export GRADER_SANDBOX_USER={SANDBOX_USER}
fi
cd "$root" || exit 0
"$grader" gradescope --root "$root" --rubric "$root/source/rubrics/{rubric_name}" || true
if [ ! -s "$root/results/results.json" ]; then
  # The grader could not even start: still leave a valid results.json for the student.
  mkdir -p "$root/results"
  cat > "$root/results/results.json" <<'JSON'
{{"score": 0,
 "output": "The autograder could not start. This is not your fault: your instructor will regrade.",
 "tests": [{{"name": "autograder error", "score": 0, "max_score": 0, "status": "failed",
            "output": "The autograder could not start."}}]}}
JSON
fi
exit 0
"""


def _project_root() -> Path:
    if not (PROJECT_ROOT / "pyproject.toml").is_file():
        raise GraderError(f"{PROJECT_ROOT}: no pyproject.toml; build the autograder from a "
                          "checkout of the grader (pip install -e .)")
    return PROJECT_ROOT


def _tree(folder: Path) -> Iterator[Path]:
    """The files under folder worth shipping: no caches, no compiled files, no salts."""
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(folder).parts
        if _SKIPPED_PARTS.intersection(relative) or path.suffix in _SKIPPED_SUFFIXES:
            continue
        if any(part.endswith(".egg-info") for part in relative):
            continue
        yield path


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, _FIXED_TIME)
    info.external_attr = _EXECUTABLE if executable else _REGULAR
    info.create_system = 3  # Unix, so unzip honours the permission bits
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_autograder(out: Path, rubric_path: Path) -> Path:
    """Write the Gradescope autograder zip for the rubric at `rubric_path` to `out`; return `out`.

    The rubric is loaded first, so a broken rubric stops the build instead of every submission.
    Each build writes a fresh random salt, so hidden inputs change with every uploaded
    autograder: regrading old submissions with a rebuilt zip draws new hidden inputs.
    """
    from grader.rubric import load_rubric

    rubric = load_rubric(rubric_path)
    root = _project_root()
    # The grader, and of reference_solutions only this assignment's package: another
    # assignment's solutions have no business in this one's container.
    package = rubric.code_reference.split(".")[1]
    sources = {"grader": GRADER_PACKAGE, f"reference_solutions/{package}": REFERENCE_PACKAGE / package}
    readme = root / "README.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(temp, "w") as archive:
        _add(archive, "setup.sh", setup_script().encode(), executable=True)
        run_script = run_autograder_script(rubric.path.name)
        _add(archive, "run_autograder", run_script.encode(), executable=True)
        _add(archive, SALT_FILE_NAME, (secrets.token_hex(32) + "\n").encode())
        _add(archive, "pyproject.toml", (root / "pyproject.toml").read_bytes())
        # pyproject names README.md as the long description: pip refuses to build without it.
        _add(archive, "README.md", readme.read_bytes() if readme.is_file() else
             b"# grader\n\nAn autograder, packaged for Gradescope.\n")
        for prefix, folder in sources.items():
            for path in _tree(folder):
                _add(archive, f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())
        _add(archive, "reference_solutions/__init__.py", (REFERENCE_PACKAGE / "__init__.py").read_bytes())
        _add(archive, f"rubrics/{rubric.path.name}", rubric.path.read_bytes())  # this assignment's only
    temp.replace(out)
    return out
