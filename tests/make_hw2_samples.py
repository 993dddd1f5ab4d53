"""Writes the behaviour-named sample submissions of Homework 2 in sample_submissions/hw2/.

Each sample is derived from the reference (a notebook edited in one place, other weights,
an answers file written another way) so it stays in step when the reference changes. Run
`python -m reference_solutions.hw2.build --train` first (it writes reference/, template/ and
linear_classifier_weights/hw2_model.npz), then `python tests/make_hw2_samples.py`;
test_hw2.py checks the committed files are what this writes.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_submissions" / "hw2"
REFERENCE = SAMPLES / "reference"
NOTEBOOK, WRITTEN, WEIGHTS = "hw2.ipynb", "hw2_written.yaml", "hw2_model.npz"

WRITTEN_OK: dict[str, object] = {"q2_1_softmax_jacobian": 6, "q2_2_conv_cost": 6, "q2_3_cross_entropy": 3}
WRITTEN_ZERO: dict[str, object] = dict.fromkeys(WRITTEN_OK, 0)
CODE_OK: dict[str, object] = {"p1": 15, "p2": 20, "p3": 25}
CODE_ZERO: dict[str, object] = dict.fromkeys(CODE_OK, 0)
P4_FULL: dict[str, object] = {"p4": 25}

OTHER_FORMS_YAML = """\
# Right answers in other forms: decimals rounded to 3 places, factored counts, O(n k) with a
# space, the loss as 2 ln 2, the gradient as decimals in quotes.
q2_1_softmax_jacobian:
  - [0.139, -0.056, -0.083]
  - ["-1/18", "2/9", "-1/6"]
  - [-0.083, -0.167, 0.25]
q2_2_conv_cost:
  multiplications: "k(n - k + 1)"
  additions: "(k-1)(n-k+1)"
  big_o: "O(n k)"
q2_3_cross_entropy:
  loss: "2*ln(2)"
  grad: ["0.25", 0.25, "-0.75", 1/4]
"""

COMMON_MISTAKES_YAML = """\
# Typical mistakes: the Jacobian without its diagonal term (-s s^T), as many additions as
# multiplications, the looser bound O(n^2), a gradient without the -1 at the true class.
# The loss is right (written log(4)).
q2_1_softmax_jacobian:
  - ["-1/36", "-1/18", "-1/12"]
  - ["-1/18", "-1/9", "-1/6"]
  - ["-1/12", "-1/6", "-1/4"]
q2_2_conv_cost:
  multiplications: "n*k - k^2 + k"
  additions: "n*k - k^2 + k"
  big_o: "O(n^2)"
q2_3_cross_entropy:
  loss: "log(4)"
  grad: [0.25, 0.25, 0.25, 0.25]
