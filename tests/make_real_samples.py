"""Writes the realistic sample submissions: sample_submissions/hw1/real_<shape>/.

Each one is a notebook (or script, or answers file) in a shape students really save: exported
from Colab, saved by VS Code or JupyterLab 4, in the old nbformat 3 or 4.0, re-encoded by a
PowerShell redirect, full of magics, plots and progress bars. The code in it is the reference's
(sample_submissions/hw1/reference/hw1_code.ipynb, its code cells) with what a student adds around
it (checks, plots, imports of packages the grader lacks), the answers and weights are the
reference's, so the samples stay in step when the reference changes. Each folder holds an
`expected.json` in the format of the other samples (grader/expected.py); its description says
why a sample scores less than full marks where it does.

Everything is deterministic (image payloads are seeded random bytes), so running
`python tests/make_real_samples.py` again writes the same bytes; test_real_samples.py checks that
the committed folders are what it writes. One shape is too big to commit at its real size (26 MB
of plots): the committed real_big_outputs is about 3 MB, and the test grades a 30 MB one made by
`big_outputs_notebook(30)`.
"""

from __future__ import annotations

import base64
import codecs
import copy
import hashlib
import json
import random
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_submissions" / "hw1"
REFERENCE = SAMPLES / "reference"
PREFIX = "real_"
MB = 2**20

FULL: dict[str, float] = {"q1_1": 10, "q1_2_graph": 5, "q1_3_hessian": 5, "q1_3_cost": 5, "q1_3_1_z": 4,
                          "q1_3_1_cost": 6, "p1": 15, "p2": 25, "p3": 20, "p4": 15, "p5": 25}
# p1_step (2 points) calls step; hardcoded_forward (3 points) calls it in every row it computes.
# kth_largest_params is judged with the grader's own forward pass, so it does not need step.
RAW_STEP_LOSES = {"p1": 15 - 2 - 3}

Json = dict[str, Any]


# ------------------------------------------------------------------ cells
@dataclass
class Cell:
    """A notebook cell as a student's notebook holds it (outputs in nbformat 4's form)."""

    kind: str  # code | markdown | raw
    source: str
    outputs: list[Json] = field(default_factory=list)
    count: int | None = None
    attachments: Json | None = None


def reference_cells() -> list[Cell]:
    """The reference notebook's cells, markdown and code, in order and without outputs."""
    notebook = json.loads((REFERENCE / "hw1_code.ipynb").read_text(encoding="utf-8"))
    return [Cell(c["cell_type"], _joined(c["source"])) for c in notebook["cells"]]


def _joined(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _find(cells: list[Cell], needle: str) -> int:
    """The position of the one code cell that contains `needle`."""
    hits = [i for i, cell in enumerate(cells) if cell.kind == "code" and needle in cell.source]
    if len(hits) != 1:
        raise SystemExit(f"make_real_samples: {needle!r} found in {len(hits)} code cells of the reference notebook")
    return hits[0]


def _replace(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise SystemExit(f"make_real_samples: {old!r} found {text.count(old)} times in a reference cell")
    return text.replace(old, new)


def _edit(cells: list[Cell], needle: str, old: str, new: str) -> None:
    """Replace `old` (once) in the code cell that contains `needle`."""
    cell = cells[_find(cells, needle)]
    cell.source = _replace(cell.source, old, new)


def _insert_after(cells: list[Cell], needle: str, *new: Cell) -> None:
    at = _find(cells, needle) + 1
    cells[at:at] = list(new)


def _number(cells: list[Cell], order: list[int] | None = None) -> None:
    """Execution counts of the code cells: 1, 2, 3... or as given (a kernel's out-of-order runs)."""
    code = [cell for cell in cells if cell.kind == "code"]
    counts = order if order is not None else list(range(1, len(code) + 1))
    for cell, count in zip(code, counts, strict=False):
        cell.count = count


def _lines(text: str) -> list[str]:
    """Text as nbformat stores it in a list: lines that keep their newlines."""
    return text.splitlines(keepends=True)


# ------------------------------------------------------------------ outputs
def stream(text: str, name: str = "stdout") -> Json:
    return {"name": name, "output_type": "stream", "text": _lines(text)}


def result(count: int, text: str) -> Json:
    return {"data": {"text/plain": _lines(text)}, "execution_count": count, "metadata": {},
            "output_type": "execute_result"}


def png_payload(seed: str, size: int) -> str:
    """`size` bytes of "PNG" (the signature, then seeded random bytes) in base64, as a notebook stores it."""
    body = random.Random(seed).randbytes(max(size - 8, 0))
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + body).decode("ascii") + "\n"


def image(seed: str, size: int, plain: str = "<Figure size 640x480 with 1 Axes>") -> Json:
    return {"data": {"image/png": png_payload(seed, size), "text/plain": _lines(plain)}, "metadata": {},
            "output_type": "display_data"}


def progress_bar(model_id: str, total: int) -> Json:
    """What `tqdm.notebook`/`tqdm.auto` leaves in a notebook: a widget view and its text."""
    done = f"100%|██████████| {total}/{total} [00:02<00:00, 141.32it/s]"
    return {"data": {"application/vnd.jupyter.widget-view+json": {"model_id": model_id, "version_major": 2,
                                                                   "version_minor": 0},
                     "text/plain": [done]},
            "metadata": {}, "output_type": "display_data"}


def _hex_id(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _uuid(*parts: object) -> str:
    h = _hex_id(*parts)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _colab_id(*parts: object) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:12])


