"""The student kit's own checker: runs the public checks with no grader and no solutions installed.

`grader build-student-kit` copies this package into the kit as `<assignment>check/`, next to the
sandbox modules it needs (copied from the grader too), rewriting every `grader.` import to the
kit's package; it refuses to build if any copied module would import something not copied.
Nothing here may import from `grader` except those copied modules.
"""
