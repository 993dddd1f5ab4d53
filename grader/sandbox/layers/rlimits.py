"""The rlimits layer (a student's laptop): resource limits, and Landlock where Linux has it.

The child runs as the grader's own user; on Linux with Landlock it reads only Python and numpy
and writes only its working copy; elsewhere it is NOT isolated (the self-check has no secrets).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from grader.sandbox.landlock import landlock_abi
from grader.sandbox.layers.base import Launch, Layer, is_root
from grader.sandbox.layers.common import environment, landlock_rules, python_executable, system_paths


class RlimitsLayer(Layer):
    """Resource limits only (plus Landlock on Linux): what every machine can do."""

    name = "rlimits"
    summary = "resource limits, and Landlock on Linux; not isolated elsewhere"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def prepare(self, secret_paths: Sequence[Path]) -> None:
        if landlock_abi() == 0:
            self.sandbox.notices.append(
                "The notebook ran WITHOUT isolation (resource limits only): its code could read "
                "and change any file the grader's user can.")
        elif is_root():
            self.sandbox.notices.append(
                "The notebook ran AS ROOT, confined by Landlock (it reads only Python and numpy "
                "and writes only its working copy), a seccomp filter (no ownership, mode or "
                "attribute changes, no keyrings, nothing that reaches other processes) and "
                "resource limits; root may still do what none of these covers.")
        else:
            self.sandbox.notices.append(
                "The notebook ran as the grader's own user, confined by Landlock (it reads only "
                "Python and numpy and writes only its working copy) and resource limits.")

    def launch(self, work: Path, python: list[str]) -> Launch:
        sandbox = self.sandbox
        assert sandbox.root is not None
        packages = sandbox.root / "pkgs"
        if not packages.exists():
            packages.mkdir()
            for source in sandbox.packages:
                (packages / source.name).symlink_to(source)
        env = environment(str(work))
        env["TMPDIR"] = str(work)  # the one folder it may write to
        readable = [str(packages), *(str(p.resolve()) for p in sandbox.packages),
                    str(Path(sys.base_prefix).resolve()), str(python_executable())]
        return Launch(python, env, str(work), [str(packages)], str(work), None, sandbox.rlimits,
                      landlock=landlock_rules([*readable, *system_paths()], [str(work)]))
