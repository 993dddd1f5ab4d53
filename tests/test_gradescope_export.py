"""Tests of grader.gradescope.export on an export built like Gradescope's (Ruby-style YAML)."""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.gradescope import ExportedSubmission, Submitter, read_export

ROOT = "assignment_4242_export"

# As Ruby's Psych writes it: symbol keys with a literal colon, a plain scalar with a comma,
# quoted sids, nine-digit fractions with a spaced zone, nulls in stored results, a history.
YAML = """\
---
submission_1001:
  :submitters:
  - :name: Doe, Jane
    :sid: '20231234'
    :email: jdoe@uni.example.edu
  :created_at: 2023-12-02 02:52:07.938335000 Z
  :score: 18.0
  :status: processed
  :results:
    score: 18.0
    tests:
    - name: q1
      score: 5.0
      max_score: 5.0
      status:
      tags:
    output:
    extra_data: {}
    visibility:
    leaderboard:
    output_format:
    execution_time: '1.25'
    test_name_format:
    test_output_format:
  :history:
  - :submitters: []
    :created_at: 2023-12-01 20:00:00.000000000 Z
    :score: 12.0
    :status: processed
    :results: {}
    :id: 900
submission_1002:
  :submitters:
  - :name: Li Wei
    :sid: '20235678'
    :email: lwei@uni.example.edu
  - :name: O'Brien, Pat
    :sid: ''
    :email: pobrien@uni.example.edu
  :created_at: 2023-12-01 18:30:00.000000000 -08:00
  :score: 20.0
  :status: processed
submission_1004:
  :submitters:
  - :name: Ghost, Casper
    :sid: '1'
    :email: ghost@uni.example.edu
  :created_at: 2023-12-01 10:00:00.000000000 Z
"""

FILES = {
    "submission_1001/hw1.ipynb": b'{"cells": []}',
    "submission_1002/hw1.ipynb": b'{"cells": [1]}',
    "submission_1002/weights/model.npz": b"\x00" * 64,
    "submission_1003/hw1.ipynb": b"{}",  # not in the YAML
}


def build_export(folder: Path, yaml_text: str | None = YAML) -> Path:
    """Write the export's files under `folder` (its contents as in the zip's root folder)."""
    folder.mkdir(parents=True)
    if yaml_text is not None:
        (folder / "submission_metadata.yml").write_text(yaml_text, encoding="utf-8")
    for name, data in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def build_export_zip(tmp_path: Path, yaml_text: str | None = YAML) -> Path:
    """The export as Gradescope's download: one zip with `assignment_<id>_export/` at its root."""
    zip_path = tmp_path / "export.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if yaml_text is not None:
            archive.writestr(f"{ROOT}/submission_metadata.yml", yaml_text)
        for name, data in FILES.items():
            archive.writestr(f"{ROOT}/{name}", data)
    return zip_path


def check_submissions(submissions: list[ExportedSubmission], root: Path) -> None:
    """The expected reading of YAML + FILES under `root`."""
    assert [s.id for s in submissions] == ["1001", "1002", "1003"]
    first, group, unlisted = submissions
    assert first.folder == root / "submission_1001"
    assert (first.folder / "hw1.ipynb").read_bytes() == b'{"cells": []}'
    assert first.submitters == (Submitter("Doe, Jane", "jdoe@uni.example.edu", "20231234"),)
    assert first.created_at == datetime(2023, 12, 2, 2, 52, 7, 938335, timezone.utc)
    assert group.submitters == (
        Submitter("Li Wei", "lwei@uni.example.edu", "20235678"),
        Submitter("O'Brien, Pat", "pobrien@uni.example.edu", ""),
    )
    assert group.created_at == datetime(2023, 12, 1, 18, 30, tzinfo=timezone(timedelta(hours=-8)))
    assert (group.folder / "weights" / "model.npz").is_file()
    assert unlisted.submitters == () and unlisted.created_at is None


def test_reads_export_zip(tmp_path: Path) -> None:
    """The zip is extracted under workdir; mismatches with the YAML are noted, not fatal."""
    workdir = tmp_path / "work"
    notes: list[str] = []
    submissions = read_export(build_export_zip(tmp_path), workdir, notes=notes)
    check_submissions(submissions, workdir / ROOT)
    assert notes == [
        "submission 1004 is listed in submission_metadata.yml but has no folder: skipped",
        "submission_1003/ is not listed in submission_metadata.yml: submitters unknown",
    ]


