"""Linear softmax heads over sentence embeddings: numpy at prediction time, torch L-BFGS for training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinearHead:
    """A multinomial logistic regression: ``softmax(x @ W + b)`` over ``classes``."""

    classes: tuple[str, ...]
    W: np.ndarray
    b: np.ndarray

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes))."""
        z = X.astype(np.float32) @ self.W + self.b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_arrays(self, name: str) -> dict[str, np.ndarray]:
        """Arrays to store in an .npz file under ``name``."""
        return {f"{name}.W": self.W.astype(np.float32), f"{name}.b": self.b.astype(np.float32),
                f"{name}.classes": np.asarray(self.classes)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray] | np.lib.npyio.NpzFile, name: str) -> LinearHead:
        """Read a head stored by ``to_arrays``."""
        return cls(tuple(str(c) for c in arrays[f"{name}.classes"]),
                   np.asarray(arrays[f"{name}.W"], dtype=np.float32), np.asarray(arrays[f"{name}.b"], dtype=np.float32))


def fit_linear_head(X: np.ndarray, labels: Sequence[str], classes: Sequence[str], *, l2: float = 1e-3,
                    sample_weight: np.ndarray | None = None, balanced: bool = True, seed: int = 13,
                    max_iter: int = 300) -> LinearHead:
    """Fit a softmax regression with L2 penalty by full-batch L-BFGS (deterministic given the seed).

    Args:
        X: (n, d) features.
        labels: n labels, each in ``classes``.
        classes: the class order of the head.
        l2: weight of the L2 penalty on W (mean loss + l2 * ||W||^2).
        sample_weight: optional per-row weights (e.g. to balance sources).
        balanced: reweight classes to equal total weight.
    """
    import torch

    torch.manual_seed(seed)
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[lab] for lab in labels], dtype=torch.long)
    x = torch.tensor(np.asarray(X, dtype=np.float32))
    w = torch.ones(len(y)) if sample_weight is None else torch.tensor(np.asarray(sample_weight, dtype=np.float32))
    if balanced:
        counts = torch.zeros(len(classes)).index_add_(0, y, w)
        w = w * (counts.sum() / (len(classes) * counts.clamp(min=1e-6)))[y]
    w = w / w.sum()
    W = torch.zeros(x.shape[1], len(classes), requires_grad=True)
    b = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (torch.nn.functional.cross_entropy(x @ W + b, y, reduction="none") * w).sum() + l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return LinearHead(tuple(classes), W.detach().numpy().copy(), b.detach().numpy().copy())


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


@dataclass(frozen=True)
class MLPHead:
    """One hidden layer (tanh-GELU) then softmax over ``classes``."""

    classes: tuple[str, ...]
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes))."""
        z = _gelu(X.astype(np.float32) @ self.W1 + self.b1) @ self.W2 + self.b2
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_arrays(self, name: str) -> dict[str, np.ndarray]:
        """Arrays to store in an .npz file under ``name``."""
        return {f"{name}.W1": self.W1, f"{name}.b1": self.b1, f"{name}.W2": self.W2, f"{name}.b2": self.b2,
                f"{name}.classes": np.asarray(self.classes)}


Head = LinearHead | MLPHead


def load_head(arrays: dict[str, np.ndarray] | np.lib.npyio.NpzFile, name: str) -> Head:
    """Read a linear or MLP head stored under ``name``."""
    if f"{name}.W1" in arrays:
        return MLPHead(tuple(str(c) for c in arrays[f"{name}.classes"]),
                       *(np.asarray(arrays[f"{name}.{k}"], dtype=np.float32) for k in ("W1", "b1", "W2", "b2")))
    return LinearHead.from_arrays(arrays, name)


def fit_mlp_head(X: np.ndarray, labels: Sequence[str], classes: Sequence[str], *, hidden: int = 256,
                 sample_weight: np.ndarray | None = None, epochs: int = 30, batch_size: int = 128,
                 lr: float = 2e-3, weight_decay: float = 1e-3, dropout: float = 0.2, seed: int = 13) -> MLPHead:
    """Fit a one-hidden-layer head with AdamW, class-balanced weights and dropout (seeded)."""
    import torch

    torch.manual_seed(seed)
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[lab] for lab in labels], dtype=torch.long)
    x = torch.tensor(np.asarray(X, dtype=np.float32))
    w = torch.ones(len(y)) if sample_weight is None else torch.tensor(np.asarray(sample_weight, dtype=np.float32))
    counts = torch.zeros(len(classes)).index_add_(0, y, w)
    w = w * (counts.sum() / (len(classes) * counts.clamp(min=1e-6)))[y]
    w = w / w.mean()
    lin1, lin2 = torch.nn.Linear(x.shape[1], hidden), torch.nn.Linear(hidden, len(classes))
    model = torch.nn.Sequential(torch.nn.Dropout(dropout), lin1, torch.nn.GELU(approximate="tanh"),
                                torch.nn.Dropout(dropout), lin2)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=gen).split(batch_size):
            opt.zero_grad()
            loss = (torch.nn.functional.cross_entropy(model(x[batch]), y[batch], reduction="none") * w[batch]).mean()
            loss.backward()
            opt.step()
    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().numpy().astype(np.float32).copy()
    return MLPHead(tuple(classes), arr(lin1.weight.T), arr(lin1.bias), arr(lin2.weight.T), arr(lin2.bias))
