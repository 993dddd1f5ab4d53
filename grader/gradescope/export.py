"""Read Gradescope's "Export submissions" download: a zip or its extracted folder.

Layout: `assignment_<id>_export/` holding `submission_metadata.yml` and one
`submission_<id>/` folder of student files per submission. The YAML comes from Ruby, so its
keys are symbols with a literal leading colon (`:submitters`, `:name`, `:sid`, `:email`,
`:created_at`) and times are YAML timestamps. It is loaded with `yaml.safe_load` only: the
file is produced from student-controlled data, and a full loader would construct objects.

A missing YAML (submitters unknown), folders absent from the YAML and YAML entries without a
folder are tolerated, each with a note: partial exports happen when a download is interrupted
or an instructor deletes folders by hand. The export is instructor input, so unusable input is
a `GraderError`.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from grader.errors import GraderError, StudentFileError
from grader.gradescope.metadata import Submitter, parse_timestamp
from grader.safezip import ZipLimits, extract_zip, is_zip

__all__ = ["EXPORT_LIMITS", "ExportedSubmission", "holds_metadata", "looks_like_export", "read_export"]

_log = logging.getLogger(__name__)

# A whole class's submissions: far more files and bytes than one student's zip.
EXPORT_LIMITS = ZipLimits(max_files=200_000, max_total_bytes=20 * 1024**3)
_METADATA = "submission_metadata.yml"
_SUBMISSION = re.compile(r"^submission_(?P<id>[^/\\]+)$")
_EXPORT_ROOT = re.compile(r"^assignment_[^/\\]+_export$")
_EXPORT_NAME = re.compile(r"^assignment_[^/\\]+_export(?:\s?\(\d{1,3}\))?(?:\.zip)?$", re.IGNORECASE)
"""The name of the export's download (or of the folder it unpacks to), as the instructor saved it."""


@dataclass(frozen=True)
class ExportedSubmission:
    """One submission of an export: its files' folder, who submitted it and when (if known)."""

    id: str
    folder: Path
    submitters: tuple[Submitter, ...]
    created_at: datetime | None


def looks_like_export(path: Path) -> bool:
    """Whether a folder or zip the instructor named on the command line is an export, unasked.

    Two things must hold, both at the top of what was named: its own name is the download's
    (`assignment_<id>_export.zip`, or that folder unpacked; a browser's " (1)" allowed), and the
    YAML is in it (`holds_metadata`). Nothing below is looked at: a submission is the student's
    to fill, and the names of the paths are the instructor's, which is what `grader grade
    submissions/*.zip` relies on when a student's zip holds a YAML and submission_<id>/ folders.
    Anything else is read as an export only when asked (`grader grade --export`).
    """
    return _EXPORT_NAME.match(path.name) is not None and holds_metadata(path)


def holds_metadata(path: Path) -> bool:
    """Whether a folder or zip holds the export's YAML at its top or in its single top folder."""
    try:
        if path.is_dir():
            children = [c for c in path.iterdir() if not c.name.startswith(".") and c.name != "__MACOSX"]
            return (path / _METADATA).is_file() or (
                len(children) == 1 and children[0].is_dir() and (children[0] / _METADATA).is_file())
        if not is_zip(path):
            return False
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False  # unreadable: no export; a damaged zip is graded as a submission, with a message
    tops = {name.split("/", 1)[0] for name in names if not name.startswith("__MACOSX/")}
    return _METADATA in names or (len(tops) == 1 and f"{tops.pop()}/{_METADATA}" in names)