@pytest.mark.parametrize("level", ["parent", "root"])
def test_reads_extracted_folder(tmp_path: Path, level: str) -> None:
    """An extracted export is read in place, from its parent or from the export folder."""
    root = build_export(tmp_path / "download" / ROOT)
    given = root if level == "root" else root.parent
    check_submissions(read_export(given, tmp_path / "unused"), root)
    assert not (tmp_path / "unused").exists()


def test_renamed_single_root_folder(tmp_path: Path) -> None:
    """A root folder renamed by hand is still found when it is the only one."""
    root = build_export(tmp_path / "download" / "hw1 submissions")
    check_submissions(read_export(tmp_path / "download", tmp_path / "work"), root)


def test_missing_yaml(tmp_path: Path) -> None:
    """Without the YAML the submissions are still found, submitters and times unknown."""
    notes: list[str] = []
    zip_path = build_export_zip(tmp_path, yaml_text=None)
    submissions = read_export(zip_path, tmp_path / "w", notes=notes)
    assert [s.id for s in submissions] == ["1001", "1002", "1003"]
    assert all(s.submitters == () and s.created_at is None for s in submissions)
    assert notes == ["submission_metadata.yml is missing: submitters and times are unknown"]


def test_plain_keys_and_unquoted_sid(tmp_path: Path) -> None:
    """A YAML re-saved without Ruby symbols, with a numeric sid, still reads."""
    text = "submission_1001:\n  submitters:\n  - {name: Ann, sid: 42, email: a@x}\n"
    root = build_export(tmp_path / ROOT, yaml_text=text)
    first = read_export(root, tmp_path / "w")[0]
    assert first.submitters == (Submitter("Ann", "a@x", "42"),)
    assert first.created_at is None


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    """Python object tags are refused (safe_load), not executed."""
    marker = tmp_path / "pwned"
    text = f"submission_1001: !!python/object/apply:os.system ['touch {marker}']\n"
    root = build_export(tmp_path / ROOT, yaml_text=text)
    with pytest.raises(GraderError, match="cannot read"):
        read_export(root, tmp_path / "w")
    assert not marker.exists()


def test_malformed_yaml(tmp_path: Path) -> None:
    """A YAML that is not a mapping of submissions is the instructor's problem."""
    root = build_export(tmp_path / ROOT, yaml_text="- just\n- a list\n")
    with pytest.raises(GraderError, match="expected a mapping"):
        read_export(root, tmp_path / "w")


def test_hostile_export_zip_is_a_grader_error(tmp_path: Path) -> None:
    """The export goes through safezip; its refusal is reported to the instructor."""
    zip_path = tmp_path / "export.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(f"{ROOT}/submission_1/../../../evil", b"x")
    with pytest.raises(GraderError, match="outside the submission folder"):
        read_export(zip_path, tmp_path / "work")
    assert not (tmp_path / "evil").exists()


def test_not_an_export(tmp_path: Path) -> None:
    """A text file or a folder without submissions is refused with a clear message."""
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(GraderError, match="neither a folder nor a zip"):
        read_export(text, tmp_path / "w")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GraderError, match="no Gradescope export found"):
        read_export(tmp_path / "empty", tmp_path / "w")


def test_an_export_is_recognised_only_by_its_name_and_top(tmp_path: Path) -> None:
    """Named like the download, with the YAML at its top: an export; nothing deeper ever counts."""
    from grader.gradescope.export import holds_metadata, looks_like_export

    download = build_export_zip(tmp_path)
    named = download.rename(tmp_path / "assignment_4242_export.zip")
    assert looks_like_export(named) and holds_metadata(named)
    renamed = tmp_path / "export (1).zip"
    renamed.write_bytes(named.read_bytes())
    assert holds_metadata(renamed) and not looks_like_export(renamed)
    folder = build_export(tmp_path / "unpacked" / ROOT)
    assert looks_like_export(folder) and looks_like_export(folder.parent.rename(tmp_path / f"{ROOT} (2)"))
    deep = tmp_path / "assignment_1_export.zip"
    with zipfile.ZipFile(deep, "w") as archive:  # a student's folder inside: not the top
        archive.writestr("a/alice/submission_metadata.yml", YAML)
        archive.writestr("b/x.txt", "x")
    assert not holds_metadata(deep) and not looks_like_export(deep)
    damaged = tmp_path / "assignment_2_export.zip"
    damaged.write_bytes(b"PK\x03\x04 not really")
    assert not looks_like_export(damaged)
    assert not looks_like_export(tmp_path / "assignment_3_export")  # missing