"""


def _copy(name: str, source: Path = REFERENCE) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        shutil.copyfile(source / name, folder / name)

    return write


def _text(name: str, text: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / name).write_text(text, encoding="utf-8")

    return write


def _notebook(old: str, new: str) -> Callable[[Path], None]:
    """The reference notebook with `old` replaced by `new` in the one code cell holding it."""

    def write(folder: Path) -> None:
        notebook = json.loads((REFERENCE / NOTEBOOK).read_text(encoding="utf-8"))
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in code]
        hits = [i for i, source in enumerate(sources) if old in source]
        if len(hits) != 1:
            raise SystemExit(f"make_hw2_samples: {old!r} found in {len(hits)} cells of the reference notebook")
        code[hits[0]]["source"] = sources[hits[0]].replace(old, new)
        (folder / NOTEBOOK).write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")

    return write


FULL = [_copy(WRITTEN), _copy(WEIGHTS)]

# name -> (description, writers, expected part scores)
SAMPLES_SPEC: dict[str, tuple[str, list[Callable[[Path], None]], dict[str, object]]] = {
    "softmax_no_max_shift": (
        "softmax and log_softmax without subtracting the row maximum: exp overflows at +1000, so the items "
        "with entries of ±1000 are lost (p1_softmax_large, p2_cross_entropy_large, and half of "
        "p1_log_softmax_large, whose other case is a row [0, -1000] that the unshifted log-sum-exp still gets "
        "right).",
        [_notebook("shifted = Z - np.max(Z, axis=1, keepdims=True)", "shifted = Z"), *FULL],
        {**WRITTEN_OK, **CODE_OK, "p1": 9, "p2": 16, **P4_FULL},
    ),
    "conv1d_flipped_kernel": (
        "conv1d flips the kernel (a true convolution, not the cross-correlation asked for) while "
        "conv1d_backward is right: conv1d's items are lost except the k = 1 case, and so is the check that "
        "conv1d_backward agrees with finite differences of the student's own conv1d.",
        [_notebook("out += x[j : j + out.shape[0]] * w[j]", "out += x[j : j + out.shape[0]] * w[k - 1 - j]"),
         *FULL],
        {**WRITTEN_OK, **CODE_OK, "p3": 10, **P4_FULL},
    ),
    "cross_entropy_grad_without_1_over_n": (
        "cross_entropy_grad returns softmax(Z) - onehot(y) without dividing by N: p2_cross_entropy_grad is lost "
        "(every case has N >= 2).",
        [_notebook("return grad / N", "return grad"), *FULL],
        {**WRITTEN_OK, **CODE_OK, "p2": 10, **P4_FULL},
    ),
    "linear_classifier_weights": (
        "hw2_model.npz holds a softmax regression in the MLP's format (H = 4, relu(x) - relu(-x) = x): about "
        "52 % on the spiral, below the 55 % where p4's points start.",
        [_copy(WRITTEN), _copy(NOTEBOOK)],
        {**WRITTEN_OK, **CODE_OK, "p4": 0},
    ),
    "written_other_forms": (
        "Right written answers in other forms: 3-place decimals, fractions in quotes, k(n - k + 1), "
        "(k-1)(n-k+1), O(n k), 2*ln(2): full marks.",
        [_text(WRITTEN, OTHER_FORMS_YAML), _copy(NOTEBOOK), _copy(WEIGHTS)],
        {**WRITTEN_OK, **CODE_OK, **P4_FULL},
    ),
    "written_common_mistakes": (
        "Jacobian without diag(s), additions = multiplications, O(n^2), gradient without the -1: only the "
        "multiplications (2 of 6) and the loss (1.5 of 3) earn points.",
        [_text(WRITTEN, COMMON_MISTAKES_YAML), _copy(NOTEBOOK), _copy(WEIGHTS)],
        {"q2_1_softmax_jacobian": 0, "q2_2_conv_cost": 2, "q2_3_cross_entropy": 1.5, **CODE_OK, **P4_FULL},
    ),
    "empty": ("Nothing submitted.", [], {**WRITTEN_ZERO, **CODE_ZERO, "p4": 0}),
}

# Written by `python -m reference_solutions.hw2.build`; only their expected.json is written here.
BUILT = {
    "reference": ("The reference solution: full marks everywhere (100/100 autograded).",
                  {**WRITTEN_OK, **CODE_OK, **P4_FULL}),
    "template": ("The untouched template notebook: every function raises NotImplementedError.",
                 {**WRITTEN_ZERO, **CODE_ZERO, "p4": 0}),
}


def _expected(description: str, parts: dict[str, object]) -> str:
    return json.dumps({"description": description, "parts": parts, "tolerance": 0.01}, indent=2) + "\n"


def generated(target: Path = SAMPLES) -> None:
    """(Re)write every sample folder under target (the reference must be built already)."""
    for name, (description, writers, parts) in SAMPLES_SPEC.items():
        folder = target / name
        # The linear classifier's weights are trained by the build (--train); keep them.
        keep = folder / WEIGHTS if name == "linear_classifier_weights" else None
        kept = keep.read_bytes() if keep is not None and keep.exists() else None
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if kept is not None:
            (folder / WEIGHTS).write_bytes(kept)
        for write in writers:
            write(folder)
        (folder / "expected.json").write_text(_expected(description, parts), encoding="utf-8")
    for name, (description, parts) in BUILT.items():
        (target / name).mkdir(parents=True, exist_ok=True)
        (target / name / "expected.json").write_text(_expected(description, parts), encoding="utf-8")


def expected_files() -> dict[str, str]:
    """Every expected.json this writes, by sample name (for the test that the committed ones are current)."""
    return {**{name: _expected(d, p) for name, (d, _, p) in SAMPLES_SPEC.items()},
            **{name: _expected(d, p) for name, (d, p) in BUILT.items()}}


if __name__ == "__main__":
    generated(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES)
    print(f"wrote {len(SAMPLES_SPEC) + len(BUILT)} samples under {SAMPLES}")
