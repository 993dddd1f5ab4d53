"""Finding a submission's files: folders, zips, nesting, case, duplicates.

A submission is a folder or a zip; Gradescope may nest it one folder deep. File names are
matched case-insensitively, with the names browsers and Colab give copies; a notebook may come as
the Python script it was written as (`NAME.py` for `NAME.ipynb`, `# %%` cells). A missing file costs only the
items that need it; two candidates for one name is a clear message, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from grader.errors import GraderError, StudentFileError
from grader.notebook import script_kind
from grader.safezip import extract_zip, is_zip

_SKIPPED = {"__macosx", ".ipynb_checkpoints", ".git", "__pycache__"}


@dataclass(frozen=True)
class Submitter:
    """One student of a submission, with their own dates when they have an extension."""

    name: str
    email: str
    sid: str
    due_date: datetime | None = None
    late_due_date: datetime | None = None


@dataclass(frozen=True)
class Submission:
    """One submission's located files, or the reason each role has none."""

    name: str
    root: Path
    files: Mapping[str, Path]
    problems: Mapping[str, str]
    notes: tuple[str, ...] = ()
    submitters: tuple[Submitter, ...] = field(default_factory=tuple)

    def all_files(self) -> list[Path]:
        """The located files."""
        return list(self.files.values())


def _candidates(root: Path) -> list[Path]:
    """Regular files at depth 0 and 1 below root (Gradescope may nest a submission once)."""
    found: list[Path] = []
    for depth0 in sorted(root.iterdir()):
        if depth0.name.lower() in _SKIPPED or depth0.name.startswith("._") or depth0.is_symlink():
            continue
        if depth0.is_file():
            found.append(depth0)
        elif depth0.is_dir():
            for depth1 in sorted(depth0.iterdir()):
                if depth1.is_file() and not depth1.is_symlink() and not depth1.name.startswith("._"):
                    found.append(depth1)
    return found


# A browser saving a file whose name is taken adds " (1)", " (2)"... (Firefox: "(1)").
_COPY_SUFFIX = r"\s?\(\d{1,3}\)"
# Colab's File > Save a copy names the notebook "Copy of NAME"; downloading it, "Copy_of_NAME".
_COLAB_PREFIX = r"copy[ _]of[ _]"
# Extensions that name the same kind of file, for "did you mean" lists.
_SAME_KIND = {"yml": "yaml"}
_MAX_LISTED = 5
# A notebook may come as the Python script it was written as (jupytext's percent format).
_NOTEBOOK, _SCRIPT = ".ipynb", ".py"


def _stem_pattern(file_name: str) -> re.Pattern[str]:
    """Also accept `NAME_<uni>.ipynb` (a handout may ask for the UNI), `NAME (1).ipynb` and
    Colab's `Copy of NAME.ipynb`."""
    stem, dot, suffix = file_name.lower().rpartition(".")
    variants = rf"(?:[_\- ][\w\-]+(?:{_COPY_SUFFIX})?|{_COPY_SUFFIX})"
    return re.compile(rf"(?:{_COLAB_PREFIX}{re.escape(stem)}{variants}?|{re.escape(stem)}{variants})"
                      + re.escape(dot + suffix) + "$")


def _script_name(file_name: str) -> str | None:
    """`NAME.py` for a notebook `NAME.ipynb`; None for other files."""
    if not file_name.lower().endswith(_NOTEBOOK):
        return None
    return file_name[: -len(_NOTEBOOK)] + _SCRIPT


def _shown(path: Path, root: Path) -> str:
    """A file's name as the student knows it: relative to the submission's top folder."""
    return path.relative_to(root).as_posix()


def _used_note(path: Path, file_name: str) -> str:
    """The note on a file accepted under another name, saying how to name it next time."""
    if re.match(_COLAB_PREFIX, path.name.lower()):
        return (f"Used {path.name} as {file_name}: \"{path.name[:7]}\" is what Colab adds to the name of a "
                f"notebook it copies. Name it {file_name} next time.")
    copy = re.search(f"({_COPY_SUFFIX})" + r"\.[^.]*$", path.name)
    if copy:
        return (f"Used {path.name} as {file_name}: \"{copy[1].strip()}\" is what a browser adds to the name "
                f"of a file it saves again. Name it {file_name} next time.")
    return f"Used {path.name} as {file_name}."


def _script_note(path: Path, file_name: str) -> str | None:
    """The note on a notebook that is a Python script (a `.py`, or one under the notebook's name)."""
    kind = script_kind(path)
    if kind is None:
        return None
    how = ("each `# %%` line in it starts a cell" if kind == "cells"
           else "it has no `# %%` cell markers, so it ran as one code cell")
    if path.suffix.lower() == _SCRIPT:
        return (f"Read {path.name} as the notebook {file_name}: it is a Python script, and {how}. Next time "
                f"submit the notebook itself, {file_name} (in Jupyter: File > Download; in Colab: File > "
                "Download > Download .ipynb).")
    return (f"{path.name} is a Python script, not a notebook (a notebook file is JSON); it was read as "
            f"one: {how}. Next time submit the notebook that Jupyter or Colab saves.")


