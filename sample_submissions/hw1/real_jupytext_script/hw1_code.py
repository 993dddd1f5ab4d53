# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
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
# # Homework 1: programming part
#
# Fill in every function that raises `NotImplementedError`. Do not rename functions or
# change their signatures: the autograder calls them by name.
#
# Conventions used everywhere below:
# - all arrays are numpy `float64` (integer labels are the one exception);
# - batches are **row vectors**: a batch of `B` inputs of dimension `D` is an array `(B, D)`;
# - use numpy only (no autograd libraries).
#
# The autograder runs this notebook with numpy and the Python standard library only. Other
# imports (matplotlib, torch, google.colab, tqdm) are allowed and cost nothing: plotting and
# progress bars do nothing there (plots are not graded), and code that needs another package
# fails only where it runs. Shell lines (`!pip install ...`) are skipped.

# %%
# %matplotlib inline
import os
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

Params = dict[str, np.ndarray]

# %% [markdown]
# ## Part 1: hard-coded networks (generalises written problem 1.1)
#
# - `step(z)`: elementwise `1.0` where `z > 0`, else `0.0` (the hard threshold).
# - `indicator(z)`: elementwise `1.0` where `-1 <= z <= 1` (edges included), else `0.0`.
# - `kth_largest_params(k)`, `k` in 1..4: a dict with `W1` (3, 4), `b1` (3,), `w2` (3,) and a
#   float `b2` such that `indicator(w2 · step(W1 x + b1) + b2)` is 1 exactly when `x[0]` is
#   the k-th largest of the four (distinct) entries of `x`.
# - `hardcoded_forward(params, X)`: that network on a batch `X` (N, 4); returns (N,) of 0.0/1.0.

# %%
def step(z: np.ndarray) -> np.ndarray:
    """Hard threshold: 1.0 where z > 0, else 0.0, elementwise."""
    return (np.asarray(z, dtype=np.float64) > 0).astype(np.float64)


def indicator(z: np.ndarray) -> np.ndarray:
    """Indicator of [-1, 1]: 1.0 where -1 <= z <= 1, else 0.0, elementwise."""
    z = np.asarray(z, dtype=np.float64)
    return ((z >= -1.0) & (z <= 1.0)).astype(np.float64)


def kth_largest_params(k: int) -> dict[str, np.ndarray | float]:
    """Weights of the 4-3-1 network that outputs 1 iff x[0] is the k-th largest entry."""
    if k not in (1, 2, 3, 4):
        raise ValueError(f"k must be in 1..4, got {k}")
    # Hidden unit j fires iff x[0] > x[j+1], so the hidden units sum to the number of entries
    # below x[0]; x[0] is the k-th largest iff that count is 4 - k.
    W1 = np.array([[1.0, -1.0, 0.0, 0.0], [1.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, -1.0]])
    b1 = np.zeros(3)
    # Scaling by 2 puts the wrong counts at pre-activations of at least ±2, safely outside the
    # indicator's closed interval [-1, 1]; the right count lands exactly on 0.
    w2 = np.full(3, 2.0)
    b2 = -2.0 * (4 - k)
    return {"W1": W1, "b1": b1, "w2": w2, "b2": float(b2)}


def hardcoded_forward(params: dict[str, np.ndarray | float], X: np.ndarray) -> np.ndarray:
    """Output (N,) of indicator(w2 · step(W1 x + b1) + b2) for each row x of X (N, 4)."""
    X = np.asarray(X, dtype=np.float64)
    h = step(X @ np.asarray(params["W1"]).T + np.asarray(params["b1"]))
    return indicator(h @ np.asarray(params["w2"]) + float(np.asarray(params["b2"])))

