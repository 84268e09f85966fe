"""``optikern demo``: a NumPy multilayer perceptron trained on scikit-learn's digits with each
optimizer, reporting final loss, test accuracy and the time spent in optimizer steps.

The network is 64 -> 64 (tanh) -> 10 (softmax), cross-entropy loss, written in NumPy with a
hand-written backward pass that writes its gradients into preallocated arrays; the params are
updated in place by ``opt.step(grads)`` and never rebound. The data set ships with scikit-learn
(no download); it is standardised and split 80/20 by a seeded permutation.

============== ========================================== ======
label          optimizer                                  lr
============== ========================================== ======
SGD            ``SGD(params, lr)``                        0.1
SGD+momentum   ``SGD(params, lr, momentum=0.9)``          0.02
SGD+Nesterov   ``SGD(..., momentum=0.9, nesterov=True)``  0.02
Adagrad        ``Adagrad(params, lr)``                    0.05
RMSprop        ``RMSprop(params, lr)``                    0.002
Adam           ``Adam(params, lr)``                       0.003
AdamW          ``AdamW(params, lr, weight_decay=1e-2)``   0.003
============== ========================================== ======

``precision="bfloat16"`` (or ``"float16"``) keeps the params in 16 bits with float32 master
weights in the optimizer (or none, ``master_weights=False``), rounded to nearest or
stochastically (``rounding``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Callable, Optional

import numpy as np

import optikern

from . import _console

#: label -> (optikern class name, options): the demo's optimizers and learning rates.
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "SGD": ("SGD", {"lr": 0.1}),
    "SGD+momentum": ("SGD", {"lr": 0.02, "momentum": 0.9}),
    "SGD+Nesterov": ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    "Adagrad": ("Adagrad", {"lr": 0.05}),
    "RMSprop": ("RMSprop", {"lr": 0.002}),
    "Adam": ("Adam", {"lr": 0.003}),
    "AdamW": ("AdamW", {"lr": 0.003, "weight_decay": 1e-2}),
}
_MakeOptimizer = Callable[[list[np.ndarray], dict[str, Any]], optikern.Optimizer]


def _maker(name: str, options: dict[str, Any]) -> _MakeOptimizer:
    """``make(params, kw)``: the optikern class ``name`` over params, with options and kw."""

    def make(params: list[np.ndarray], kw: dict[str, Any]) -> optikern.Optimizer:
        cls: type[optikern.Optimizer] = getattr(optikern, name)
        return cls(params, **options, **kw)

    return make


#: label -> make(params, extra options): a demo optimizer over params.
OPTIMIZERS: dict[str, _MakeOptimizer] = {
    label: _maker(name, options) for label, (name, options) in SETTINGS.items()
}

#: ``progress(done, total, row)``: called as each optimizer finishes training, with its row.
Progress = Optional[Callable[[int, int, dict[str, Any]], None]]


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised digits (float64) split 80/20 by a seeded permutation."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "optikern demo needs scikit-learn: pip install 'optikern[demo]'"
        ) from None
    digits = load_digits()
    x = digits.data.astype(np.float64)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    mean, std = x[:cut].mean(axis=0), x[:cut].std(axis=0) + 1e-8
    x = (x - mean) / std
    return x[:cut], y[:cut], x[cut:], y[cut:]


class MLP:
    """64 -> hidden (tanh) -> 10 softmax classifier with preallocated gradients."""

    def __init__(self, hidden: int, dtype: np.dtype, seed: int) -> None:
        rng = np.random.default_rng(seed)

        # Glorot-uniform weights, zero biases, created in float32 then cast (the same start for
        # every precision).
        def glorot(fan_in: int, fan_out: int) -> np.ndarray:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)

        self.params = [
            glorot(64, hidden).astype(dtype),
            np.zeros(hidden, dtype=dtype),
            glorot(hidden, 10).astype(dtype),
            np.zeros(10, dtype=dtype),
        ]
        self.compute = np.float64 if dtype == np.float64 else np.float32
        self.grads = [np.zeros(p.shape, dtype=self.compute) for p in self.params]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w1, b1, w2, b2 = (p.astype(self.compute, copy=False) for p in self.params)
        hidden = np.tanh(x @ w1 + b1)
        logits = hidden @ w2 + b2
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return hidden, probs

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        _, probs = self.forward(x)
        return float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))

    def backward(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy of the batch; fills self.grads with its gradient."""
        hidden, probs = self.forward(x)
        n = len(y)
        loss = float(-np.mean(np.log(probs[np.arange(n), y] + 1e-12)))
        d_logits = probs
        d_logits[np.arange(n), y] -= 1.0
        d_logits /= n
        w2 = self.params[2].astype(self.compute, copy=False)
        gw1, gb1, gw2, gb2 = self.grads
        np.matmul(hidden.T, d_logits, out=gw2)
        np.sum(d_logits, axis=0, out=gb2)
        d_hidden = (d_logits @ w2.T) * (1.0 - hidden * hidden)
        np.matmul(x.T, d_hidden, out=gw1)
        np.sum(d_hidden, axis=0, out=gb1)
        return loss

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.forward(x)[1].argmax(axis=1) == y))


