"""Reference solution of the Homework 2 notebook, in percent format (`# %%` starts a cell)."""
# Everything above the first cell marker is the file header and is not part of the notebook.
# `python -m reference_solutions.hw2.build` turns this file into the reference notebook and
# into the student template (each BEGIN/END SOLUTION region becomes `raise NotImplementedError`).
# The grader imports this file as a plain module, so module level holds only definitions and
# the guarded training cell at the end.

# %% [markdown]
# # Homework 2: softmax, cross-entropy, 1-D convolution
#
# Fill in every function that raises `NotImplementedError`. Do not rename functions or
# change their signatures: the autograder calls them by name.
#
# Conventions: all arrays are numpy `float64`, except the integer class labels `y`; a batch
# of `N` rows of `C` logits is an array `(N, C)`; use numpy only (no autograd libraries).
#
# The autograder runs this notebook with numpy and the Python standard library only. Other
# imports (matplotlib, torch, google.colab, tqdm) are allowed and cost nothing: plotting and
# progress bars do nothing there (plots are not graded), and code that needs another package
# fails only where it runs. Shell lines (`!pip install ...`) are skipped.

# %%
import os

import numpy as np

Params = dict[str, np.ndarray]

# %% [markdown]
# ## Part 1: softmax
#
# - `softmax(Z)`: `(N, C) -> (N, C)`, each row sums to 1. It must stay finite for entries as
#   large as ±1000 (`np.exp(1000)` is `inf`).
# - `log_softmax(Z)`: `(N, C) -> (N, C)`, the logarithm of softmax, finite even where softmax
#   underflows to 0 (a row `[0, -1000]`): do not take the log of `softmax(Z)`.


# %%
def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of Z (N, C), finite for large entries."""
    # BEGIN SOLUTION
    Z = np.asarray(Z, dtype=np.float64)
    # Subtracting the row maximum changes no ratio exp(z_i) / exp(z_j), and every exponent
    # becomes <= 0, so exp() cannot overflow; the maximum's own term is exp(0) = 1.
    shifted = Z - np.max(Z, axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=1, keepdims=True)
    # END SOLUTION


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise log of softmax(Z), finite where softmax underflows."""
    # BEGIN SOLUTION
    Z = np.asarray(Z, dtype=np.float64)
    shifted = Z - np.max(Z, axis=1, keepdims=True)
    # log sum exp of the shifted row is in [0, log C]: never log(0).
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    # END SOLUTION


# %% [markdown]
# ## Part 2: cross-entropy
#
# For logits `Z` (N, C) and integer labels `y` (N,) in `[0, C)`:
# - `cross_entropy(Z, y)`: a float, the mean over rows of `-log softmax(Z)[i, y[i]]`;
# - `cross_entropy_grad(Z, y)`: its gradient with respect to `Z`, `(softmax(Z) - onehot(y)) / N`.


# %%
def cross_entropy(Z: np.ndarray, y: np.ndarray) -> float:
    """Mean over rows of -log softmax(Z)[i, y[i]]."""
    # BEGIN SOLUTION
    logp = log_softmax(Z)
    y = np.asarray(y, dtype=np.int64)
    return float(-np.mean(logp[np.arange(logp.shape[0]), y]))
    # END SOLUTION