def _widget_state(model_ids: list[str], total: int, *, colab: bool) -> Json:
    """The widget state a notebook with tqdm progress bars saves (Colab: models by id; Jupyter: under state)."""
    models: Json = {}
    for model_id in model_ids:
        models[model_id] = {
            "model_module": "@jupyter-widgets/controls", "model_module_version": "1.5.0" if colab else "2.0.0",
            "model_name": "HBoxModel",
            "state": {"_dom_classes": [], "_model_module": "@jupyter-widgets/controls",
                      "_model_name": "HBoxModel", "_view_name": "HBoxView", "box_style": "",
                      "children": [f"IPY_MODEL_{_hex_id(model_id, 'bar')[:32]}",
                                   f"IPY_MODEL_{_hex_id(model_id, 'text')[:32]}"],
                      "layout": f"IPY_MODEL_{_hex_id(model_id, 'layout')[:32]}"},
        }
        models[_hex_id(model_id, "bar")[:32]] = {
            "model_module": "@jupyter-widgets/controls", "model_module_version": "1.5.0" if colab else "2.0.0",
            "model_name": "FloatProgressModel",
            "state": {"bar_style": "success", "max": total, "value": total, "orientation": "horizontal"},
        }
    if colab:
        return {"application/vnd.jupyter.widget-state+json": models}
    return {"application/vnd.jupyter.widget-state+json": {"state": models, "version_major": 2, "version_minor": 0}}


# ------------------------------------------------------------------ what students add
P1_CHECK = """\
# sanity check: x[0] is the 2nd largest in row 0, the largest in row 1, the smallest in row 2
X = np.array([[3.0, 5.0, 1.0, 2.0], [5.0, 3.0, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
for k in range(1, 5):
    print(k, hardcoded_forward(kth_largest_params(k), X))
"""
P1_CHECK_OUTPUT = "1 [0. 1. 0.]\n2 [1. 0. 0.]\n3 [0. 0. 0.]\n4 [0. 0. 1.]\n"

P2_CHECK = """\
# gradient check of my backward pass on a small random problem
rng = np.random.default_rng(0)
K, D, C, B = 5, 4, 3, 6
shapes = {"W1": (K, D), "b1": (K,), "W2": (K, D), "b2": (K,), "W3": (C, K), "W4": (C, D)}
params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
X = rng.normal(size=(B, D))
t = rng.integers(0, C, size=B)
loss, cache = gated_forward(params, X, t)
grads = gated_backward(params, cache)
for name in shapes:
    num = numerical_grad(lambda p: gated_forward({**params, name: p}, X, t)[0], params[name].copy())
    print(f"{name}: max abs error {np.max(np.abs(num - grads[name])):.2e}")
num_X = numerical_grad(lambda x: gated_forward(params, x, t)[0], X.copy())
print(f"X: max abs error {np.max(np.abs(num_X - grads['X'])):.2e}")
"""
P2_CHECK_OUTPUT = ("W1: max abs error 3.12e-11\nb1: max abs error 2.07e-11\nW2: max abs error 1.95e-11\n"
                   "b2: max abs error 1.38e-11\nW3: max abs error 4.41e-11\nW4: max abs error 3.86e-11\n"
                   "X: max abs error 4.02e-11\n")

P3_CHECK = """\
v = np.array([4.0, 2.0, 5.0])
print(quadratic_hessian(v))
print(hvp_reverse(v, np.array([1.0, 1.0, 1.0])), hvp_forward(v, np.array([1.0, 1.0, 1.0])))
print([mult_count(3, 2, mode) for mode in ("reverse", "forward")])
"""
P3_CHECK_OUTPUT = "[[16.  8. 20.]\n [ 8.  4. 10.]\n [20. 10. 25.]]\n[44. 22. 55.] [44. 22. 55.]\n[18, 24]\n"

TRAINING_CURVE = """\
# my own training loop, to pick the learning rate before running train_mlp
rng = np.random.default_rng(1)
hidden = 64
curve = {
    "W1": rng.normal(0.0, np.sqrt(2.0 / 4), size=(4, hidden)),
    "b1": np.zeros(hidden),
    "W2": rng.normal(0.0, np.sqrt(1.0 / hidden), size=(hidden, 4)),
    "b2": np.zeros(4),
}
state = {}
losses, val_acc = [], []
X_val, y_val = make_data(2000, seed=7)
for i in tqdm(range(1, {steps} + 1)):
    X_batch, y_batch = make_data(256, seed=100 + i)
    loss, grads = mlp_loss_and_grads(curve, X_batch, y_batch)
    curve, state = adam_step(curve, grads, state, i, 3e-3)
    losses.append(loss)
    if i % 50 == 0:
        val_acc.append(accuracy(curve, X_val, y_val))

plt.figure(figsize=(8, 4))
plt.plot(losses)
plt.xlabel("step")
plt.ylabel("cross-entropy")
plt.title("training loss")
plt.show()

plt.plot(range(50, {steps} + 1, 50), val_acc, marker="o")
plt.ylabel("validation accuracy")
plt.show()
print(f"validation accuracy after {steps} steps: {{val_acc[-1]:.3f}}")
"""