def train(
    label: str,
    make_optimizer: Callable[[list[np.ndarray]], Any],
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    epochs: int,
    batch_size: int,
    dtype: np.dtype,
    seed: int,
    hidden: int = 64,
) -> dict[str, Any]:
    """Train one model with ``make_optimizer(params)``; returns its row of the demo table."""
    _check_positive(epochs=epochs, batch_size=batch_size)
    started = time.perf_counter()
    x_train, y_train, x_test, y_test = data
    model = MLP(hidden, dtype, seed)
    x_train = x_train.astype(model.compute)
    x_test = x_test.astype(model.compute)
    params_before = [id(p) for p in model.params]
    opt = make_optimizer(model.params)
    rng = np.random.default_rng(seed + 1)
    step_time = 0.0
    steps = 0
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            model.backward(x_train[batch], y_train[batch])
            begin = time.perf_counter()
            opt.step(model.grads)
            step_time += time.perf_counter() - begin
            steps += 1
        losses.append(model.loss(x_train, y_train))
    assert [id(p) for p in model.params] == params_before  # trained in place, never rebound
    return {
        "optimizer": label,
        "loss": losses[-1],
        "losses": losses,
        "accuracy": model.accuracy(x_test, y_test),
        "step_time": step_time,
        "steps": steps,
        "params": [p.astype(np.float64) for p in model.params],
        "wall_time": time.perf_counter() - started,
    }


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")


def run_demo(
    epochs: int = 30,
    batch_size: int = 64,
    dtype: str = "float32",
    optimizers: Sequence[str] | None = None,
    seed: int = 0,
    precision: str | None = None,
    rounding: str = "nearest",
    master_weights: bool = True,
    progress: Progress = None,
) -> list[dict[str, Any]]:
    """Train the MLP with each optimizer; returns one row per optimizer.

    ``precision`` "bfloat16"/"float16" stores the params in 16 bits (float32 masters in the
    optimizer unless ``master_weights=False``, ``rounding`` "nearest" or "stochastic");
    otherwise ``dtype`` is used. ``progress(done, total, row)`` is called as each optimizer
    finishes.
    """
    _check_positive(epochs=epochs, batch_size=batch_size)
    names = list(optimizers) if optimizers else list(OPTIMIZERS)
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"optimizers: unknown {unknown}; choose from {list(OPTIMIZERS)}")
    options: dict[str, Any] = {}
    if precision in (None, "float32", "float64"):
        param_dtype = np.dtype(precision or dtype)
    else:
        param_dtype = _lowp_dtype(precision)
        options = {"rounding": rounding, "seed": seed, "master_weights": master_weights}
    data = load_digits_split(seed)

    def maker(name: str) -> Callable[[list[np.ndarray]], optikern.Optimizer]:
        return lambda params: OPTIMIZERS[name](params, options)

    rows = []
    for name in names:
        rows.append(train(name, maker(name), data, epochs, batch_size, param_dtype, seed))
        if progress is not None:
            progress(len(rows), len(names), rows[-1])
    return rows


