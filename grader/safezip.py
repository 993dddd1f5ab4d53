"""Safe extraction of untrusted zip files: student submissions and Gradescope exports.

Every member name is validated before anything is written, so a hostile archive leaves nothing
behind; sizes are checked against the declared values up front and again against the bytes
actually written, because the central directory is attacker-controlled. What is refused:

- names that escape the destination: `..` components, absolute paths, drive letters. Backslashes
  are read as separators (old Windows zip tools write them), so `..\\evil` is traversal too;
- duplicate names, and a name used both as a file and as a folder;
- more than `max_files` entries, members or totals over the byte limits, compression-ratio bombs;
- encrypted members and compression methods other than stored/deflate: bzip2 and LZMA are
  decompressed by `zipfile` in one unbounded call, so a small member could exhaust memory.

Symbolic links and other special files (device, FIFO, socket) are skipped, not refused, with a
note: a macOS zip of a project folder often contains a virtualenv full of links, and refusing
the whole submission for it would be harsher than a missing-file message from the loader that
needed the file. `__MACOSX/` folders and `.DS_Store` files are skipped silently. Extracted
files get default permissions (no executable bits) and the current time.

Errors are `StudentFileError` with a message addressed to the student that names the member.
"""

from __future__ import annotations

import logging
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.errors import StudentFileError

__all__ = ["ZipLimits", "extract_zip", "is_zip"]

_log = logging.getLogger(__name__)

_MIB = 1024 * 1024
# Read size while streaming: bounds memory per member since deflate output is capped by it.
_CHUNK = 64 * 1024
_SUPPORTED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_DRIVE = re.compile(r"^[A-Za-z]:")
_SKIPPED_FOLDERS = frozenset({"__MACOSX"})
_SKIPPED_FILES = frozenset({".DS_Store"})


@dataclass(frozen=True)
class ZipLimits:
    """Limits on what one archive may expand to (sizes in bytes, 1 MB = 2**20 bytes).

    `max_files` counts every entry that would be extracted, folders included. The ratio limit
    applies only to members of at least `ratio_min_bytes`: a small file of blanks legitimately
    compresses far beyond 200:1, and small files cannot amount to a bomb under `max_total_bytes`.
    """

    max_files: int = 2000
    # A notebook's stored outputs (plots) can make it hundreds of MB, and the notebook reader
    # skips them as it reads (grader/notebook.py: MAX_NOTEBOOK_FILE_BYTES): such a zip must open.
    max_total_bytes: int = 512 * _MIB
    max_file_bytes: int = 256 * _MIB
    max_ratio: float = 200
    ratio_min_bytes: int = 1 * _MIB


@dataclass(frozen=True)
class _Member:
    """A validated archive entry and where it goes, relative to the destination."""

    info: zipfile.ZipInfo
    relative: PurePosixPath
    is_dir: bool


def is_zip(path: Path) -> bool:
    """Whether `path` is a readable file with a zip end-of-central-directory record."""
    try:
        return Path(path).is_file() and zipfile.is_zipfile(path)
    except OSError:
        return False


def extract_zip(
    zip_path: Path,
    dest: Path,
    limits: ZipLimits = ZipLimits(),  # frozen, so one shared default is safe
    *,
    notes: list[str] | None = None,
) -> list[Path]:
    """Extract `zip_path` under `dest` and return the files written (`dest / name`), in order.

    Raises `StudentFileError` when the archive is unusable or hostile; in that case every file
    and folder this call created is removed again. Skipped members are described in `notes`
    (when given) for the student, and logged.
    """
    zip_path = Path(zip_path)
    dest = Path(dest)
    if not zip_path.exists():
        raise StudentFileError(f"The file '{zip_path.name}' was not found.")
    if not is_zip(zip_path):
        raise StudentFileError(f"'{zip_path.name}' is not a zip file.")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = _plan(archive.infolist(), limits, notes)
            return _write_all(archive, members, dest, limits)
    except zipfile.BadZipFile as exc:
        raise StudentFileError(f"'{zip_path.name}' is damaged and cannot be read: {exc}") from exc


def _note(notes: list[str] | None, message: str) -> None:
    """Record a skipped member for the student and the log."""
    _log.warning("%s", message)
    if notes is not None:
        notes.append(message)


def _safe_relative(raw_name: str) -> PurePosixPath:
    """The member's path relative to the destination, or `StudentFileError` if it escapes."""
    name = raw_name.replace("\\", "/")
    shown = repr(raw_name)
    if any(ord(ch) < 32 for ch in name):
        raise StudentFileError(f"The zip contains a file name with control characters: {shown}.")
    if name.startswith("/") or _DRIVE.match(name):
        raise StudentFileError(
            f"The zip contains an absolute path {shown}; zip your files from inside your project "
            "folder so that every name is relative."
        )
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise StudentFileError(
            f"The zip contains {shown}, a path that points outside the submission folder ('..'); "
            "re-create the zip from inside your project folder."
        )
    return PurePosixPath(*parts)


