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


def infer_assignment(paths: list[Path], *, limit: int = 5000) -> str | None:
    """The one bundled assignment whose file names (its rubric's `files:`) the paths hold, if one.

    Looks at file names only (at most `limit` entries, zips by their member names), never at
    contents: `grader grade subs/` then needs no --assignment when the submissions say which.
    """
    import zipfile

    import yaml

    wanted: dict[str, set[str]] = {}
    for assignment in bundled_assignments():
        try:
            files = (yaml.safe_load((RUBRICS / f"{assignment}.yaml").read_text(encoding="utf-8")) or {}).get("files")
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if isinstance(files, dict):
            wanted[assignment] = {str(name).lower() for name in files.values()}
    seen: set[str] = set()
    budget = limit
    for top in paths:
        stack = [top]
        while stack and budget > 0:
            path = stack.pop()
            budget -= 1
            if path.is_dir() and not path.is_symlink():
                try:
                    stack.extend(sorted(path.iterdir())[:budget])
                except OSError:
                    continue
            elif path.suffix.lower() == ".zip" and path.is_file():
                try:
                    with zipfile.ZipFile(path) as archive:
                        seen.update(Path(name).name.lower() for name in archive.namelist()[:budget])
                except (OSError, zipfile.BadZipFile):
                    continue
            else:
                seen.add(path.name.lower())
    matches = {a: len(names & seen) for a, names in wanted.items()}
    best = max(matches.values(), default=0)
    winners = [a for a, count in matches.items() if count == best and count > 0]
    return winners[0] if len(winners) == 1 else None
