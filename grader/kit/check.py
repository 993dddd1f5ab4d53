"""Run the public checks of the homework on your files: `python check.py [PATH]`.

PATH is the folder (or a zip of it) holding your notebook, written answers and weights; the
default is the current folder. Needs Python 3.10+ with numpy and PyYAML. See README.md.
"""

import importlib.util
import sys
from pathlib import Path


def _run() -> int:
    # A student's Python may be older than the grader's: say so instead of failing on syntax.
    if sys.version_info < (3, 10):  # noqa: UP036
        print("check: error: the self-check needs Python 3.10 or newer; this is "
              + sys.version.split()[0])
        return 2
    missing = [name for name in ("numpy", "yaml") if importlib.util.find_spec(name) is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        print(f"check: error: {' and '.join(missing)} {verb} not installed for {sys.executable}; "
              "install them with: python -m pip install numpy pyyaml")
        return 2
    # Python's isolated mode (-I) leaves this script's folder off sys.path; the checker lives here.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from grader.kit.checker import main

    return main()


if __name__ == "__main__":
    sys.exit(_run())