def cross_entropy_grad(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient (N, C) of cross_entropy(Z, y) with respect to Z."""
    # BEGIN SOLUTION
    y = np.asarray(y, dtype=np.int64)
    grad = softmax(Z)
    N = grad.shape[0]
    grad[np.arange(N), y] -= 1.0
    return grad / N
    # END SOLUTION


# %% [markdown]
# ## Part 3: 1-D convolution
#
# Deep-learning libraries compute a *cross-correlation* and call it convolution: the kernel
# is not flipped. For `x` (n,) and `w` (k,) with `k <= n`:
# - `conv1d(x, w)`: the valid output `(n - k + 1,)`, `out[i] = sum_j x[i + j] * w[j]`;
# - `conv1d_backward(x, w, dout)`: given `dout = dL/dout` (n - k + 1,), return `(dx, dw)`,
#   the gradients of `L` with respect to `x` (n,) and `w` (k,).


# %%
def conv1d(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid 1-D cross-correlation: out[i] = sum_j x[i + j] w[j]."""
    # BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    k = w.shape[0]
    out = np.zeros(x.shape[0] - k + 1)
    for j in range(k):
        out += x[j : j + out.shape[0]] * w[j]
    return out
    # END SOLUTION


def conv1d_backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients (dx, dw) of L given dout = dL/d conv1d(x, w)."""
    # BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    k, m = w.shape[0], dout.shape[0]
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    # out[i] uses x[i + j] * w[j]: each term sends dout[i] * w[j] to x[i + j] and
    # dout[i] * x[i + j] to w[j].
    for j in range(k):
        dx[j : j + m] += dout * w[j]
        dw[j] = float(np.dot(dout, x[j : j + m]))
    return dx, dw
    # END SOLUTION


# %% [markdown]
# ## Part 4: classify a 3-arm spiral
#
# `make_spiral(n, seed)` draws the task: a class `y` uniform in {0, 1, 2}, a radius `r`
# uniform in [0, 1], an angle `t = 4y + 4r + 0.3 * noise` and the point `(r sin t, r cos t)`.
# Train a one-hidden-layer ReLU network whose logits are `relu(X W1 + b1) W2 + b2` (given as
# `mlp_logits`) with at most 128 hidden units, and save its weights with the last cell:
# `hw2_model.npz` with keys `W1` (2, H), `b1` (H,), `W2` (H, 3), `b2` (3,). The autograder
# measures its accuracy on a hidden test set: 0 points at 55 %, full marks at 95 %.
# A linear classifier reaches only about 51 %.


# %%
def make_spiral(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points (n, 2) of the 3-arm spiral and their classes (n,)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    r = rng.uniform(0.0, 1.0, size=n)
    t = 4.0 * y + 4.0 * r + 0.3 * rng.normal(size=n)
    return np.stack([r * np.sin(t), r * np.cos(t)], axis=1), y


def mlp_logits(params: Params, X: np.ndarray) -> np.ndarray:
    """Logits (N, 3) of relu(X W1 + b1) W2 + b2."""
    hidden = np.maximum(np.asarray(X, dtype=np.float64) @ params["W1"] + params["b1"], 0.0)
    return hidden @ params["W2"] + params["b2"]


def accuracy(params: Params, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of X whose largest logit is their class."""
    return float(np.mean(np.argmax(mlp_logits(params, X), axis=1) == y))


def train_mlp(hidden: int = 64, steps: int = 1500, n: int = 4000, lr: float = 0.01, seed: int = 0) -> Params:
    """Train the Part 4 network on make_spiral data with full-batch Adam; return its parameters."""
    # BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    X, y = make_spiral(n, seed=seed + 1)
    params: Params = {
        "W1": rng.normal(0.0, np.sqrt(2.0 / 2), size=(2, hidden)),
        "b1": rng.normal(0.0, 0.5, size=hidden),
        "W2": rng.normal(0.0, np.sqrt(1.0 / hidden), size=(hidden, 3)),
        "b2": np.zeros(3),
    }
    m = {key: np.zeros_like(p) for key, p in params.items()}
    v = {key: np.zeros_like(p) for key, p in params.items()}
    for i in range(1, steps + 1):
        a = X @ params["W1"] + params["b1"]
        h = np.maximum(a, 0.0)
        dz = cross_entropy_grad(h @ params["W2"] + params["b2"], y)
        da = (dz @ params["W2"].T) * (a > 0)
        grads = {"W1": X.T @ da, "b1": da.sum(axis=0), "W2": h.T @ dz, "b2": dz.sum(axis=0)}
        step_lr = lr * 0.5 * (1.0 + np.cos(np.pi * i / steps))  # cosine decay to zero
        for key, g in grads.items():
            m[key] = 0.9 * m[key] + 0.1 * g
            v[key] = 0.999 * v[key] + 0.001 * g * g
            m_hat, v_hat = m[key] / (1 - 0.9**i), v[key] / (1 - 0.999**i)
            params[key] = params[key] - step_lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return params
    # END SOLUTION


# %% [markdown]
# Run the next cell to train and save `hw2_model.npz` (the autograder never runs it).


# %%
# The guard keeps training out of imports (there __name__ is the module name) and out of the
# autograder, which runs notebooks with AUTOGRADER=1.
if __name__ == "__main__" and os.environ.get("AUTOGRADER") != "1":
    trained = train_mlp()
    X_test, y_test = make_spiral(20_000, seed=2025)
    print(f"test accuracy: {accuracy(trained, X_test, y_test):.4f}")
    np.savez("hw2_model.npz", W1=trained["W1"], b1=trained["b1"], W2=trained["W2"], b2=trained["b2"])
