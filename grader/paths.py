"""Where the grader finds its bundled rubric and samples."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or unpacked autograder) the package was installed from in editable mode."""

DEFAULT_RUBRIC = PROJECT_ROOT / "rubrics" / "hw1.yaml"
DEFAULT_SAMPLES = PROJECT_ROOT / "sample_submissions" / "hw1"
GRADER_PACKAGE = Path(__file__).resolve().parent
REFERENCE_PACKAGE = PROJECT_ROOT / "reference_solutions"


def secret_paths(rubric_path: Path, out_dir: Path | None = None, inputs: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    """Paths a student's code must never read: rubric, references, grader, results, samples, inputs.

    The namespaces layer shows the child none of these anyway (its filesystem is an allow-list);
    the uid layer makes each unreadable to the sandbox user. `inputs` are the folders being
    graded: other students' submissions (each child works on its own copy).
    """
    import reference_solutions

    paths = [GRADER_PACKAGE, Path(reference_solutions.__file__).resolve().parent, rubric_path.resolve().parent]
    # The checkout's samples hold a full solution; its history holds the references.
    paths += [path for path in (PROJECT_ROOT / "sample_submissions", PROJECT_ROOT / ".git") if path.exists()]
    if out_dir is not None:
        paths.append(out_dir.resolve())
    paths += [path.resolve() for path in inputs]
    return tuple(dict.fromkeys(paths))
