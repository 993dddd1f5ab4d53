"""The shortcuts that skip reading most cells (grader/sandbox/ipython.py, imports.py) give the
same result as reading them: on every code cell of every sample notebook, and on IPython lines
of every kind."""

from __future__ import annotations

from pathlib import Path

from grader.notebook import load_notebook
from grader.sandbox import imports, ipython

ROOT = Path(__file__).resolve().parents[1]
TRICKY = [
    "!pip install torch", "  !ls -la", "%matplotlib inline", "%%time\nx = 1", "%%writefile a.py\nx=1",
    "files = !ls", "x = %pwd", "np.sum?", "?np.sum", "np.sum??", "x = 1  # what?", "s = '''\n!not a magic\n'''",
    "if True:\n    %time f()\n", "a = (1,\n%2)", "b = 3 % 2", "c = x != y", "d=!echo", "\tx = 1\n\t!ls",
    "try:\n    import torch\nexcept ImportError:\n    torch = None", "try:\n    import torch\nfinally:\n    pass",
    "try:\n    from google.colab import drive\nexcept Exception:\n    drive = None", "entry = 'try' + 'import'",
    "try:\n    x = 1\nexcept ImportError:\n    pass",
    "def f():\n    try:\n        import a, b\n    except:\n        pass",
]


def _cells() -> list[str]:
    sources = list(TRICKY)
    for path in sorted((ROOT / "sample_submissions").rglob("*.ipynb")):
        try:
            notebook = load_notebook(path)
        except Exception:  # a sample that is meant not to load
            continue
        sources += [cell.source for cell in notebook.cells]
    return sources


def test_the_shortcuts_change_nothing() -> None:
    cells = _cells()
    assert len(cells) > 400  # the samples' cells were found
    differ = [source for source in cells if ipython.to_python(source) != ipython._transform(source)
              or imports.guarded_import_lines(source) != imports._from_tree(source)]
    assert not differ, differ[:3]
    assert ipython.to_python("!ls").source == "pass" and imports.guarded_import_lines(TRICKY[18]) == [2]
