"""Written answers read as their authors mean them (issue 9, §6-§7): numbers with a leading zero are
decimal, in the grader and in the student kit alike; long answers cost only their own items, and a
file of a few MB is read, while alias bombs are still refused."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import RUBRIC, SAMPLES

from grader import yamlio
from grader.engine import GradeOptions, grade
from grader.errors import StudentFileError
from grader.kit.written_format import OK, check_written
from grader.rubric import Rubric
from grader.student_kit import build_student_kit, written_formats
from grader.submission import open_submission
from grader.yamlio import MAX_WRITTEN_BYTES, load_untrusted_yaml

REFERENCE_WRITTEN = SAMPLES / "reference" / "hw1_written.yaml"
WRITTEN_PARTS = ("q1_1", "q1_2_graph", "q1_3_hessian", "q1_3_cost", "q1_3_1_z", "q1_3_1_cost")
NUMBERS = "[8, 4, 010, 048, -010, +07, 00, 0, 1_000, 0x1f, 0o10, 0b11, 010.5, 1:30, '010', 08a]"
READ_AS = [8, 4, 10, 48, -10, 7, 0, 0, 1000, 31, 8, 3, 10.5, 90, "010", "08a"]


@pytest.fixture(params=["libyaml", "python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both parsers a student's file may meet: libyaml where PyYAML has it, else pure Python."""
    if request.param == "python":
        monkeypatch.setattr(yamlio, "_FAST_BASE", None)
    elif yamlio._FAST_BASE is None:
        pytest.skip("PyYAML without libyaml")
    return str(request.param)