WEIGHTS_PLOT = """\
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].imshow(curve["W1"], aspect="auto", cmap="RdBu")
axes[0].set_title("W1")
axes[1].hist(curve["W2"].ravel(), bins=40)
axes[1].set_title("W2 entries")
plt.tight_layout()
plt.show()
"""


def _with_checks(cells: list[Cell]) -> list[Cell]:
    """The reference with a student's check cells after parts 1-3."""
    _insert_after(cells, "def hardcoded_forward", Cell("code", P1_CHECK, [stream(P1_CHECK_OUTPUT)]))
    _insert_after(cells, "def gated_backward", Cell("code", P2_CHECK, [stream(P2_CHECK_OUTPUT)]))
    _insert_after(cells, "def memory_count", Cell("code", P3_CHECK, [stream(P3_CHECK_OUTPUT)]))
    saved = cells[_find(cells, "np.savez(")]
    saved.outputs = [stream("test accuracy: 0.9587\n")]
    return cells


def _training_curve(steps: int) -> str:
    return TRAINING_CURVE.replace("{steps}", str(steps)).replace("{{", "{").replace("}}", "}")


# ------------------------------------------------------------------ writing notebooks
def _dump(document: Json, indent: int = 1, *, sort: bool = True) -> str:
    return json.dumps(document, indent=indent, sort_keys=sort, ensure_ascii=False) + "\n"


def _v4_cells(cells: list[Cell], *, ids: Callable[[int], str] | None, as_lists: bool = True) -> list[Json]:
    """Cells in nbformat 4 (4.5 with `ids`): sources and text as lists of lines or whole strings."""
    out = []
    for position, cell in enumerate(cells):
        text: Callable[[str], Any] = _lines if as_lists else (lambda s: s)
        item: Json = {"cell_type": cell.kind, "metadata": {}, "source": text(cell.source)}
        if ids is not None:
            item["id"] = ids(position)
        if cell.attachments is not None:
            item["attachments"] = cell.attachments
        if cell.kind == "code":
            item["execution_count"] = cell.count
            item["outputs"] = [_output_strings(o) for o in cell.outputs] if not as_lists else cell.outputs
        out.append(item)
    return out


def _output_strings(output: Json) -> Json:
    """An output with its text as whole strings (as nbformat 4.0's writers often left it)."""
    output = copy.deepcopy(output)
    if "text" in output:
        output["text"] = "".join(output["text"])
    for key, value in output.get("data", {}).items():
        if isinstance(value, list):
            output["data"][key] = "".join(value)
    return output


JUPYTER_LANGUAGE_INFO: Json = {
    "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py", "mimetype": "text/x-python",
    "name": "python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3",
}


def _jupyter_metadata(version: str, display_name: str = "Python 3 (ipykernel)") -> Json:
    return {"kernelspec": {"display_name": display_name, "language": "python", "name": "python3"},
            "language_info": {**JUPYTER_LANGUAGE_INFO, "version": version}}


def _jupyterlab_notebook(cells: list[Cell], name: str, metadata: Json | None = None) -> Json:
    """A notebook as JupyterLab 4 saves it: nbformat 4.5, a uuid per cell."""
    return {"cells": _v4_cells(cells, ids=lambda i: _uuid(name, i)),
            "metadata": metadata or _jupyter_metadata("3.11.6"), "nbformat": 4, "nbformat_minor": 5}


