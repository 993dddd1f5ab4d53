"""Removing a child's leftovers: deep trees, unreadable folders, files that cannot go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.sandbox.cleanup import remove_tree


def _deep_tree(top: Path, depth: int) -> None:
    """A chain of folders deeper than any path can name (made relative, as a cell would)."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    try:
        for level in range(depth):
            os.mkdir("d", dir_fd=fd)
            if level % 100 == 0:
                with open(os.open("f", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd), "w") as handle:
                    handle.write("x")
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def test_a_tree_deeper_than_recursion_and_path_max_is_removed(tmp_path: Path) -> None:
    top = tmp_path / "deep"
    _deep_tree(top, 3000)  # 3,000 levels: rmtree's recursion fails; "d/" * 3000 > PATH_MAX
    outcome = remove_tree(top)
    assert outcome.complete and not top.exists()
    assert outcome.removed == 3000 + 30 + 1


def test_files_links_and_unreadable_folders(tmp_path: Path) -> None:
    top = tmp_path / "t"
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "f").write_text("x")
    outside = tmp_path / "keep.txt"
    outside.write_text("kept")
    (top / "link").symlink_to(outside)
    (top / "dirlink").symlink_to(tmp_path)
    (top / "a").chmod(0)
    outcome = remove_tree(top)
    assert outcome.complete and not top.exists()
    assert outside.read_text() == "kept"  # links are removed, never followed


def test_what_cannot_be_removed_is_counted_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path / "t"
    (top / "a").mkdir(parents=True)
    (top / "a" / "stuck").write_text("x")
    (top / "gone").write_text("x")
    real_unlink = os.unlink

    def unlink(name: str, *args: object, **kwargs: object) -> None:
        if os.path.basename(name) == "stuck":
            raise PermissionError(1, "Operation not permitted")
        real_unlink(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", unlink)
    outcome = remove_tree(top)
    assert not outcome.complete and outcome.failed >= 1 and not outcome.gave_up
    assert (top / "a" / "stuck").exists() and not (top / "gone").exists()


def test_the_work_is_bounded(tmp_path: Path) -> None:
    top = tmp_path / "t"
    top.mkdir()
    for i in range(50):
        (top / str(i)).write_text("x")
    outcome = remove_tree(top, max_entries=10)
    assert outcome.gave_up and not outcome.complete


def test_a_missing_path_or_a_file(tmp_path: Path) -> None:
    assert remove_tree(tmp_path / "none").complete
    single = tmp_path / "f"
    single.write_text("x")
    assert remove_tree(single).complete and not single.exists()
