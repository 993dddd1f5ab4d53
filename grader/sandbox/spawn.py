"""Starting one child: its program (protocol facts, Landlock, harness) and its first line."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.isolation import Sandbox
from grader.sandbox.protocol import HEADER_KEYS
from grader.sandbox.reader import Reader
from grader.sandbox.types import SessionLimits

# The child's program: the protocol's shared facts, the Landlock module, then the harness (it
# never imports `grader`).
CHILD_SOURCE = "\n\n".join(Path(__file__).with_name(name).read_text(encoding="utf-8")
                             for name in ("protocol.py", "landlock.py", "child.py"))


@dataclass
class Spawned:
    """A started child that has been sent its header, waiting for its body."""

    sandbox: Sandbox
    process: subprocess.Popen[bytes]
    reader: Reader
    stopped: bool = False

    def stop(self) -> None:
        """Kill the child and everything it started; safe to call again."""
        if not self.stopped:
            self.stopped = True
            self.sandbox.stop(self.process)
            self.reader.close()


def spawn_child(sandbox: Sandbox, limits: SessionLimits) -> Spawned:
    """Start a child and send the header that confines it."""
    launch = sandbox.launch(CHILD_SOURCE)
    header = {"path": launch.path, "cwd": launch.workdir, "drop": launch.drop,
              "rlimits": launch.rlimits, "landlock": launch.landlock, "seed": launch.seed}
    assert tuple(header) == HEADER_KEYS  # the child reads these keys (protocol.py)
    process = sandbox.spawn(launch)
    reader = Reader(process, limits.output_bytes, wrapped=sandbox.layer == "namespaces")
    reader.send_header(json.dumps(header, allow_nan=False).encode() + b"\n")
    return Spawned(sandbox, process, reader)
