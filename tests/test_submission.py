"""Finding a submission's files: browser-renamed copies, and what a missing file's message lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.submission import locate_files, looks_like_submission, open_submission

WANTED = {"written": "hw1_written.yaml", "notebook": "hw1_code.ipynb", "weights": "hw1_weights.npz"}


def _folder(tmp_path: Path, *names: str) -> Path:
    """A submission folder holding empty files of these names (a name may hold one folder)."""
    root = tmp_path / "sub"
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
    return root


@pytest.mark.parametrize(("name", "role"), [
    ("hw1_code (1).ipynb", "notebook"),      # Chrome, Safari, Edge
    ("hw1_code(1).ipynb", "notebook"),       # Firefox
    ("HW1_Code (12).IPYNB", "notebook"),
    ("hw1_written (2).yaml", "written"),
    ("hw1_weights (1).npz", "weights"),
    ("hw1_code_abc123 (1).ipynb", "notebook"),  # the UNI suffix, then a download copy
])
def test_browser_download_copy_is_accepted_with_a_note(tmp_path: Path, name: str, role: str) -> None:
    """A name with the " (N)" a browser adds is the file, and the student is told to rename it."""
    files, problems, notes = locate_files(_folder(tmp_path, name), WANTED)
    assert files[role].name == name
    assert role not in problems
    note = next(note for note in notes if note.startswith(f"Used {name} as {WANTED[role]}"))
    if "(" in name:
        assert "browser" in note and f"Name it {WANTED[role]} next time." in note


def test_exact_name_wins_over_a_download_copy(tmp_path: Path) -> None:
    """hw1_code.ipynb and hw1_code (1).ipynb: the exact name is graded, and the note says so."""
    files, problems, notes = locate_files(_folder(tmp_path, "hw1_code.ipynb", "hw1_code (1).ipynb"), WANTED)
    assert files["notebook"].name == "hw1_code.ipynb"
    assert "notebook" not in problems
    assert notes == ["Graded hw1_code.ipynb; also found hw1_code (1).ipynb, which was not graded. If your "
                     "work is there, submit it as hw1_code.ipynb alone."]


def test_two_download_copies_are_two_candidates(tmp_path: Path) -> None:
    """Two copies and no exact name: a clear message naming both, never a guess."""
    files, problems, _ = locate_files(_folder(tmp_path, "hw1_code (1).ipynb", "hw1_code (2).ipynb"), WANTED)
    assert "notebook" not in files
    assert problems["notebook"] == ("Found 2 files that could be hw1_code.ipynb (hw1_code (1).ipynb, "
                                    "hw1_code (2).ipynb); submit exactly one.")


def test_duplicates_in_a_nested_folder_are_still_two_candidates(tmp_path: Path) -> None:
    """hw1_code.ipynb at the top and one folder down: both named by their path."""
    _, problems, _ = locate_files(_folder(tmp_path, "hw1_code.ipynb", "old/hw1_code.ipynb"), WANTED)
    assert problems["notebook"] == ("Found 2 files that could be hw1_code.ipynb (hw1_code.ipynb, "
                                    "old/hw1_code.ipynb); submit exactly one.")


def test_missing_file_lists_the_files_that_may_be_it(tmp_path: Path) -> None:
    """One notebook under another name: named, with the rename to make."""
    root = _folder(tmp_path, "notebook.ipynb", "hw1_written.yaml", "README.md")
    _, problems, _ = locate_files(root, WANTED)
    assert problems["notebook"] == ("hw1_code.ipynb was not found; the submission has: notebook.ipynb. "
                                    "Rename it to hw1_code.ipynb.")
    assert problems["weights"] == "hw1_weights.npz was not found in the submission."


def test_missing_file_lists_several_candidates_but_not_files_in_use(tmp_path: Path) -> None:
    """Several near names (.yml is YAML, an editor's extra .txt); a file another role uses is not one."""
    root = _folder(tmp_path, "answers.yml", "hw1_written.yaml.txt", "draft/old.yaml", "hw1_code.ipynb")
    _, problems, _ = locate_files(root, WANTED)
    assert problems["written"] == ("hw1_written.yaml was not found; the submission has: answers.yml, "
                                   "draft/old.yaml, hw1_written.yaml.txt. Rename the right one to "
                                   "hw1_written.yaml.")
    # Two roles of one kind: the file of the one found is no candidate for the other.
    _, problems, _ = locate_files(_folder(tmp_path / "b", "part2.yaml"), {"one": "part1.yaml", "two": "part2.yaml"})
    assert problems == {"one": "part1.yaml was not found in the submission."}


def test_a_folder_of_download_copies_looks_like_a_submission(tmp_path: Path) -> None:
    """Batch discovery sees a folder holding only renamed copies as one submission."""
    assert looks_like_submission(_folder(tmp_path, "hw1_code (1).ipynb"), WANTED)
    assert not looks_like_submission(_folder(tmp_path / "other", "notes.txt"), WANTED)


def test_open_submission_keeps_the_note(tmp_path: Path) -> None:
    """The note reaches the Submission, whence the engine puts it in the top-level output."""
    root = _folder(tmp_path, "hw1_weights (1).npz")
    submission = open_submission(root, WANTED, tmp_path / "work")
    assert submission.files["weights"].name == "hw1_weights (1).npz"
    assert any("hw1_weights (1).npz" in note for note in submission.notes)


# ------------------------------------------------------------------ issue 9 §5: near-miss names
PERCENT_SCRIPT = "# %% [markdown]\n# # Homework 1\n\n# %%\nimport numpy as np\n"


@pytest.mark.parametrize("name", ["Copy of hw1_code.ipynb", "Copy_of_hw1_code.ipynb", "copy of hw1_code (1).ipynb",
                                  "Copy of hw1_code_abc123.ipynb"])
def test_a_colab_copy_is_accepted_with_a_note(tmp_path: Path, name: str) -> None:
    """Colab's "Copy of" (its download writes "Copy_of_"): used, and the student told, as a browser copy is."""
    files, problems, notes = locate_files(_folder(tmp_path, name), WANTED)
    assert files["notebook"].name == name and "notebook" not in problems
    assert notes == [f"Used {name} as hw1_code.ipynb: \"{name[:7]}\" is what Colab adds to the name of a "
                     "notebook it copies. Name it hw1_code.ipynb next time."]
    assert looks_like_submission(_folder(tmp_path / "b", name), WANTED)


def test_the_exact_name_wins_over_a_colab_copy(tmp_path: Path) -> None:
    files, _, notes = locate_files(_folder(tmp_path, "hw1_code.ipynb", "Copy of hw1_code.ipynb"), WANTED)
    assert files["notebook"].name == "hw1_code.ipynb"
    assert notes == ["Graded hw1_code.ipynb; also found Copy of hw1_code.ipynb, which was not graded. If your "
                     "work is there, submit it as hw1_code.ipynb alone."]


def test_a_percent_script_stands_for_a_missing_notebook(tmp_path: Path) -> None:
    """Only hw1_code.py: it was "hw1_code.ipynb was not found"; now it is read, and the note says how."""
    root = _folder(tmp_path)
    root.mkdir(parents=True)
    (root / "hw1_code.py").write_text(PERCENT_SCRIPT, encoding="utf-8")
    files, problems, notes = locate_files(root, WANTED)
    assert files["notebook"].name == "hw1_code.py" and "notebook" not in problems
    assert notes == ["Read hw1_code.py as the notebook hw1_code.ipynb: it is a Python script, and each `# %%` "
                     "line in it starts a cell. Next time submit the notebook itself, hw1_code.ipynb (in "
                     "Jupyter: File > Download; in Colab: File > Download > Download .ipynb)."]
    assert looks_like_submission(root, WANTED)


def test_a_notebook_wins_over_its_script(tmp_path: Path) -> None:
    files, _, notes = locate_files(_folder(tmp_path, "hw1_code.ipynb", "hw1_code.py"), WANTED)
    assert files["notebook"].name == "hw1_code.ipynb" and notes == []


def test_a_script_without_cells_is_one_cell_and_says_so(tmp_path: Path) -> None:
    root = _folder(tmp_path, "hw1_code (1).py")
    (root / "hw1_code (1).py").write_text("import numpy as np\n", encoding="utf-8")
    files, _, notes = locate_files(root, WANTED)
    assert files["notebook"].name == "hw1_code (1).py"
    assert len(notes) == 1 and "no `# %%` cell markers, so it ran as one code cell" in notes[0]


def test_a_script_saved_under_the_notebooks_name_is_noted(tmp_path: Path) -> None:
    """It was "not valid JSON (line 1, column 1)"; now the note says what it is and that it was read."""
    root = _folder(tmp_path, "hw1_code.ipynb")
    (root / "hw1_code.ipynb").write_text(PERCENT_SCRIPT, encoding="utf-8")
    _, _, notes = locate_files(root, WANTED)
    assert notes == ["hw1_code.ipynb is a Python script, not a notebook (a notebook file is JSON); it was read "
                     "as one: each `# %%` line in it starts a cell. Next time submit the notebook that Jupyter "
                     "or Colab saves."]


def test_two_scripts_and_no_notebook_are_two_candidates(tmp_path: Path) -> None:
    _, problems, _ = locate_files(_folder(tmp_path, "hw1_code.py", "old/hw1_code.py"), WANTED)
    assert problems["notebook"] == ("Found 2 files that could be hw1_code.ipynb (hw1_code.py, old/hw1_code.py); "
                                    "submit exactly one.")
