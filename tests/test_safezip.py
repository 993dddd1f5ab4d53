"""Tests of grader.safezip: normal extraction and the attacks a hostile zip can attempt."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from grader.errors import StudentFileError
from grader.safezip import ZipLimits, extract_zip, is_zip


def make_zip(
    path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED
) -> Path:
    """Write `members` (name -> content) to a zip at `path`."""
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


def tree(root: Path) -> list[str]:
    """Every path under `root`, relative and sorted (empty if `root` does not exist)."""
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_extracts_files_and_folders(tmp_path: Path) -> None:
    """Regular members land under dest; macOS junk is skipped; returned paths are the files."""
    zip_path = make_zip(
        tmp_path / "sub.zip",
        {
            "hw1/": b"",
            "hw1/hw1.ipynb": b'{"cells": []}',
            "hw1/data/weights.npz": b"\x00\x01" * 100,
            "__MACOSX/hw1/._hw1.ipynb": b"junk",
            "hw1/.DS_Store": b"junk",
            "./notes.txt": b"hello",
        },
    )
    dest = tmp_path / "out"
    written = extract_zip(zip_path, dest)
    assert written == [dest / "hw1/hw1.ipynb", dest / "hw1/data/weights.npz", dest / "notes.txt"]
    assert (dest / "hw1/hw1.ipynb").read_bytes() == b'{"cells": []}'
    assert tree(dest) == [
        "hw1", "hw1/data", "hw1/data/weights.npz", "hw1/hw1.ipynb", "notes.txt"
    ]


def test_backslashes_are_separators(tmp_path: Path) -> None:
    """Old Windows tools write `folder\\file`: it becomes a folder, not an odd file name."""
    zip_path = make_zip(tmp_path / "sub.zip", {"hw1\\answers.md": b"42"})
    dest = tmp_path / "out"
    assert extract_zip(zip_path, dest) == [dest / "hw1" / "answers.md"]


@pytest.mark.parametrize(
    "name",
    ["../evil", "hw1/../../evil", "/abs", "/etc/cron.d/evil", "C:/evil", "c:evil",
     "..\\evil", "hw1\\..\\..\\evil", "\\abs", "//server/share/evil"],
)
def test_path_traversal_is_refused(tmp_path: Path, name: str) -> None:
    """Names escaping dest are refused, the member is named, and nothing at all is written."""
    zip_path = make_zip(tmp_path / "sub.zip", {"ok.txt": b"fine", name: b"pwned"})
    dest = tmp_path / "deep" / "out"
    with pytest.raises(StudentFileError) as caught:
        extract_zip(zip_path, dest)
    assert repr(name) in str(caught.value)
    assert tree(tmp_path) == ["sub.zip"]


def test_symlink_is_skipped_with_a_note(tmp_path: Path) -> None:
    """A symlink member is not created (neither as a link nor as a file) and a note says so."""
    zip_path = tmp_path / "sub.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        link = zipfile.ZipInfo("hw1/secret")
        link.create_system = 3  # Unix: the mode in external_attr is meaningful
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("hw1/hw1.ipynb", "{}")
    dest = tmp_path / "out"
    notes: list[str] = []
    assert extract_zip(zip_path, dest, notes=notes) == [dest / "hw1" / "hw1.ipynb"]
    assert not os.path.lexists(dest / "hw1" / "secret")
    assert len(notes) == 1 and "'hw1/secret'" in notes[0] and "symbolic link" in notes[0]


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    """Two members with one name: which one wins would be arbitrary."""
    zip_path = tmp_path / "sub.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns "Duplicate name"
        with zipfile.ZipFile(zip_path, "w") as archive:
            archive.writestr("hw1.ipynb", "first")
            archive.writestr("hw1.ipynb", "second")
    with pytest.raises(StudentFileError, match=r"'hw1\.ipynb' more than once"):
        extract_zip(zip_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_duplicate_after_normalisation_is_refused(tmp_path: Path) -> None:
    """`a/./b` and `a\\b` are the same file as `a/b`."""
    zip_path = make_zip(tmp_path / "sub.zip", {"a/b": b"1", "a/./b": b"2"})
    with pytest.raises(StudentFileError, match="more than once"):
        extract_zip(zip_path, tmp_path / "out")


@pytest.mark.parametrize("names", [["a", "a/b"], ["a/b", "a"], ["a", "a/"]])
def test_file_and_folder_with_one_name_is_refused(tmp_path: Path, names: list[str]) -> None:
    """A name cannot be a file and a folder at once."""
    zip_path = make_zip(tmp_path / "sub.zip", {n: b"" if n.endswith("/") else b"x" for n in names})
    with pytest.raises(StudentFileError, match="both as a file and as a folder"):
        extract_zip(zip_path, tmp_path / "out")


def test_too_many_files_is_refused(tmp_path: Path) -> None:
    """10,000 members exceed the default 2,000 before anything is written."""
    zip_path = tmp_path / "many.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(10_000):
            archive.writestr(f"f/{i}.txt", b"")
    with pytest.raises(StudentFileError, match="more than 2000 files"):
        extract_zip(zip_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_ratio_bomb_is_refused(tmp_path: Path) -> None:
    """50 MB of zeros deflates to about 50 KB (1000:1): under the size limits, over the ratio."""
    zip_path = make_zip(tmp_path / "bomb.zip", {"readme.txt": b"hi", "zeros.bin": bytes(50 << 20)})
    info = zipfile.ZipFile(zip_path).getinfo("zeros.bin")
    assert info.file_size / info.compress_size > 200
    with pytest.raises(StudentFileError, match=r"'zeros\.bin'.*zip bomb"):
        extract_zip(zip_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_small_compressible_files_are_not_bombs(tmp_path: Path) -> None:
    """A small file of blanks compresses beyond 200:1 yet is harmless, so it is extracted."""
    zip_path = make_zip(tmp_path / "sub.zip", {"blank.txt": b" " * 500_000})
    info = zipfile.ZipFile(zip_path).getinfo("blank.txt")
    assert info.file_size / info.compress_size > 200
    assert extract_zip(zip_path, tmp_path / "out") == [tmp_path / "out" / "blank.txt"]


def test_declared_size_over_the_file_limit_is_refused(tmp_path: Path) -> None:
    """A member's declared size is checked before it is opened."""
    zip_path = make_zip(tmp_path / "sub.zip", {"big.bin": os.urandom(4000)})
    with pytest.raises(StudentFileError, match=r"'big\.bin'.*limit per file"):
        extract_zip(zip_path, tmp_path / "out", ZipLimits(max_file_bytes=1000))


