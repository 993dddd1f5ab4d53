"""Where the grader finds its bundled rubric and samples."""

from __future__ import annotations

from pathlib import Path

from grader.errors import GraderError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or unpacked autograder) the package was installed from in editable mode."""

RUBRICS = PROJECT_ROOT / "rubrics"
SAMPLES = PROJECT_ROOT / "sample_submissions"
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


def bundled_assignments() -> list[str]:
    """The assignments with a rubric in this checkout's rubrics/ folder."""
    return sorted(path.stem for path in RUBRICS.glob("*.yaml"))


def choose_rubric(rubric: Path | None = None, assignment: str | None = None) -> Path:
    """The rubric to use: the one named, else the assignment's, else the only one there is."""
    if rubric is not None:
        return rubric
    known = bundled_assignments()
    if assignment is not None:
        path = RUBRICS / f"{assignment}.yaml"
        if not path.is_file():
            raise GraderError(f"no rubric for assignment {assignment!r} ({path} does not exist); "
                              f"the assignments here are {', '.join(known) or 'none'}")
        return path
    if len(known) == 1:
        return RUBRICS / f"{known[0]}.yaml"
    if not known:
        raise GraderError(f"no rubric in {RUBRICS}; name one with --rubric FILE")
    raise GraderError(f"there are several assignments here ({', '.join(known)}): name one with "
                      "--assignment NAME or --rubric FILE")


def samples_of(assignment: str) -> Path:
    """The assignment's bundled sample submissions (sample_submissions/<assignment>/)."""
    return SAMPLES / assignment