def numpy_comparison(
    epochs: int = 5,
    batch_size: int = 64,
    seed: int = 0,
    optimizers: Sequence[str] | None = None,
    progress: Progress = None,
) -> list[dict[str, Any]]:
    """Each optimizer trained twice from the same start on the same batches: with optikern and
    with a careful NumPy implementation of the same update (in place, ``out=``). Rows give the
    largest parameter difference at the end and the optimizer-step time ratio. Nesterov is
    left out (the NumPy baseline has no Nesterov variant)."""
    from ._bench import numpy_careful

    _check_positive(epochs=epochs, batch_size=batch_size)
    chosen = list(optimizers) if optimizers else list(SETTINGS)
    unknown = [label for label in chosen if label not in SETTINGS]
    if unknown:
        raise ValueError(f"optimizers: unknown {unknown}; choose from {list(SETTINGS)}")
    labels = [label for label in chosen if not SETTINGS[label][1].get("nesterov")]
    data = load_digits_split(seed)
    rows = []
    for label in labels:
        name, options = SETTINGS[label]
        started = time.perf_counter()
        runs = {}
        for impl in ("optikern", "numpy"):
            if impl == "optikern":
                make = lambda p, name=name, options=options: getattr(optikern, name)(p, **options)
            else:
                make = lambda p, name=name, options=options: _StepOnly(
                    numpy_careful.make(name, options, p)
                )
            runs[impl] = train(label, make, data, epochs, batch_size, np.dtype(np.float32), seed)
        difference = max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(runs["optikern"]["params"], runs["numpy"]["params"])
        )
        rows.append(
            {
                "optimizer": label,
                "max_param_difference": difference,
                "accuracy": runs["optikern"]["accuracy"],
                "numpy_accuracy": runs["numpy"]["accuracy"],
                "speedup": runs["numpy"]["step_time"] / runs["optikern"]["step_time"],
                "wall_time": time.perf_counter() - started,
            }
        )
        if progress is not None:
            progress(len(rows), len(labels), rows[-1])
    return rows


class _StepOnly:
    """Wraps a step function as an object with ``step(grads)``."""

    def __init__(self, step: Callable[[list[np.ndarray]], None]) -> None:
        self.step = step


def plot_losses(rows: Sequence[dict[str, Any]], path: str) -> bool:
    """Training-loss curves of every optimizer as a PNG (False without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in rows:
        ax.plot(range(1, len(r["losses"]) + 1), r["losses"], label=r["optimizer"])
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def rounding_study(
    epochs: int = 20,
    seed: int = 0,
    lr: float = 3e-4,
    batch_size: int = 64,
    progress: Progress = None,
) -> list[dict[str, Any]]:
    """Adam at a small learning rate with bfloat16 params and no float32 master weights:
    round-to-nearest loses every update smaller than half the bfloat16 spacing, stochastic
    rounding keeps them on average. Rows: float32, bfloat16 nearest, bfloat16 stochastic."""
    _check_positive(epochs=epochs, batch_size=batch_size)
    data = load_digits_split(seed)
    bf16 = _lowp_dtype("bfloat16")
    runs = {
        "float32": (np.dtype(np.float32), {}),
        "bfloat16 nearest": (bf16, {"rounding": "nearest", "master_weights": False}),
        "bfloat16 stochastic": (bf16, {"rounding": "stochastic", "master_weights": False}),
    }
    rows = []
    for label, (dtype, options) in runs.items():

        def make(params: list[np.ndarray], options: dict[str, Any] = options) -> optikern.Adam:
            return optikern.Adam(params, lr=lr, seed=seed, **options)

        rows.append(train(f"Adam {label}", make, data, epochs, batch_size, dtype, seed))
        if progress is not None:
            progress(len(rows), len(runs), rows[-1])
    return rows


def _lowp_dtype(precision: str) -> np.dtype:
    if precision == "float16":
        return np.dtype(np.float16)
    if precision == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise ImportError(
                "bfloat16 needs ml_dtypes: pip install 'optikern[bfloat16]'"
            ) from None
        bfloat16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)
        return bfloat16
    raise ValueError(
        f"precision: expected float32, float64, float16 or bfloat16, got {precision!r}"
    )


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The demo table: final train loss, test accuracy, optimizer-step time."""
    header = ["optimizer", "final loss", "test acc", "steps", "step time", "per step"]
    cells = [
        [
            r["optimizer"],
            f"{r['loss']:.4f}",
            f"{r['accuracy']:.3f}",
            str(r["steps"]),
            f"{r['step_time'] * 1e3:.1f} ms",
            f"{r['step_time'] / max(r['steps'], 1) * 1e6:.1f} us",
        ]
        for r in rows
    ]
    return _console.format_table(header, cells)


def format_comparison(rows: Sequence[dict[str, Any]]) -> str:
    """The table of :func:`numpy_comparison`."""
    header = ["optimizer", "max |param diff|", "acc", "NumPy acc", "speedup"]
    cells = [
        [
            r["optimizer"],
            f"{r['max_param_difference']:.2e}",
            f"{r['accuracy']:.3f}",
            f"{r['numpy_accuracy']:.3f}",
            f"{r['speedup']:.1f}x",
        ]
        for r in rows
    ]
    return _console.format_table(header, cells)
