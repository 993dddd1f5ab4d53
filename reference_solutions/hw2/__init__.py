"""Homework 2 references: the notebook solution, computed written answers and their proofs, its plugin."""