# %%
# sanity check: x[0] is the 2nd largest in row 0, the largest in row 1, the smallest in row 2
X = np.array([[3.0, 5.0, 1.0, 2.0], [5.0, 3.0, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
for k in range(1, 5):
    print(k, hardcoded_forward(kth_largest_params(k), X))

# %% [markdown]
# ## Part 2: backprop through the gated network of 1.2
#
# Parameters: `W1` (K, D), `b1` (K,), `W2` (K, D), `b2` (K,), `W3` (C, K), `W4` (C, D).
# For a batch `X` (B, D) with integer labels `t` (B,) in `[0, C)`:
#
# `a1 = X W1^T + b1`, `c1 = relu(a1)`, `a2 = X W2^T + b2`, `c2 = sigmoid(a2)`, `g = c1 * c2`,
# `y = g W3^T + X W4^T`, and the loss is the batch mean of `J = -log softmax(y)[t]`.
#
# - `gated_forward(params, X, t)` returns `(loss, cache)`; `cache` is anything your backward
#   pass needs.
# - `gated_backward(params, cache)` returns a dict of gradients of the loss with keys
#   `W1 b1 W2 b2 W3 W4 X`, each of the same shape as its input. Use `relu'(0) = 0`.
# - `numerical_grad(f, x, eps=1e-6)`: central-difference gradient of the scalar function `f`
#   at array `x` (same shape as `x`); `x` must be unchanged afterwards.
#
# The helpers `sigmoid` and `log_softmax` below are numerically stable: use them.

# %%
def sigmoid(a: np.ndarray) -> np.ndarray:
    """Numerically stable logistic sigmoid, elementwise."""
    # exp of a non-positive number never overflows: use 1/(1+e^-a) for a >= 0, e^a/(1+e^a) else.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_softmax(y: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax over the last axis."""
    # Subtracting the row maximum leaves softmax unchanged and keeps exp() from overflowing.
    shifted = y - np.max(y, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def gated_forward(
    params: Params, X: np.ndarray, t: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean loss J of the gated network over the batch, and a cache for the backward pass."""
    X = np.asarray(X, dtype=np.float64)
    t = np.asarray(t, dtype=np.int64)
    a1 = X @ params["W1"].T + params["b1"]
    c1 = np.maximum(a1, 0.0)
    a2 = X @ params["W2"].T + params["b2"]
    c2 = sigmoid(a2)
    g = c1 * c2
    y = g @ params["W3"].T + X @ params["W4"].T
    logp = log_softmax(y)
    loss = float(-np.mean(logp[np.arange(X.shape[0]), t]))
    cache = {"X": X, "t": t, "a1": a1, "c1": c1, "c2": c2, "g": g, "logp": logp}
    return loss, cache


def gated_backward(params: Params, cache: dict[str, np.ndarray]) -> Params:
    """Gradients of the mean loss w.r.t. W1 b1 W2 b2 W3 W4 and X."""
    X, t = cache["X"], cache["t"]
    B = X.shape[0]
    # d(mean J)/dy = (softmax(y) - onehot(t)) / B
    dy = np.exp(cache["logp"])
    dy[np.arange(B), t] -= 1.0
    dy /= B
    dg = dy @ params["W3"]
    dc1 = dg * cache["c2"]
    dc2 = dg * cache["c1"]
    da1 = dc1 * (cache["a1"] > 0)  # relu'(0) = 0
    da2 = dc2 * cache["c2"] * (1.0 - cache["c2"])
    return {
        "W1": da1.T @ X,
        "b1": da1.sum(axis=0),
        "W2": da2.T @ X,
        "b2": da2.sum(axis=0),
        "W3": dy.T @ cache["g"],
        "W4": dy.T @ X,
        "X": da1 @ params["W1"] + da2 @ params["W2"] + dy @ params["W4"],
    }


def numerical_grad(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Central-difference gradient of the scalar function f at x; x is left unchanged."""
    # Perturb x itself (restoring each entry exactly) so that an f that reads x through a
    # closure sees the perturbation too; a non-float or read-only x gets a float64 copy.
    inplace = isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.writeable
    xw = x if inplace else np.array(x, dtype=np.float64)
    grad = np.zeros(xw.shape, dtype=np.float64)
    for idx in np.ndindex(xw.shape):
        old = xw[idx]
        try:
            xw[idx] = old + eps
            f_plus = float(f(xw))
            xw[idx] = old - eps
            f_minus = float(f(xw))
        finally:
            xw[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
    return grad

# %%
# gradient check of my backward pass on a small random problem
rng = np.random.default_rng(0)
K, D, C, B = 5, 4, 3, 6
shapes = {"W1": (K, D), "b1": (K,), "W2": (K, D), "b2": (K,), "W3": (C, K), "W4": (C, D)}
params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
X = rng.normal(size=(B, D))
t = rng.integers(0, C, size=B)
loss, cache = gated_forward(params, X, t)
grads = gated_backward(params, cache)
for name in shapes:
    num = numerical_grad(lambda p: gated_forward({**params, name: p}, X, t)[0], params[name].copy())
    print(f"{name}: max abs error {np.max(np.abs(num - grads[name])):.2e}")
num_X = numerical_grad(lambda x: gated_forward(params, x, t)[0], X.copy())
print(f"X: max abs error {np.max(np.abs(num_X - grads['X'])):.2e}")

# %% [markdown]
# ## Part 3: Hessians and the cost of autodiff (1.3, 1.3.1)
#
# For `L(x) = 1/2 x^T v v^T x` with `v` of shape (n,):
# - `quadratic_hessian(v)`: the (n, n) Hessian of `L`.
# - `hvp_reverse(v, y)`: `H y` **without** forming `H` (O(n) memory; checked at large n).
# - `hvp_forward(v, y)`: `H y` by forming `H` first.
# - `mult_count(n, m, mode)` and `memory_count(n, m, mode)`, `mode` in `"reverse"`,
#   `"forward"`: the exact number of scalar multiplications and of stored entries for
#   `Z = H y1 y2^T` (`y1` of length n, `y2` of length m), accounted as in 1.3.1.

# %%
def quadratic_hessian(v: np.ndarray) -> np.ndarray:
    """Hessian (n, n) of L(x) = 1/2 x^T v v^T x."""
    v = np.asarray(v, dtype=np.float64)
    return np.outer(v, v)


def hvp_reverse(v: np.ndarray, y: np.ndarray) -> np.ndarray:
    """H y = v (v^T y) without forming H."""
    v = np.asarray(v, dtype=np.float64)
    return v * float(v @ np.asarray(y, dtype=np.float64))


def hvp_forward(v: np.ndarray, y: np.ndarray) -> np.ndarray:
    """H y by forming H = v v^T first."""
    return quadratic_hessian(v) @ np.asarray(y, dtype=np.float64)


def mult_count(n: int, m: int, mode: str) -> int:
    """Exact number of scalar multiplications to compute Z = H y1 y2^T in the given mode."""
    if mode == "reverse":
        return 3 * m * n  # Y = y1 y2^T, then v^T Y, then v (v^T Y): mn each
    if mode == "forward":
        return 2 * n * n + m * n  # H = v v^T, H y1: n^2 each; (H y1) y2^T: mn
    raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")


def memory_count(n: int, m: int, mode: str) -> int:
    """Exact number of stored entries to compute Z = H y1 y2^T in the given mode."""
    if mode == "reverse":
        return 2 * m * n + m  # Y (n, m), v^T Y (1, m), Z (n, m)
    if mode == "forward":
        return n * n + n + m * n  # H (n, n), H y1 (n,), Z (n, m)
    raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")

# %%
v = np.array([4.0, 2.0, 5.0])
print(quadratic_hessian(v))
print(hvp_reverse(v, np.array([1.0, 1.0, 1.0])), hvp_forward(v, np.array([1.0, 1.0, 1.0])))
print([mult_count(3, 2, mode) for mode in ("reverse", "forward")])

# %% [markdown]
# ## Part 4: a ReLU MLP by hand
#
# Parameters: `W1` (D, H), `b1` (H,), `W2` (H, C), `b2` (C,). Note the layout: here a layer
# is `X W + b` (no transpose), unlike Part 2.
# - `mlp_forward(params, X)`: logits (N, C) of `relu(X W1 + b1) W2 + b2`.
# - `mlp_loss_and_grads(params, X, y)`: `(loss, grads)` with the mean softmax cross-entropy
#   over the batch (integer labels `y`) and a dict of its gradients with keys `W1 b1 W2 b2`.
# - `sgd_step(params, grads, lr)`: a **new** params dict `p - lr * grad`; do not modify the
#   arrays you are given.

# %%
def mlp_forward(params: Params, X: np.ndarray) -> np.ndarray:
    """Logits (N, C) of relu(X W1 + b1) W2 + b2."""
    X = np.asarray(X, dtype=np.float64)
    hidden = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    return hidden @ params["W2"] + params["b2"]


def mlp_loss_and_grads(params: Params, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    """Mean softmax cross-entropy of the MLP on (X, y) and its gradients."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    N = X.shape[0]
    a = X @ params["W1"] + params["b1"]
    hidden = np.maximum(a, 0.0)
    logp = log_softmax(hidden @ params["W2"] + params["b2"])
    loss = float(-np.mean(logp[np.arange(N), y]))
    dz = np.exp(logp)
    dz[np.arange(N), y] -= 1.0
    dz /= N
    da = (dz @ params["W2"].T) * (a > 0)
    grads = {"W1": X.T @ da, "b1": da.sum(axis=0), "W2": hidden.T @ dz, "b2": dz.sum(axis=0)}
    return loss, grads


def sgd_step(params: Params, grads: Params, lr: float) -> Params:
    """New params dict p - lr * grad; the input dicts and arrays are left unchanged."""
    return {k: (p - lr * grads[k]) if k in grads else p.copy() for k, p in params.items()}

# %% [markdown]
# ## Part 5: train the MLP
#
# Task: `x` uniform in `[-1, 1]^4`; the label is the index (0..3) of the **2nd-largest** entry
# of `x`. `make_data(n, seed)` draws such a data set. Train the Part 4 MLP (`D = 4`, `C = 4`,
# at most 256 hidden units) with your own functions and save the weights: the last cell writes
# `hw1_weights.npz` with keys `W1` (4, H), `b1` (H,), `W2` (H, 4), `b2` (4,). Submit that file.
# The autograder evaluates it on a hidden test set: full marks at 92 % accuracy.
#
# Implement `adam_step` (Adam, or plain momentum if you prefer) and `train_mlp`: minibatches,
# a fixed seed, and a budget of about a minute on a laptop are plenty.

# %%
def second_largest_index(X: np.ndarray) -> np.ndarray:
    """Label of each row of X: the index of its 2nd-largest entry."""
    return np.argsort(X, axis=1)[:, -2]


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points x uniform in [-1, 1]^4 and their labels (index of the 2nd-largest entry)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 4))
    return X, second_largest_index(X)


def accuracy(params: Params, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of X whose argmax logit equals the label."""
    return float(np.mean(np.argmax(mlp_forward(params, X), axis=1) == y))


def adam_step(
    params: Params,
    grads: Params,
    state: dict[str, Params],
    step_number: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[Params, dict[str, Params]]:
    """One Adam update (step_number counts from 1); returns new params and new state."""
    m_prev = state.get("m", {})
    v_prev = state.get("v", {})
    m: Params = {}
    v: Params = {}
    new_params: Params = {}
    for key, p in params.items():
        g = grads[key]
        m[key] = beta1 * m_prev.get(key, np.zeros_like(p)) + (1.0 - beta1) * g
        v[key] = beta2 * v_prev.get(key, np.zeros_like(p)) + (1.0 - beta2) * g * g
        # Bias correction: m and v start at zero, so early averages are too small.
        m_hat = m[key] / (1.0 - beta1**step_number)
        v_hat = v[key] / (1.0 - beta2**step_number)
        new_params[key] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return new_params, {"m": m, "v": v}


def train_mlp(
    hidden: int = 128,
    steps: int = 8000,
    batch_size: int = 256,
    lr: float = 3e-3,
    seed: int = 0,
) -> Params:
    """Train the Part 4 MLP on the Part 5 task and return its parameters."""
    rng = np.random.default_rng(seed)
    # He initialisation keeps the ReLU layer's activations at a sensible scale.
    params: Params = {
        "W1": rng.normal(0.0, np.sqrt(2.0 / 4), size=(4, hidden)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(0.0, np.sqrt(1.0 / hidden), size=(hidden, 4)),
        "b2": np.zeros(4),
    }
    state: dict[str, Params] = {}
    for i in range(1, steps + 1):
        # Data is free: a fresh minibatch every step means no overfitting and no epochs.
        X = rng.uniform(-1.0, 1.0, size=(batch_size, 4))
        _, grads = mlp_loss_and_grads(params, X, second_largest_index(X))
        # Cosine decay to zero: large steps early, fine-tuning of the boundaries at the end.
        step_lr = lr * 0.5 * (1.0 + np.cos(np.pi * i / steps))
        params, state = adam_step(params, grads, state, i, step_lr)
    return params

# %% [markdown]
# Run the next cell to train and save `hw1_weights.npz` (the autograder never runs it).

# %%
# The guard keeps training out of imports (there __name__ is the module name) and out of the
# autograder, which runs notebooks with AUTOGRADER=1.
if __name__ == "__main__" and os.environ.get("AUTOGRADER") != "1":
    trained = train_mlp()
    X_test, y_test = make_data(20_000, seed=2025)
    print(f"test accuracy: {accuracy(trained, X_test, y_test):.4f}")
    np.savez(
        "hw1_weights.npz", W1=trained["W1"], b1=trained["b1"], W2=trained["W2"], b2=trained["b2"]
    )