# ------------------------------------------------------------------ the shapes
def colab_notebook(name: str, *, images: int, image_bytes: int, steps: int = 300) -> str:
    """A notebook downloaded from Colab: its metadata, ids in cell metadata, outputs with outputId."""
    cells = _with_checks(reference_cells())
    first = _find(cells, "import numpy as np")
    cells[first].source = (
        "!pip install torch\n"
        "from google.colab import drive\n"
        "drive.mount('/content/drive')\n"
        "%matplotlib inline\n"
        "import matplotlib.pyplot as plt\n"
        + _replace(cells[first].source, "import numpy as np\n", "import numpy as np\nfrom tqdm.notebook import tqdm\n")
    )
    cells[first].outputs = [
        stream("Requirement already satisfied: torch in /usr/local/lib/python3.10/dist-packages (2.1.0+cu121)\n"
               "Requirement already satisfied: filelock in /usr/local/lib/python3.10/dist-packages "
               "(from torch) (3.13.1)\n"),
        stream("Mounted at /content/drive\n"),
    ]
    bar = _uuid(name, "tqdm").replace("-", "")
    plots = [image(f"{name}/plot/{i}", image_bytes) for i in range(images)]
    head, tail = plots[:2], plots[2:]
    _insert_after(
        cells, "def train_mlp",
        Cell("code", _training_curve(steps),
             [progress_bar(bar, steps), *head, stream(f"validation accuracy after {steps} steps: 0.897\n")]),
        *([Cell("code", WEIGHTS_PLOT, tail)] if tail else []),
    )
    cells.append(Cell("code", 'from google.colab import files\nfiles.download("hw1_weights.npz")\n',
                      [{"data": {"application/javascript": ["download(\"download_1b2c\", \"hw1_weights.npz\", 10214)"],
                                 "text/plain": ["<IPython.core.display.Javascript object>"]},
                        "metadata": {}, "output_type": "display_data"}]))
    _number(cells)
    out = []
    for position, cell in enumerate(cells):
        # Colab writes cell_type, source, metadata, execution_count, outputs, in that order.
        item: Json = {"cell_type": cell.kind, "source": _lines(cell.source),
                      "metadata": {"id": _colab_id(name, position)}}
        if cell.kind == "code":
            if cell.outputs:
                item["metadata"] = {"colab": {"base_uri": "https://localhost:8080/"}, **item["metadata"],
                                    "outputId": _uuid(name, "out", position)}
                if any(o.get("output_type") == "display_data" and "image/png" in o["data"] for o in cell.outputs):
                    item["metadata"]["colab"]["height"] = 410
            item["execution_count"] = cell.count
            item["outputs"] = cell.outputs
        out.append(item)
    document = {
        "nbformat": 4,
        "nbformat_minor": 0,
        "metadata": {
            "colab": {"provenance": [{"file_id": "1" + _colab_id(name, "file") * 2 + "xQ",
                                      "timestamp": 1694012345678}],
                      "gpuType": "T4", "toc_visible": True},
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python"},
            "accelerator": "GPU",
            "widgets": _widget_state([bar], steps, colab=True),
        },
        "cells": out,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


TORCH_CHECK = """\
import torch

# compare my gated_backward with autograd
tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
Xt = torch.tensor(X)
a1 = Xt @ tp["W1"].T + tp["b1"]
g = torch.relu(a1) * torch.sigmoid(Xt @ tp["W2"].T + tp["b2"])
y = g @ tp["W3"].T + Xt @ tp["W4"].T
torch.nn.functional.cross_entropy(y, torch.tensor(t)).backward()
for k in tp:
    print(k, np.abs(tp[k].grad.numpy() - grads[k]).max())
"""
TORCH_CHECK_OUTPUT = ("W1 2.7755575615628914e-17\nb1 1.3877787807814457e-17\nW2 1.3877787807814457e-17\n"
                      "b2 6.938893903907228e-18\nW3 5.551115123125783e-17\nW4 2.7755575615628914e-17\n")


def vscode_notebook(name: str) -> str:
    """A notebook saved by VS Code: nbformat 4.2, `vscode` interpreter hash, cells run out of order."""
    cells = _with_checks(reference_cells())
    _edit(cells, "import numpy as np", "import numpy as np\n\n",
          'import numpy as np\nimport seaborn as sns\n\nsns.set_theme(style="whitegrid")\n')
    _insert_after(cells, "# gradient check of my backward pass",
                  Cell("code", TORCH_CHECK, [stream(TORCH_CHECK_OUTPUT)]))
    # Run after Part 5 in the author's session (make_data is defined there): from the top, it fails.
    logits = Cell("code", "X, y = make_data(3, seed=0)\nmlp_forward(train_mlp(hidden=8, steps=10), X)\n")
    _insert_after(cells, "def mlp_forward", logits)
    code = [cell for cell in cells if cell.kind == "code"]
    _number(cells, [3, 4, 11, 5, 6, 14, 8, 22, 9, 17, 12, 13, 21, 24][: len(code)])
    assert logits.count is not None
    logits.outputs = [result(logits.count, "array([[ 0.41242386, -0.31860613,  0.10331279,  0.02131545],\n"
                                           "       [ 0.20512117, -0.12023591,  0.31550174, -0.11302261],\n"
                                           "       [-0.05412377,  0.26840962,  0.08131045,  0.11986512]])")]
    for cell in code:
        cell.outputs = [dict(o, execution_count=cell.count) if o["output_type"] == "execute_result" else o
                        for o in cell.outputs]
    document = {
        "cells": _v4_cells(cells, ids=None),
        "metadata": {
            **_jupyter_metadata("3.11.4", "Python 3.11.4 ('.venv': venv)"),
            "orig_nbformat": 4,
            "vscode": {"interpreter": {"hash": _hex_id(name, "interpreter")}},
        },
        "nbformat": 4,
        "nbformat_minor": 2,
    }
    return _dump(document)


INTERACT = """\
from ipywidgets import interact


@interact(k=(1, 4))
def show_network(k=2):
    params = kth_largest_params(k)
    print(params["W1"], params["b1"], params["w2"], params["b2"], sep="\\n")
"""
GRAPH_MARKDOWN = "My computation graph for 1.2 (drawn on paper):\n\n![graph.png](attachment:graph.png)"
RAW_HEADER = "Collaborators: none\nSources: lecture 4 slides (backprop), the numpy documentation\n"


def _plotting_imports(cells: list[Cell], tqdm_module: str) -> None:
    """matplotlib and tqdm imported next to numpy in the first code cell, as most students do."""
    first = cells[_find(cells, "import numpy as np")]
    first.source = _replace(first.source, "import numpy as np\n",
                            f"import matplotlib.pyplot as plt\nimport numpy as np\nfrom {tqdm_module} import tqdm\n")


def jupyterlab4_notebook(name: str) -> bytes:
    """JupyterLab 4 on Windows: nbformat 4.5, widget state, a markdown attachment, a raw cell; CRLF and a BOM."""
    cells = _with_checks(reference_cells())
    _plotting_imports(cells, "tqdm.auto")
    bar = _uuid(name, "tqdm").replace("-", "")
    _insert_after(cells, "def train_mlp",
                  Cell("code", _training_curve(300),
                       [progress_bar(bar, 300), image(f"{name}/loss", 38_000), image(f"{name}/acc", 31_000),
                        stream("validation accuracy after 300 steps: 0.897\n")]))
    _insert_after(cells, "def hardcoded_forward", Cell("code", INTERACT, [
        {"data": {"application/vnd.jupyter.widget-view+json": {"model_id": _uuid(name, "interact").replace("-", ""),
                                                               "version_major": 2, "version_minor": 0},
                  "text/plain": ["interactive(children=(IntSlider(value=2, description='k', max=4, min=1), "
                                 "Output()), _dom_classes=('widget-interact',))"]},
         "metadata": {}, "output_type": "display_data"}]))
    part2 = next(i for i, c in enumerate(cells) if c.kind == "markdown" and c.source.startswith("## Part 2"))
    cells.insert(part2 + 1, Cell("markdown", GRAPH_MARKDOWN,
                                 attachments={"graph.png": {"image/png": png_payload(f"{name}/graph", 24_000)}}))
    cells.insert(1, Cell("raw", RAW_HEADER))
    _number(cells)
    metadata = {**_jupyter_metadata("3.12.1"), "widgets": _widget_state([bar], 300, colab=False)}
    text = _dump(_jupyterlab_notebook(cells, name, metadata))
    return codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8")


def _v3_output(output: Json) -> Json:
    kind = output["output_type"]
    if kind == "stream":
        return {"output_type": "stream", "stream": output["name"], "text": output["text"]}
    if kind == "execute_result":
        return {"metadata": {}, "output_type": "pyout", "prompt_number": output["execution_count"],
                "text": output["data"]["text/plain"]}
    return {"metadata": {}, "output_type": "display_data", "png": output["data"]["image/png"],
            "text": ["<matplotlib.figure.Figure at 0x10c3a5e50>"]}


def nbformat3_notebook(name: str) -> str:
    """An IPython 2 notebook (nbformat 3): worksheets, `input`, `language`, heading cells, `pyout`."""
    cells = _with_checks(reference_cells())
    first = cells[_find(cells, "import numpy as np")]
    first.source = "%matplotlib inline\n" + _replace(first.source, "import numpy as np\n",
                                                     "import matplotlib.pyplot as plt\nimport numpy as np\n")
    _insert_after(cells, "def memory_count",
                  Cell("code", "mult_count(1000, 10, 'forward') / mult_count(1000, 10, 'reverse')\n"))
    _insert_after(cells, "def train_mlp", Cell("code", _training_curve(300).replace("tqdm(range(", "(range("),
                                               [image(f"{name}/loss", 21_000), image(f"{name}/acc", 17_000),
                                                stream("validation accuracy after 300 steps: 0.897\n")]))
    _number(cells)
    ratio = cells[_find(cells, "mult_count(1000, 10, 'forward') /")]
    assert ratio.count is not None
    ratio.outputs = [result(ratio.count, "67.33333333333333")]
    v3: list[Json] = []
    for cell in cells:
        if cell.kind == "markdown" and cell.source.startswith("#"):
            title, _, rest = cell.source.partition("\n")
            level = len(title) - len(title.lstrip("#"))
            v3.append({"cell_type": "heading", "level": level, "metadata": {}, "source": [title[level:].strip()]})
            if rest.strip():
                v3.append({"cell_type": "markdown", "metadata": {}, "source": _lines(rest.strip("\n"))})
        elif cell.kind == "markdown":
            v3.append({"cell_type": "markdown", "metadata": {}, "source": _lines(cell.source)})
        else:
            v3.append({"cell_type": "code", "collapsed": False, "input": _lines(cell.source), "language": "python",
                       "metadata": {}, "outputs": [_v3_output(o) for o in cell.outputs],
                       "prompt_number": cell.count})
    document = {"metadata": {"name": "", "signature": "sha256:" + _hex_id(name, "signature")},
                "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": v3, "metadata": {}}]}
    return _dump(document)


