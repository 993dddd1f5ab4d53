"""The checks a rubric item can name, one module per kind; each registers itself by name.

- registry.py: the table of checks and their parameters (validated when a rubric loads);
- written.py, network.py, graph.py, expressions/ (a package), arrays.py: written answers;
- notebook_checks.py, feedback.py: calls into the student's notebook and their messages;
- weights.py: the trained weights file (p5).
"""
