"""Trusted reference solutions that the grader imports in its own process."""
