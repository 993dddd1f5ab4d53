"""Facts both sides of the parent-child protocol share, in one place.

STANDALONE: no imports at all. The parent imports this module; the child gets its text
prepended to its own source (the child never imports `grader`), so both read the same values.
The message forms themselves are described in child.py's docstring and encoded by wire.py.
"""

# What the child may report for a cell and for a call (the parent adds "crashed" itself).
CHILD_CELL_STATUSES = frozenset({"ok", "error", "timeout", "skipped"})
CHILD_CALL_STATUSES = frozenset({"ok", "error", "timeout", "missing", "bad_value", "not_run"})

# The child's exit code when the harness itself failed (not the student's code).
HARNESS_FAULT_EXIT = 70

# The keys of the request's first line (the header: how the child confines itself).
HEADER_KEYS = ("path", "cwd", "drop", "rlimits", "landlock", "seed")

# Where a warm process's sandbox sees each session's files (grader/sandbox/warm.py), read-only.
WARM_SEEDS = "/.warm-seeds"

# Array dtypes the wire carries as raw bytes (little-endian, fixed size).
WIRE_DTYPES = frozenset({
    "|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8",
    "<f2", "<f4", "<f8", "<c8", "<c16",
})
