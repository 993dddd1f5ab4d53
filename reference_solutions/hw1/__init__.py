"""Homework 1 references: the notebook solution, computed written answers and their proofs."""