def nbformat40_notebook(name: str) -> str:
    """A Jupyter 4.0 notebook (nbformat 4.0): no cell ids, sources and output text as whole strings."""
    cells = _with_checks(reference_cells())
    _number(cells)
    document = {"cells": _v4_cells(cells, ids=None, as_lists=False),
                "metadata": _jupyter_metadata("3.5.2", "Python 3"), "nbformat": 4, "nbformat_minor": 0}
    return _dump(document)


def utf16_notebook(name: str) -> bytes:
    """A notebook passed through a Windows PowerShell redirect (`Get-Content a.ipynb > hw1_code.ipynb`):
    UTF-16 LE with a BOM, CRLF line endings; its author's name and comments are not ASCII."""
    cells = _with_checks(reference_cells())
    cells[0].source = "**Student:** Zoë Øster-Nuñez (zo2231) — with help from office hours\n\n" + cells[0].source
    _edit(cells, "def hvp_reverse", '"""H y = v (v^T y) without forming H."""',
          '"""H y = v (vᵀ y) without forming H: Θ(n) memory, never n²."""')
    _number(cells)
    document = {"cells": _v4_cells(cells, ids=None), "metadata": _jupyter_metadata("3.10.11", "Python 3"),
                "nbformat": 4, "nbformat_minor": 4}
    return codecs.BOM_UTF16_LE + _dump(document).replace("\n", "\r\n").encode("utf-16-le")