def read_export(
    path: Path,
    workdir: Path,
    limits: ZipLimits = EXPORT_LIMITS,
    *,
    notes: list[str] | None = None,
) -> list[ExportedSubmission]:
    """The submissions of an export zip (extracted under `workdir`) or folder, sorted by id.

    `workdir` should be an empty folder; an already-extracted folder is read in place and
    `workdir` is unused. Inconsistencies between the YAML and the folders, and members the
    extraction skipped, are appended to `notes` (when given) and logged.
    """
    path = Path(path)
    if path.is_dir():
        top = path
    elif is_zip(path):
        top = Path(workdir)
        try:
            extract_zip(path, top, limits, notes=notes)
        except StudentFileError as exc:
            raise GraderError(f"{path}: cannot extract the Gradescope export: {exc}") from exc
    else:
        raise GraderError(f"{path}: not a Gradescope export (neither a folder nor a zip file)")
    root = _find_root(top, path)
    entries = _read_yaml(root / _METADATA, notes)
    folders = {
        match["id"]: child
        for child in root.iterdir()
        if child.is_dir() and (match := _SUBMISSION.match(child.name))
    }
    for sub_id in sorted(set(entries) - set(folders), key=_id_order):
        _note(notes, f"submission {sub_id} is listed in {_METADATA} but has no folder: skipped")
    submissions = []
    for sub_id in sorted(folders, key=_id_order):
        entry = entries.get(sub_id)
        if entry is None and entries:
            _note(notes, f"submission_{sub_id}/ is not listed in {_METADATA}: submitters unknown")
        submitters, created_at = _entry(entry or {}, sub_id, notes)
        submissions.append(ExportedSubmission(sub_id, folders[sub_id], submitters, created_at))
    return submissions


def _note(notes: list[str] | None, message: str) -> None:
    """Record an inconsistency for the instructor and the log."""
    _log.warning("%s", message)
    if notes is not None:
        notes.append(message)


def _id_order(sub_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then any others by name."""
    return (0, int(sub_id), "") if sub_id.isdigit() else (1, 0, sub_id)


def _is_root(folder: Path) -> bool:
    """Whether `folder` directly holds the export's YAML or submission folders."""
    return (folder / _METADATA).is_file() or any(
        child.is_dir() and _SUBMISSION.match(child.name) for child in folder.iterdir()
    )


def _find_root(top: Path, source: Path) -> Path:
    """The folder holding the submissions: `top` itself or its single export subfolder."""
    if _is_root(top):
        return top
    children = [c for c in top.iterdir() if c.is_dir() and c.name != "__MACOSX"]
    named = [c for c in children if _EXPORT_ROOT.match(c.name)]
    # A renamed root folder is still accepted when it is the only one.
    for candidates in (named, children):
        if len(candidates) == 1 and _is_root(candidates[0]):
            return candidates[0]
    raise GraderError(
        f"{source}: no Gradescope export found (expected assignment_<id>_export/ with "
        f"{_METADATA} and submission_<id>/ folders)"
    )


def _read_yaml(path: Path, notes: list[str] | None) -> dict[str, Mapping[object, object]]:
    """The YAML's entries by submission id; empty (with a note) when the file is missing."""
    if not path.is_file():
        _note(notes, f"{_METADATA} is missing: submitters and times are unknown")
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GraderError(f"{path}: cannot read: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise GraderError(f"{path}: expected a mapping of submission_<id> keys at the top level")
    entries: dict[str, Mapping[object, object]] = {}
    for key, value in data.items():
        match = _SUBMISSION.match(str(key).lstrip(":"))
        if match is None or not isinstance(value, Mapping):
            _note(notes, f"{_METADATA}: ignored unexpected top-level entry {key!r}")
            continue
        entries[match["id"]] = value
    return entries


def _get(raw: Mapping[object, object], key: str) -> object:
    """`raw[':key']` as Ruby writes it, or `raw['key']` if the file was re-saved elsewhere."""
    return raw.get(f":{key}", raw.get(key))


def _entry(
    raw: Mapping[object, object], sub_id: str, notes: list[str] | None
) -> tuple[tuple[Submitter, ...], datetime | None]:
    """The submitters and creation time of one YAML entry."""
    people = _get(raw, "submitters")
    submitters = []
    for person in people if isinstance(people, list) else []:
        if not isinstance(person, Mapping):
            _note(notes, f"submission {sub_id}: ignored a submitter that is not a mapping")
            continue
        submitters.append(
            Submitter(
                name=_text(_get(person, "name")),
                email=_text(_get(person, "email")),
                sid=_text(_get(person, "sid")),
            )
        )
    return tuple(submitters), _created_at(_get(raw, "created_at"), sub_id)


def _created_at(value: object, sub_id: str) -> datetime | None:
    """The submission time, tz-aware; YAML timestamps without a zone are UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        # PyYAML returns naive datetimes for zone-less timestamps (and, before 5.3, for all
        # timestamps after converting them to UTC).
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return parse_timestamp(value, f"submission_{sub_id}.:created_at")


def _text(value: object) -> str:
    """A string field; missing is empty, unquoted numbers (an sid) become their digits."""
    return "" if value is None else str(value)