def _plan(
    infos: list[zipfile.ZipInfo], limits: ZipLimits, notes: list[str] | None
) -> list[_Member]:
    """Validate every entry before anything is written; return the entries to extract."""
    members: list[_Member] = []
    files: set[PurePosixPath] = set()
    folders: set[PurePosixPath] = set()
    total = 0
    for info in infos:
        relative = _safe_relative(info.filename)
        if not relative.parts:
            continue  # "./" or "/": the root folder itself
        if _SKIPPED_FOLDERS.intersection(relative.parts) or relative.name in _SKIPPED_FILES:
            continue
        shown = repr(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            _note(notes, f"Skipped {shown}: symbolic links are not extracted from submissions.")
            continue
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            _note(notes, f"Skipped {shown}: it is a special file, not a regular file.")
            continue
        is_dir = info.filename.replace("\\", "/").endswith("/") or stat.S_ISDIR(mode)
        if is_dir:
            if relative in files:
                raise _conflict(shown)
            folders.add(relative)
        else:
            if relative in files:
                raise StudentFileError(
                    f"The zip contains {shown} more than once; keep one copy and zip again."
                )
            if relative in folders:
                raise _conflict(shown)
            files.add(relative)
            _check_declared(info, limits)
            total += info.file_size
            if total > limits.max_total_bytes:
                raise StudentFileError(
                    f"The zip expands to more than {_mb(limits.max_total_bytes)} "
                    f"(reached at {shown}); remove data files the assignment does not ask for."
                )
        parents = set(relative.parents) - {PurePosixPath(".")}
        if parents & files:
            raise _conflict(shown)
        folders |= parents
        members.append(_Member(info, relative, is_dir))
        if len(members) > limits.max_files:
            raise StudentFileError(
                f"The zip contains more than {limits.max_files} files and folders; "
                "remove generated or downloaded files and zip again."
            )
    return members


def _conflict(shown: str) -> StudentFileError:
    """The error for a name that is used both as a file and as a folder."""
    return StudentFileError(f"The zip uses {shown} both as a file and as a folder.")


def _check_declared(info: zipfile.ZipInfo, limits: ZipLimits) -> None:
    """Refuse a file member by its declared sizes, encryption and compression method."""
    shown = repr(info.filename)
    if info.flag_bits & 0x1:
        raise StudentFileError(f"{shown} in the zip is password-protected; zip it without one.")
    if info.compress_type not in _SUPPORTED_METHODS:
        raise StudentFileError(
            f"{shown} in the zip uses an unsupported compression method "
            f"(#{info.compress_type}); use the standard 'deflate' compression."
        )
    if info.file_size > limits.max_file_bytes:
        hint = ""
        if info.filename.lower().endswith(".ipynb"):
            hint = (" A notebook this large is almost all stored outputs: clear all outputs (JupyterLab: "
                    "Edit > Clear All Outputs; Colab: Edit > Clear all outputs), save, and zip it again.")
        raise StudentFileError(
            f"{shown} in the zip is {_mb(info.file_size)}, over the "
            f"{_mb(limits.max_file_bytes)} limit per file.{hint}"
        )
    if _ratio_exceeded(info.file_size, info.compress_size, limits):
        raise StudentFileError(
            f"{shown} in the zip is compressed more than {limits.max_ratio:g}:1, which "
            "looks like a zip bomb; it was not extracted."
        )


def _ratio_exceeded(size: int, compressed: int, limits: ZipLimits) -> bool:
    """Whether `size` uncompressed bytes from `compressed` bytes exceed the ratio limit."""
    return size >= limits.ratio_min_bytes and size > limits.max_ratio * max(compressed, 1)


def _mb(size: int) -> str:
    """A byte count for a message, in MB."""
    return f"{size / _MIB:.1f} MB"


def _write_all(
    archive: zipfile.ZipFile, members: list[_Member], dest: Path, limits: ZipLimits
) -> list[Path]:
    """Write the planned members; on any failure remove what this call created."""
    created_files: list[Path] = []
    created_dirs: list[Path] = []
    written: list[Path] = []
    try:
        created_dirs.extend(_mkdirs(dest))
        root = dest.resolve()
        total = 0
        for member in members:
            target = dest.joinpath(*member.relative.parts)
            # Belt and braces: no name can escape after _safe_relative, but a pre-existing
            # symlink inside `dest` could; resolve() follows it.
            if not target.resolve().is_relative_to(root):
                raise StudentFileError(f"{member.info.filename!r} points outside the folder.")
            if member.is_dir:
                created_dirs.extend(_mkdirs(target))
                continue
            created_dirs.extend(_mkdirs(target.parent))
            created_files.append(target)
            total += _stream(archive, member.info, target, limits, limits.max_total_bytes - total)
            written.append(target)
    except BaseException:
        _cleanup(created_files, created_dirs)
        raise
    return written


def _mkdirs(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return the ones created, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    missing.reverse()
    for path in missing:
        path.mkdir()
    return missing


def _stream(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    limits: ZipLimits,
    budget: int,
) -> int:
    """Copy one member to `target`, counting real bytes; return how many were written."""
    shown = repr(info.filename)
    # The declared size may lie (a crafted central directory): the real count must not pass it.
    cap = min(info.file_size, limits.max_file_bytes, budget)
    written = 0
    try:
        with archive.open(info) as source, target.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > cap or _ratio_exceeded(written, info.compress_size, limits):
                    raise StudentFileError(
                        f"{shown} in the zip expands to more than it declares "
                        f"({info.file_size} bytes) or past the size limits; the zip is damaged "
                        "or crafted and was not extracted."
                    )
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise StudentFileError(f"{shown} in the zip is damaged and cannot be read: {exc}") from exc
    except (NotImplementedError, RuntimeError) as exc:  # unsupported feature, encryption
        raise StudentFileError(f"{shown} in the zip cannot be extracted: {exc}") from exc
    if written != info.file_size:
        raise StudentFileError(
            f"{shown} in the zip declares {info.file_size} bytes but holds {written}; "
            "the zip is damaged."
        )
    return written


def _cleanup(files: list[Path], folders: list[Path]) -> None:
    """Best-effort removal of what a failed extraction created, innermost folders first."""
    for path in files:
        path.unlink(missing_ok=True)
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty (something else wrote there) or already gone: leave it