WRITEFILE = '''\
%%writefile hw1_lib.py
"""Helpers shared by my Part 2 and Part 4 code."""
import numpy as np


def relu(a):
    return np.maximum(a, 0.0)


def softmax_minus_onehot(logp, labels):
    """d(mean cross-entropy)/d(logits), from log-probabilities (N, C) and integer labels (N,)."""
    d = np.exp(logp)
    d[np.arange(len(labels)), labels] -= 1.0
    return d / len(labels)
'''
TIMEIT = """\
X_big, y_big = make_data(10_000, seed=1)
p = train_mlp(hidden=128, steps=1)
%timeit mlp_forward(p, X_big)
%timeit mlp_loss_and_grads(p, X_big, y_big)
"""
TIMEIT_OUTPUT = ("412 µs ± 8.61 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)\n"
                 "1.37 ms ± 21.4 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)\n")
TIME_CELL = """\
%%time
trained = train_mlp(steps=300)
X_test, y_test = make_data(20_000, seed=2025)
print(accuracy(trained, X_test, y_test))
"""
NVIDIA_SMI_OUTPUT = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that "
                     "the latest NVIDIA driver is installed and running.\n\n")


def magics_notebook(name: str) -> str:
    """%%writefile of a helper module the graded functions import, %timeit, %%time, !nvidia-smi, ?np.dot."""
    cells = _with_checks(reference_cells())
    _insert_after(cells, "import numpy as np",
                  Cell("code", WRITEFILE, [stream("Writing hw1_lib.py\n")]),
                  Cell("code", "%load_ext autoreload\n%autoreload 2\nimport hw1_lib\n"),
                  Cell("code", "!nvidia-smi\n", [stream(NVIDIA_SMI_OUTPUT)]),
                  Cell("code", "?np.dot\n"))
    _edit(cells, "def gated_forward", "c1 = np.maximum(a1, 0.0)", "c1 = hw1_lib.relu(a1)")
    _edit(cells, "def gated_backward", 'dy = np.exp(cache["logp"])\n    dy[np.arange(B), t] -= 1.0\n    dy /= B',
          'dy = hw1_lib.softmax_minus_onehot(cache["logp"], t)')
    _edit(cells, "def mlp_forward", 'hidden = np.maximum(X @ params["W1"] + params["b1"], 0.0)',
          'hidden = hw1_lib.relu(X @ params["W1"] + params["b1"])')
    _edit(cells, "def mlp_forward", "dz = np.exp(logp)\n    dz[np.arange(N), y] -= 1.0\n    dz /= N",
          "dz = hw1_lib.softmax_minus_onehot(logp, y)")
    _insert_after(cells, "def mlp_forward", Cell("code", "np.outer?\n"))
    _insert_after(cells, "def train_mlp",
                  Cell("code", TIMEIT, [stream(TIMEIT_OUTPUT)]),
                  Cell("code", TIME_CELL, [stream("0.8412\nCPU times: user 1.31 s, sys: 12.2 ms, total: 1.32 s\n"
                                                  "Wall time: 1.32 s\n")]))
    _number(cells)
    return _dump(_jupyterlab_notebook(cells, name))


def missing_params_notebook(name: str) -> str:
    """The cell that defines `Params` fails (torch, used at once, is not in the grader) before it gets there."""
    cells = _with_checks(reference_cells())
    _edit(cells, "import numpy as np", "import numpy as np\n",
          "import numpy as np\nimport torch\n\ntorch.set_default_dtype(torch.float64)\n")
    _number(cells)
    return _dump(_jupyterlab_notebook(cells, name))


JUPYTEXT_HEADER = """\
# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.16.1
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
"""


def jupytext_script(name: str) -> str:
    """The notebook as jupytext's percent script (its paired hw1_code.py): markdown commented, magics too."""
    cells = _with_checks(reference_cells())
    _plotting_imports(cells, "tqdm")
    first = cells[_find(cells, "import numpy as np")]
    first.source = "# %matplotlib inline\n" + first.source
    parts = [JUPYTEXT_HEADER]
    for cell in cells:
        if cell.kind == "markdown":
            body = "\n".join(f"# {line}".rstrip() for line in cell.source.splitlines())
            parts.append(f"# %% [markdown]\n{body}\n")
        else:
            parts.append(f"# %%\n{cell.source.rstrip()}\n")
    return "\n".join(parts)


def raw_step_notebook(name: str) -> str:
    """JupyterLab, with the cell that defines `step` turned into a Raw cell (the R key in command mode)."""
    cells = _with_checks(reference_cells())
    at = _find(cells, "def step(")
    head, sep, rest = cells[at].source.partition("\n\n\ndef indicator(")
    if not sep:
        raise SystemExit("make_real_samples: step is not followed by indicator in the reference notebook")
    cells[at:at + 1] = [Cell("raw", head + "\n"), Cell("code", "def indicator(" + rest)]
    _number(cells)
    return _dump(_jupyterlab_notebook(cells, name))