def _kind(name: str) -> str:
    """A file's extension, lower case, with synonyms merged (yml is yaml)."""
    suffix = name.lower().rpartition(".")[2] if "." in name else ""
    return _SAME_KIND.get(suffix, suffix)


def _not_found(file_name: str, others: Sequence[Path], root: Path) -> str:
    """The message for a missing file, listing the files that may be it under another name."""
    # Same kind of file, or the name plus an extension an editor added (answers.yaml.txt).
    close = [p for p in others if _kind(p.name) == _kind(file_name) or p.name.lower().startswith(file_name.lower())]
    if not close:
        return f"{file_name} was not found in the submission."
    names = ", ".join(_shown(p, root) for p in close[:_MAX_LISTED]) + (", …" if len(close) > _MAX_LISTED else "")
    which = "it" if len(close) == 1 else "the right one"
    return f"{file_name} was not found; the submission has: {names}. Rename {which} to {file_name}."


def _matches(candidates: Sequence[Path], file_name: str) -> list[Path]:
    """The files that are `file_name`: exact (case-insensitive) ones, else the accepted variants."""
    exact = [p for p in candidates if p.name.lower() == file_name.lower()]
    if exact:
        return exact
    pattern = _stem_pattern(file_name)
    return [p for p in candidates if pattern.match(p.name.lower())]


def locate_files(root: Path, wanted: Mapping[str, str]) -> tuple[dict[str, Path], dict[str, str], list[str]]:
    """Map each role (written, notebook, weights) to its file under root, or to a problem."""
    candidates = _candidates(root)
    files: dict[str, Path] = {}
    problems: dict[str, str] = {}
    notes: list[str] = []
    for role, file_name in wanted.items():
        found = _matches(candidates, file_name)
        script = _script_name(file_name)
        if not found and script is not None:
            found = _matches(candidates, script)  # no notebook: the script it was written as
        if len(found) == 1:
            files[role] = found[0]
            if found[0].suffix.lower() == _SCRIPT and script is not None:
                pass  # the script note below says how it was read
            elif found[0].name.lower() != file_name.lower():
                notes.append(_used_note(found[0], file_name))
            else:
                # An exact name wins over browser copies; say so, in case the work is in a copy.
                copies = [c for c in candidates if c != found[0] and _stem_pattern(file_name).match(c.name.lower())]
                if copies:
                    shown = ", ".join(_shown(c, root) for c in copies[:_MAX_LISTED])
                    notes.append(f"Graded {_shown(found[0], root)}; also found {shown}, which was not "
                                 f"graded. If your work is there, submit it as {file_name} alone.")
            note = _script_note(found[0], file_name) if script is not None else None
            if note:
                notes.append(note)
        elif found:
            names = ", ".join(_shown(p, root) for p in found)
            problems[role] = (f"Found {len(found)} files that could be {file_name} ({names}); "
                              "submit exactly one.")
    # Only now are all roles' files known: a file another role uses is no rename candidate.
    unused = [p for p in candidates if p not in files.values()]
    for role, file_name in wanted.items():
        if role not in files and role not in problems:
            problems[role] = _not_found(file_name, unused, root)
    return files, problems, notes


def open_submission(
    path: Path, wanted: Mapping[str, str], workdir: Path, *, name: str | None = None,
    submitters: Sequence[Submitter] = (),
) -> Submission:
    """Open a submission folder or zip (zips are extracted safely into workdir)."""
    label = name or (path.stem if path.is_file() else path.name)
    if path.is_file():
        if not is_zip(path):
            return Submission(label, path, {}, {role: f"{path.name} is neither a folder nor a zip." for role in wanted})
        target = workdir / "unzipped"
        target.mkdir(parents=True, exist_ok=True)
        zip_notes: list[str] = []
        try:
            extract_zip(path, target, notes=zip_notes)
        except StudentFileError as exc:
            return Submission(label, path, {}, {role: f"The zip could not be opened: {exc}" for role in wanted})
        path = target
        files, problems, notes = locate_files(path, wanted)
        return Submission(label, path, files, problems, tuple(zip_notes + notes), tuple(submitters))
    if not path.is_dir():
        raise GraderError(f"{path}: no such submission folder or zip")
    files, problems, notes = locate_files(path, wanted)
    return Submission(label, path, files, problems, tuple(notes), tuple(submitters))


def require_submission_path(path: Path, wanted: Mapping[str, str]) -> None:
    """Refuse a path that cannot be a submission (missing, or a file that is not a zip)."""
    if not path.exists():
        raise GraderError(f"{path}: no such folder or zip")
    if path.is_file() and not is_zip(path):
        files = ", ".join(wanted.values())
        raise GraderError(f"{path} is a file, not a folder or a zip: give the folder that holds {files} "
                          "(for example `.` for the current folder)")


def looks_like_submission(path: Path, wanted: Mapping[str, str]) -> bool:
    """Whether a folder holds a submission's files itself (rather than submissions)."""
    if not path.is_dir():
        return False
    names = {p.name.lower() for p in path.iterdir() if p.is_file()}
    file_names = [*wanted.values(), *filter(None, map(_script_name, wanted.values()))]
    return any(file_name.lower() in names for file_name in file_names) or any(
        _stem_pattern(file_name).match(n) for file_name in file_names for n in names
    )