def test_total_size_over_the_limit_is_refused(tmp_path: Path) -> None:
    """Many members each under the file limit can still exceed the total."""
    members = {f"{i}.bin": os.urandom(1000) for i in range(5)}
    zip_path = make_zip(tmp_path / "sub.zip", members)
    limits = ZipLimits(max_file_bytes=1000, max_total_bytes=3500)
    with pytest.raises(StudentFileError, match=r"more than 0\.0 MB \(reached at '3.bin'\)"):
        extract_zip(zip_path, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()


def _patch_headers(zip_path: Path, name: str, field: str, value: int) -> None:
    """Rewrite one field of `name`'s local header and central directory entry in place.

    `field` is "size" (uncompressed size, 4 bytes) or "flags" (general-purpose bits, 2 bytes);
    offsets are those of the zip specification (APPNOTE 4.3.7 and 4.3.12).
    """
    fmt, local_at, central_at = {"size": ("<I", 22, 24), "flags": ("<H", 6, 8)}[field]
    data = bytearray(zip_path.read_bytes())
    encoded = name.encode()
    patched = 0
    for signature, field_at, name_at, length_at in ((b"PK\x03\x04", local_at, 30, 26),
                                                    (b"PK\x01\x02", central_at, 46, 28)):
        start = data.find(signature)
        while start != -1:
            (length,) = struct.unpack_from("<H", data, start + length_at)
            if data[start + name_at : start + name_at + length] == encoded:
                struct.pack_into(fmt, data, start + field_at, value)
                patched += 1
            start = data.find(signature, start + 4)
    assert patched == 2
    zip_path.write_bytes(bytes(data))


def test_member_whose_declared_size_lies_is_refused(tmp_path: Path) -> None:
    """A crafted central directory declares 1,000 bytes for 1 MB of data: refused, cleaned up.

    zipfile stops at the declared size and then fails the CRC check; either that or the
    byte counter refuses the member, and the file already written before it is removed.
    """
    zip_path = make_zip(tmp_path / "sub.zip", {"ok.txt": b"fine", "liar.bin": bytes(1 << 20)})
    _patch_headers(zip_path, "liar.bin", "size", 1000)
    assert zipfile.ZipFile(zip_path).getinfo("liar.bin").file_size == 1000
    with pytest.raises(StudentFileError, match=r"'liar\.bin'"):
        extract_zip(zip_path, tmp_path / "out")
    assert tree(tmp_path / "out") == []
    assert not (tmp_path / "out").exists()


def test_actual_bytes_are_counted_while_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a reader ever returned more than declared, the byte counter stops the write."""
    zip_path = make_zip(tmp_path / "sub.zip", {"small.txt": b"0123456789"})
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: io.BytesIO(bytes(1 << 20)))
    with pytest.raises(StudentFileError, match="expands to more than it declares"):
        extract_zip(zip_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_encrypted_member_is_refused(tmp_path: Path) -> None:
    """Members flagged as encrypted are refused with a message, not a password prompt."""
    zip_path = make_zip(tmp_path / "sub.zip", {"secret.txt": b"not really encrypted"})
    _patch_headers(zip_path, "secret.txt", "flags", 0x1)  # zipfile cannot write encryption
    with pytest.raises(StudentFileError, match="password-protected"):
        extract_zip(zip_path, tmp_path / "out")


def test_bzip2_is_refused(tmp_path: Path) -> None:
    """bzip2 decompresses in one unbounded call inside zipfile, so it is not accepted."""
    zip_path = make_zip(tmp_path / "sub.zip", {"a.txt": b"hello"}, method=zipfile.ZIP_BZIP2)
    with pytest.raises(StudentFileError, match=r"'a\.txt'.*compression method"):
        extract_zip(zip_path, tmp_path / "out")


def test_custom_file_limit(tmp_path: Path) -> None:
    """Folders count towards max_files too."""
    zip_path = make_zip(tmp_path / "sub.zip", {"a/": b"", "a/1": b"1", "a/2": b"2"})
    with pytest.raises(StudentFileError, match="more than 2 files"):
        extract_zip(zip_path, tmp_path / "out", ZipLimits(max_files=2))


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"just some text, not a zip", "is not a zip file"), (b"", "is not a zip file")],
)
def test_not_a_zip(tmp_path: Path, content: bytes, message: str) -> None:
    """A file that is not a zip is the student's error, with a readable message."""
    path = tmp_path / "submission.zip"
    path.write_bytes(content)
    with pytest.raises(StudentFileError, match=message):
        extract_zip(path, tmp_path / "out")


def test_truncated_zip(tmp_path: Path) -> None:
    """A zip cut short loses its central directory: not recognisable as a zip."""
    zip_path = make_zip(tmp_path / "sub.zip", {"a.txt": os.urandom(5000)})
    zip_path.write_bytes(zip_path.read_bytes()[:3000])
    with pytest.raises(StudentFileError):
        extract_zip(zip_path, tmp_path / "out")


def test_missing_file(tmp_path: Path) -> None:
    """A missing zip is reported by name."""
    with pytest.raises(StudentFileError, match=r"'nothing\.zip' was not found"):
        extract_zip(tmp_path / "nothing.zip", tmp_path / "out")


def test_is_zip(tmp_path: Path) -> None:
    """Only readable zip files are zips."""
    zip_path = make_zip(tmp_path / "sub.zip", {"a.txt": b"a"})
    text = tmp_path / "a.txt"
    text.write_text("hello")
    assert is_zip(zip_path)
    assert not is_zip(text)
    assert not is_zip(tmp_path)
    assert not is_zip(tmp_path / "missing.zip")


def test_the_limits_let_a_notebook_full_of_outputs_through() -> None:
    """A notebook's plots can make it hundreds of MB; the notebook reader skips them (issue 9 §4)."""
    from grader.notebook import MAX_NOTEBOOK_FILE_BYTES

    limits = ZipLimits()
    assert limits.max_file_bytes >= MAX_NOTEBOOK_FILE_BYTES >= 100 * 2**20
    assert limits.max_total_bytes >= 2 * limits.max_file_bytes


def test_an_oversized_notebook_in_a_zip_is_told_to_clear_outputs(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "sub.zip", {"hw1_code.ipynb": os.urandom(4000), "data.bin": os.urandom(4000)})
    with pytest.raises(StudentFileError, match=r"limit per file\. A notebook this large .*Edit > Clear All Outputs"):
        extract_zip(zip_path, tmp_path / "out", ZipLimits(max_file_bytes=1000))
    zip_path = make_zip(tmp_path / "other.zip", {"data.bin": os.urandom(4000)})
    with pytest.raises(StudentFileError, match=r"limit per file\.$"):
        extract_zip(zip_path, tmp_path / "out", ZipLimits(max_file_bytes=1000))