BIG_TRAINING = """\
# watch the decision regions while training: a plot every 5 steps
rng = np.random.default_rng(3)
hidden = 64
net = {
    "W1": rng.normal(0.0, np.sqrt(2.0 / 4), size=(4, hidden)),
    "b1": np.zeros(hidden),
    "W2": rng.normal(0.0, np.sqrt(1.0 / hidden), size=(hidden, 4)),
    "b2": np.zeros(4),
}
state = {}
X_val, y_val = make_data(2000, seed=7)
for i in range(1, {steps} + 1):
    X_batch, y_batch = make_data(256, seed=1000 + i)
    _, grads = mlp_loss_and_grads(net, X_batch, y_batch)
    net, state = adam_step(net, grads, state, i, 3e-3)
    if i % 5 == 0:
        predicted = np.argmax(mlp_forward(net, X_val), axis=1)
        plt.figure(figsize=(6, 6))
        plt.scatter(X_val[:, 0] - X_val[:, 1], X_val[:, 2] - X_val[:, 3], c=predicted, s=3, cmap="tab10")
        plt.title(f"step {i}: accuracy {np.mean(predicted == y_val):.3f}")
        plt.show()
"""
BIG_IMAGE_BYTES = 64_000  # a 6x6 in scatter plot at the default dpi, as PNG


def big_outputs_notebook(megabytes: float, name: str = "real_big_outputs") -> bytes:
    """A JupyterLab notebook whose training cell shows a plot every 5 steps: about `megabytes` MB of PNGs."""
    cells = _with_checks(reference_cells())
    _plotting_imports(cells, "tqdm.auto")
    per_image = len(png_payload("size", BIG_IMAGE_BYTES))
    count = max(1, round(megabytes * MB / per_image))
    plots = [image(f"{name}/{i}", BIG_IMAGE_BYTES, "<Figure size 600x600 with 1 Axes>") for i in range(count)]
    _insert_after(cells, "def train_mlp", Cell("code", BIG_TRAINING.replace("{steps}", str(5 * count)), plots))
    _number(cells)
    return _dump(_jupyterlab_notebook(cells, name)).encode("utf-8")


def _padded(value: float, width: int) -> str:
    """A whole number with leading zeros to `width` digits, as a student aligns a column."""
    number = float(value)
    if not number.is_integer() or abs(number) >= 10**width:
        return repr(value)
    return ("-" if number < 0 else "") + f"{abs(int(number)):0{width}d}"


