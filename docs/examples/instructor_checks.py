"""Custom checks an instructor adds to the rubric's items, run by the grader's pytest plugin.

    pytest --grade-submission sample_submissions/hw1/reference --grade-rubric rubrics/hw1.yaml \
           --grade-results results.json docs/examples/instructor_checks.py

Every test marked `points` becomes one more item of results.json: full points if it passes, 0
with its failure message (shown to the student) if not. Student code never runs in this
process: `student_session.call` runs the notebook in the sandbox and returns plain data.
"""

import numpy as np
import pytest


@pytest.mark.points(1, part="p1", visibility="visible", name="p1_step_is_elementwise")
def test_step_keeps_the_shape_of_its_input(student_session):
    """step(z) keeps the shape of z (a 2 x 2 input)"""
    z = np.array([[-1.0, 0.5], [2.0, -0.25]])
    value = student_session.call("step", z)
    assert np.shape(value) == z.shape, f"step(z) of shape {z.shape} returned shape {np.shape(value)}"


@pytest.mark.points(1, part="p4", visibility="after_due_date", name="p4_weights_file_present")
def test_the_weights_file_was_submitted(graded_submission):
    """hw1_weights.npz is part of the submission"""
    assert "weights" in graded_submission.files, "hw1_weights.npz is missing from the submission."
