# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.16.1
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Homework 1
#
# Name: Ada Lovelace

# %%
import numpy as np


def step(z):
    """1.0 where z > 0, else 0.0."""
    return (np.asarray(z) > 0).astype(float)

# %%
def indicator(z):
    """1.0 where -1 <= z <= 1, else 0.0."""
    z = np.asarray(z)
    return ((z >= -1) & (z <= 1)).astype(float)

# %% [raw]
# def hardcoded_forward(params, X):
#     return None

# %% tags=["plot"]
# %matplotlib inline
z = np.linspace(-3, 3, 7)
print(step(z), indicator(z))