def _plain(value: float) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def _node(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_']+", name) else json.dumps(name)


def _theta(order: str) -> str:
    """O(...) written as Θ(...)."""
    return re.sub(r"^O[(](.*)[)]$", r"Θ(\1)", order)


def leading_zeros_yaml() -> str:
    """The reference's answers as a student types them: columns aligned with leading zeros (08, 048),
    Θ for the orders of growth, and comments."""
    answers = yaml.safe_load((REFERENCE / "hw1_written.yaml").read_text(encoding="utf-8"))
    q1_1 = answers["q1_1"]
    lines = ["# HW1 written answers (Zoë Øster-Nuñez)", "", "# 1.1: hidden unit j fires iff x1 > x(j+1)", "q1_1:"]
    lines.append("  W1:")
    lines += ["    - [" + ", ".join(_plain(v) for v in row) + "]" for row in q1_1["W1"]]
    lines.append("  b1: [" + ", ".join(_plain(v) for v in q1_1["b1"]) + "]")
    lines.append("  w2: [" + ", ".join(_plain(v) for v in q1_1["w2"]) + "]")
    lines.append(f"  b2: {_plain(q1_1['b2'])}")
    lines += [f"  phi1: {q1_1['phi1']}", f"  phi2: {q1_1['phi2']}", "", "# 1.2", "q1_2_graph:"]
    lines += [f"  - [{_node(a)}, {_node(b)}]" for a, b in answers["q1_2_graph"]]
    lines += ["", "# 1.3: H = v v^T", "q1_3_hessian:"]
    lines += ["  - [" + ", ".join(_padded(v, 2) for v in row) + "]" for row in answers["q1_3_hessian"]]
    cost = answers["q1_3_cost"]
    lines += ["q1_3_cost:", f"  multiplications: {_theta(cost['multiplications'])}",
              f"  memory: {_theta(cost['memory']).replace('^2', '²')}", ""]
    lines += ["# 1.3.1", "q1_3_1_z: [" + ", ".join(_padded(v, 3) for v in answers["q1_3_1_z"]) + "]", "q1_3_1_cost:"]
    lines += [f"  {key}: {value}" for key, value in answers["q1_3_1_cost"].items()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the samples
Writer = Callable[[Path], None]


def _file(name: str, make: Callable[[str], str | bytes]) -> Callable[[str], Writer]:
    """A writer of `name`, its content made from the sample's name."""

    def bind(sample: str) -> Writer:
        def write(folder: Path) -> None:
            content = make(sample)
            (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))

        return write

    return bind


def _copy(name: str) -> Callable[[str], Writer]:
    """A writer of the reference's file `name`, unchanged."""
    return _file(name, lambda sample: (REFERENCE / name).read_bytes())


def _text(name: str, make: Callable[[], str]) -> Callable[[str], Writer]:
    """A writer of `name`, the same text in every sample."""
    return _file(name, lambda sample: make())


ANSWERS_AND_WEIGHTS = [_copy("hw1_written.yaml"), _copy("hw1_weights.npz")]
NOTEBOOK = "hw1_code.ipynb"

SPEC: dict[str, tuple[str, list[Callable[[str], Writer]], dict[str, float]]] = {
    "real_colab": (
        "Downloaded from Colab: colab/accelerator metadata, ids and outputIds in cell metadata, !pip install "
        "torch, drive.mount, %matplotlib inline and matplotlib imported before numpy in the first cell, "
        "tqdm.notebook progress bars and about 1.5 MB of plots: full marks.",
        [_file(NOTEBOOK, lambda s: colab_notebook(s, images=10, image_bytes=110_000)), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_vscode": (
        "Saved by VS Code: nbformat 4.2 with a vscode interpreter hash, cells run out of order (one only works "
        "after Part 5 has run), stream outputs, import seaborn and a torch cross-check that fails in the "
        "grader: full marks.",
        [_file(NOTEBOOK, vscode_notebook), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_jupyterlab4": (
        "Saved by JupyterLab 4 on Windows: nbformat 4.5 with cell ids, widget state, a markdown cell with an "
        "image attachment, a raw cell, ipywidgets.interact and tqdm.auto; CRLF line endings and a UTF-8 BOM: "
        "full marks.",
        [_file(NOTEBOOK, jupyterlab4_notebook), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_nbformat3": (
        "An IPython 2 notebook (nbformat 3): worksheets, code in `input`, heading cells, pyout outputs: full marks.",
        [_file(NOTEBOOK, nbformat3_notebook), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_nbformat40": (
        "A Jupyter 4.0 notebook (nbformat 4.0): no cell ids, sources and outputs as single strings: full marks.",
        [_file(NOTEBOOK, nbformat40_notebook), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_utf16": (
        "The notebook after a PowerShell redirect: UTF-16 LE with a BOM and CRLF, non-ASCII text in markdown "
        "and code: full marks.",
        [_file(NOTEBOOK, utf16_notebook), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_magics_writefile": (
        "A %%writefile hw1_lib.py cell whose helpers the graded functions call after import hw1_lib; "
        "%load_ext autoreload, %timeit, %%time, !nvidia-smi, ?np.dot and np.outer? lines: full marks.",
        [_file(NOTEBOOK, magics_notebook), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_annotations_missing_params": (
        "The first cell fails at torch.set_default_dtype (torch is not in the grader) before it defines "
        "Params, which every graded function's annotations name; annotations are not evaluated: full marks.",
        [_file(NOTEBOOK, missing_params_notebook), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_jupytext_script": (
        "Only hw1_code.py, jupytext's percent script with its YAML header, instead of the notebook: read as "
        "the notebook (with a note), full marks.",
        [_file("hw1_code.py", jupytext_script), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_copy_of": (
        "Colab's 'Copy of hw1_code.ipynb', submitted under that name: used as hw1_code.ipynb, full marks.",
        [_file("Copy of hw1_code.ipynb", lambda s: colab_notebook(s, images=2, image_bytes=20_000)),
         *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_raw_cell_function": (
        "step is left in a Raw cell, so it is never defined: p1_step (2) and hardcoded_forward (3), which "
        "calls it, score 0 and their feedback names the raw cell; kth_largest_params is judged with the "
        "grader's own forward pass and keeps its points; everything else full.",
        [_file(NOTEBOOK, raw_step_notebook), *ANSWERS_AND_WEIGHTS],
        {**FULL, **RAW_STEP_LOSES},
    ),
    "real_big_outputs": (
        "A training cell that shows a plot every 5 steps: about 3 MB of PNG outputs (the 26 MB one a student "
        "submitted is too big to commit; test_real_samples.py grades a 30 MB one): full marks.",
        [_file(NOTEBOOK, lambda s: big_outputs_notebook(3, s)), *ANSWERS_AND_WEIGHTS],
        FULL,
    ),
    "real_written_leading_zeros": (
        "hw1_written.yaml typed with columns aligned by leading zeros ([16, 08, 20], [048, 012, 024]: YAML 1.1 "
        "reads 012 as octal and 048 as text) and Θ(n^2), Θ(n²) for the orders of growth: full marks.",
        [_text("hw1_written.yaml", leading_zeros_yaml), _copy(NOTEBOOK), _copy("hw1_weights.npz")],
        FULL,
    ),
}


def write_all(target: Path = SAMPLES) -> list[str]:
    """(Re)write every real_* sample folder under target (removing stale ones); return their names."""
    if target.is_dir():
        for stale in target.glob(PREFIX + "*"):
            if stale.is_dir() and stale.name not in SPEC:
                shutil.rmtree(stale)
    for name, (description, writers, parts) in SPEC.items():
        folder = target / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for writer in writers:
            writer(name)(folder)
        expected = {"description": description, "parts": parts, "tolerance": 0.01}
        (folder / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    return list(SPEC)


if __name__ == "__main__":
    names = write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES)
    print(f"wrote {len(names)} samples: {', '.join(names)}")
