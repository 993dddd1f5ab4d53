"""Which isolation layer may grade where there is something to protect, and saying so.

A batch run, Gradescope and `grader validate` hold what a submission must not reach (other
submissions, results, the salt, the references), so none of them falls back silently to a layer
weaker than the instructor's minimum: `decide` refuses, naming why each stronger layer is
unavailable and what to do. The minimum is `--min-isolation`, else `$GRADER_MIN_ISOLATION`,
else the default: as root, anything but rlimits (student code would run as root, able to read
and change everything); as another user, any layer, since none but namespaces (bubblewrap)
exists there. A layer named on the command line (`--isolation rlimits`) or in
`$GRADER_ISOLATION` is the instructor's choice and passes the default, not an explicit minimum.

A weaker layer that is allowed is still said: `decide` returns a warning for the console, and
`layer_warning` says the same for summary.html. The student self-check (`grader check`, the kit)
has nothing to protect and does not use this module.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field

from grader.errors import GraderError
from grader.sandbox.isolation import ENV_LAYER, ENV_USER, LAYERS, IsolationError, choose_layer

__all__ = ["ENV_MIN", "IsolationDecision", "IsolationRefused", "decide", "layer_warning", "weaker_than"]

ENV_MIN = "GRADER_MIN_ISOLATION"
STRONGEST = LAYERS[0]
ACCEPT_ON_COMMAND_LINE = "pass --isolation rlimits to accept running student code unisolated"
"""How to accept the rlimits layer, for the command line; Gradescope says another way."""

_LEAVES_OPEN = {
    "uid": ("student code runs as an unprivileged user: it can fill the disk, stat any path and, off "
            "Linux x86_64/aarch64, reach the network (docs/security.md)"),
    "rlimits": ("student code runs WITHOUT isolation, as {user}: it can read and change everything "
                "{user} can, other submissions and their results included (docs/security.md)"),
    "none": "the sandbox did not start: student code did not run (see each grader.log)",
}
# Where the kernel has Landlock, the uid layer reads only its runtime and working copy; without
# it, every file that other users may read outside the grader's secret paths.
_UID_WITHOUT_LANDLOCK = ("student code runs as an unprivileged user: it can read every file that other "
                         "users may read outside the grader's secret paths, fill the disk and, off Linux "
                         "x86_64/aarch64, reach the network (docs/security.md)")
_RLIMITS_WITH_LANDLOCK = ("student code runs WITHOUT isolation by another user or namespaces, as {user}, "
                          "confined only by Landlock (it reads only Python and numpy and writes only its "
                          "working copy) and a seccomp filter: {user}'s other rights stay open to it "
                          "(docs/security.md)")


class IsolationRefused(GraderError):
    """No layer at least as strong as the minimum works here: nothing is graded."""


@dataclass(frozen=True)
class IsolationDecision:
    """The layer to grade with, the minimum it met, and why each stronger layer is not used."""

    layer: str
    minimum: str
    minimum_from: str
    not_used: dict[str, str] = field(default_factory=dict)

    @property
    def warning(self) -> str | None:
        """A line for the console when the layer is weaker than the strongest, else None."""
        if self.layer == STRONGEST:
            return None
        why = "; ".join(f"{layer}: {reason}" for layer, reason in self.not_used.items())
        return f"isolation layer {self.layer} ({why}): {layer_warning(self.layer)}"


def weaker_than(layer: str, other: str) -> bool:
    """Whether `layer` isolates less than `other` (an unknown layer, such as "none", is weakest)."""
    rank = {name: index for index, name in enumerate(LAYERS)}
    return rank.get(layer, len(LAYERS)) > rank.get(other, len(LAYERS))


def layer_warning(layer: str) -> str:
    """What a layer weaker than the strongest leaves open, in a sentence; empty for the strongest."""
    if layer == STRONGEST:
        return ""
    from grader.sandbox.landlock import landlock_abi

    text = _LEAVES_OPEN.get(layer, _LEAVES_OPEN["none"])
    if layer == "uid" and not landlock_abi():
        text = _UID_WITHOUT_LANDLOCK
    elif layer == "rlimits" and landlock_abi():
        text = _RLIMITS_WITH_LANDLOCK
    return text.format(user=_user())


def decide(requested: str | None = None, minimum: str | None = None, *,
           accept: str = ACCEPT_ON_COMMAND_LINE) -> IsolationDecision:
    """The layer to grade with: `requested` (else $GRADER_ISOLATION) or the strongest here.

    Raises IsolationRefused, before anything is graded, when that layer is weaker than the
    minimum (`minimum`, else $GRADER_MIN_ISOLATION, else the default above), or when the
    requested layer cannot work here. `accept` says how to accept rlimits where the caller is.
    """
    requested = requested or os.environ.get(ENV_LAYER) or None
    minimum, minimum_from = _minimum(minimum, requested)
    try:
        layer = choose_layer(requested)
    except IsolationError as exc:
        raise IsolationRefused(f"{exc}. {_what_to_do(minimum, minimum_from, accept)}") from None
    not_used = {stronger: _why_not(stronger, requested) for stronger in LAYERS[:LAYERS.index(layer)]}
    if weaker_than(layer, minimum):
        reasons = "; ".join(f"{name} {reason}" for name, reason in not_used.items())
        chosen = "the layer asked for" if requested else "the strongest layer that works here"
        raise IsolationRefused(
            f"refusing to grade: {chosen} is {layer}, weaker than the minimum {minimum} "
            f"({minimum_from}): {layer_warning(layer)}. {reasons}. {_what_to_do(minimum, minimum_from, accept)}")
    return IsolationDecision(layer, minimum, minimum_from, not_used)


def _minimum(given: str | None, requested: str | None) -> tuple[str, str]:
    """The weakest layer accepted and where that rule comes from."""
    for value, source in ((given, "--min-isolation"), (os.environ.get(ENV_MIN) or None, f"${ENV_MIN}")):
        if value is not None:
            if value not in LAYERS:
                raise IsolationRefused(f"{source} {value!r} is not an isolation layer; "
                                       f"choose one of {', '.join(LAYERS)}")
            return value, source
    if requested is not None:
        return requested, "the layer asked for by name"
    if _as_root():
        return "uid", "the default as root: rlimits only when asked for by name"
    return LAYERS[-1], "the default without root"


def _why_not(layer: str, requested: str | None) -> str:
    """Why a layer stronger than the one used is not used: unavailable (and why) or not asked for."""
    try:
        choose_layer(layer)
    except IsolationError as exc:
        reason = str(exc).split(": ", 1)[-1]
        return f"unavailable: {reason}"
    return f"available, but {requested} was asked for" if requested else "available"


def _what_to_do(minimum: str, minimum_from: str, accept: str) -> str:
    """The ways out, strongest first: bubblewrap, an unprivileged user as root, a lower minimum."""
    ways = ["install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) for the namespaces layer"]
    if _as_root() and not weaker_than("uid", minimum):
        ways.append(f"set {ENV_USER} to an existing unprivileged user for the uid layer")
    if minimum_from.startswith("the default"):
        ways.append(accept)
    elif minimum_from.startswith("--") or minimum_from.startswith("$"):
        ways.append(f"lower the minimum set by {minimum_from}")
    return f"To grade here, {', or '.join(ways)}."


def _as_root() -> bool:
    """Whether the grader runs as root (student code under rlimits would run as root too)."""
    return os.name == "posix" and os.geteuid() == 0


def _user() -> str:
    """The name of the user the grader runs as (student code runs as it under rlimits)."""
    try:
        return getpass.getuser()
    except Exception:  # no name for this uid (a container): say which uid it is
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "the grader's user"
