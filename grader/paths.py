"""Where the grader finds its bundled rubric and samples."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or unpacked autograder) the package was installed from in editable mode."""

DEFAULT_RUBRIC = PROJECT_ROOT / "rubrics" / "hw1.yaml"
DEFAULT_SAMPLES = PROJECT_ROOT / "sample_submissions" / "hw1"
GRADER_PACKAGE = Path(__file__).resolve().parent
REFERENCE_PACKAGE = PROJECT_ROOT / "reference_solutions"


def secret_paths(rubric_path: Path, out_dir: Path | None = None) -> tuple[Path, ...]:
    """Paths a student's code must never read: rubric, references, grader, results, salt."""
    import reference_solutions

    paths = [GRADER_PACKAGE, Path(reference_solutions.__file__).resolve().parent, rubric_path.resolve().parent]
    if out_dir is not None:
        paths.append(out_dir.resolve())
    return tuple(dict.fromkeys(paths))
