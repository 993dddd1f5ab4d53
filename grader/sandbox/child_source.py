"""The sandboxed child's program, as text: protocol facts, the Landlock module, then the harness.

The child never imports `grader`: it runs this text with `python -I -S -B -c`, fresh per session
or once per warm process (see warm.py).
"""

from __future__ import annotations

from pathlib import Path

CHILD_SOURCE = "\n\n".join(Path(__file__).with_name(name).read_text(encoding="utf-8")
                           for name in ("protocol.py", "landlock.py", "child.py"))
