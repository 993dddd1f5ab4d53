"""Running student code in an isolated child process; the grader only ever sees plain data.

`run_session` runs a notebook's code cells and then the grader's calls in one sandboxed child
(see `session`); `isolation` picks the strongest isolation layer the machine allows.
"""

from grader.sandbox.isolation import IsolationError, available_layers, choose_layer
from grader.sandbox.session import (
    Call,
    CallResult,
    CellReport,
    SandboxError,
    SessionLimits,
    SessionReport,
    run_session,
)
from grader.sandbox.wire import Ref, TestFunction, WireError

__all__ = [
    "Call",
    "CallResult",
    "CellReport",
    "IsolationError",
    "Ref",
    "SandboxError",
    "SessionLimits",
    "SessionReport",
    "TestFunction",
    "WireError",
    "available_layers",
    "choose_layer",
    "run_session",
]