def _write(tmp_path: Path, text: str, name: str = "hw1_written.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _graded(rubric: Rubric, tmp_path: Path, written: str) -> dict[str, Any]:
    """The results document of the reference submission with this hw1_written.yaml."""
    folder = tmp_path / "sub"
    shutil.copytree(SAMPLES / "reference", folder)
    (folder / "hw1_written.yaml").write_text(written, encoding="utf-8")
    return grade(open_submission(folder, dict(rubric.files), tmp_path / "work"), rubric,
                 GradeOptions(salt="yaml-numbers-salt")).document()


# ------------------------------------------------------------------ §7: a leading zero means nothing
def test_numbers_with_a_leading_zero_are_decimal(tmp_path: Path, parser: str) -> None:
    """YAML 1.1 read `010` as 8 and `048` as the text "048"; explicit bases keep their meaning."""
    assert load_untrusted_yaml(_write(tmp_path, f"a: {NUMBERS}\n"))["a"] == READ_AS


def test_a_leading_zero_costs_no_points(rubric: Rubric, tmp_path: Path) -> None:
    """`[8, 4, 010]` in the Hessian scored 0 with "expected 10, got 8"."""
    text = REFERENCE_WRITTEN.read_text(encoding="utf-8")
    changed = text.replace("- [8, 4, 10]", "- [8, 4, 010]")
    changed = changed.replace("q1_3_1_z: [48, 12, 24]", "q1_3_1_z: [048, 012, 024]")
    assert changed.count("010") == 1 and "048" in changed
    document = _graded(rubric, tmp_path, changed)
    for test in document["tests"]:
        if test["tags"][0] in ("q1_3_hessian", "q1_3_1_z"):
            assert test["score"] == test["max_score"], test["output"]


@pytest.fixture(scope="module")
def kit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kit")
    build_student_kit(out, RUBRIC)
    return out


def test_the_kit_reads_numbers_as_the_grader_does(kit_dir: Path, rubric: Rubric, tmp_path: Path) -> None:
    """The kit's format check runs on its own copy of the loader, without the grader installed:
    it reads the same numbers, and finds the answer written with `010` well formed."""
    written = _write(tmp_path, REFERENCE_WRITTEN.read_text(encoding="utf-8").replace("- [8, 4, 10]", "- [8, 4, 010]")
                     + f"extra: {NUMBERS}\n")
    formats = written_formats(rubric)
    script = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from hw1check.written_format import check_written
        from hw1check.yamlio import load_untrusted_yaml
        path, formats = Path(sys.argv[1]), json.loads(sys.argv[2])
        answers = load_untrusted_yaml(path)
        check = check_written(path.name, path, "missing", formats)
        print(json.dumps({"hessian": answers["q1_3_hessian"], "extra": answers["extra"],
                          "formats": {a.key: a.text() for a in check.answers}}))
    """)
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(kit_dir)!r})\n" + script,
                           str(written), json.dumps(formats)], capture_output=True, text=True, check=True)
    kit = json.loads(done.stdout)
    mine = load_untrusted_yaml(written)
    assert kit["hessian"] == mine["q1_3_hessian"] == [[16, 8, 20], [8, 4, 10], [20, 10, 25]]
    assert kit["extra"] == mine["extra"] == READ_AS
    assert kit["formats"]["q1_3_hessian"] == OK
    assert {a.key: a.text() for a in check_written(written.name, written, "missing", formats).answers} == kit["formats"]


# ------------------------------------------------------------------ §6: long answers
def _long_answers(size: int) -> str:
    """The reference answers and long prose besides them, `size` bytes or so in all."""
    prose = "  By the chain rule, dJ/dW1 sums (dJ/da1)^T x over the batch: a rank-one update each. \"Q\"\n"
    half = max(size - len(REFERENCE_WRITTEN.read_text(encoding="utf-8")), 0) // 2 // len(prose) + 1
    return (REFERENCE_WRITTEN.read_text(encoding="utf-8") + "q1_2_derivation: |\n" + prose * half
            + "notes: >\n" + prose * half)


def test_a_file_of_long_answers_is_graded(rubric: Rubric, tmp_path: Path) -> None:
    """410 KB of answers: every written item scores (it was refused whole by a 256 KB cap)."""
    text = _long_answers(410_000)
    assert 400_000 < len(text.encode()) < MAX_WRITTEN_BYTES
    document = _graded(rubric, tmp_path, text)
    written = [test for test in document["tests"] if test["tags"][0] in WRITTEN_PARTS]
    assert written and all(test["score"] == test["max_score"] for test in written), document["output"]


def test_the_file_cap_is_a_few_mb(tmp_path: Path) -> None:
    text = _long_answers(MAX_WRITTEN_BYTES - 4096)
    assert 2 * 2**20 <= MAX_WRITTEN_BYTES <= 8 * 2**20
    assert load_untrusted_yaml(_write(tmp_path, text))["q1_3_1_z"] == [48, 12, 24]
    with pytest.raises(StudentFileError, match="the limit is"):
        load_untrusted_yaml(_write(tmp_path, text + "x: " + "1" * 8192 + "\n"))


def test_a_huge_answer_costs_only_its_item(rubric: Rubric, tmp_path: Path) -> None:
    """Three MB of text where an expression belongs: that item scores 0, every other one full."""
    text = REFERENCE_WRITTEN.read_text(encoding="utf-8").replace(
        "reverse_multiplications: 3*m*n", "reverse_multiplications: " + "3*m*n + " * 400_000 + "0")
    document = _graded(rubric, tmp_path, text)
    for test in document["tests"]:
        if test["tags"][0] == "q1_3_1_cost":  # one point per field: that field's is lost
            assert test["score"] == test["max_score"] - 1 and len(test["output"]) < 2000, test
        elif test["tags"][0] in WRITTEN_PARTS:
            assert test["score"] == test["max_score"], test


def test_a_syntax_error_in_a_big_file_names_its_line(tmp_path: Path) -> None:
    """libyaml refuses the file; PyYAML's message says where (as before the fast parser)."""
    text = _long_answers(1_000_000) + "q1_x: [1, 2\n"
    with pytest.raises(StudentFileError) as info:
        load_untrusted_yaml(_write(tmp_path, text))
    lines = text.count("\n")
    assert f"line {lines + 1}, column 1" in str(info.value) and f"opens at line {lines}, column 7" in str(info.value)


# ------------------------------------------------------------------ the alias and size caps still hold
@pytest.mark.parametrize(("text", "fragment"), [
    # Billion laughs.
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)),
     "with its aliases (*name) expanded"),
    # One 200 KB text repeated through aliases: a long text counts one value per 100 characters.
    ("a: &s " + "Z" * 200_000 + "\nb: [" + ", ".join(["*s"] * 6) + "]\n", "a long text counts one per 100"),
    # Written out, not aliased: 12,000 numbers are too many values.
    ("a: [" + ", ".join(["1"] * 12_000) + "]\n", "holds more than 10,000 values"),
])
def test_the_expansion_caps_hold(tmp_path: Path, parser: str, text: str, fragment: str) -> None:
    with pytest.raises(StudentFileError, match=re.escape(fragment)):
        load_untrusted_yaml(_write(tmp_path, text))


def test_a_long_text_written_out_is_one_value(tmp_path: Path) -> None:
    """Literal text counts once, whatever its length: the file's size bounds it (1.1 MB of text
    counted 11,001 values before, over the 10,000 that aliases may expand to)."""
    text = "a: " + "Z" * 1_100_000 + "\nb: [1, 2]\n"
    assert load_untrusted_yaml(_write(tmp_path, text))["b"] == [1, 2]
