"""Does 8-bit optimizer state train as well as float32 state? AdamW with ``state_bits=32`` and
``state_bits=8`` (every tensor in 8 bits: ``min_8bit_size=0``), same seeds, data and schedule,
on two tasks and several seeds; prints the final training and held-out losses (means over the
seeds), their relative difference, and float32's own spread over seeds, and plots the curves.

    python benchmarks/convergence_8bit.py            # ~10 min; writes convergence_8bit.png

1. the demo: ``optikern demo``'s MLP (64 -> 64 tanh -> 10) on scikit-learn's digits, 30 epochs;
2. a larger one: a 256 -> 512 -> 512 -> 10 ReLU MLP (400K params) on a 10-class synthetic
   problem (``sklearn.datasets.make_classification``, 20000 samples, 5% of the labels
   flipped so that the loss has a floor above 0, 16000 to train), 15 epochs, cosine
   learning-rate schedule.

Training losses near 0 (the digits MLP memorises its 1437 images) make relative differences
large for tiny absolute ones; the held-out loss is the comparison that carries meaning there.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import optikern
from optikern import demo

Curves = tuple[list[float], float]  # training loss per epoch, final held-out loss


def demo_task(state_bits: int, epochs: int, seed: int) -> Curves:
    data = demo.load_digits_split(seed)
    row = demo.train(
        f"AdamW {state_bits}-bit",
        lambda params: optikern.AdamW(
            params, lr=0.003, weight_decay=1e-2, state_bits=state_bits, min_8bit_size=0
        ),
        data,
        epochs=epochs,
        batch_size=32,
        dtype=np.dtype(np.float32),
        seed=seed,
    )
    model = demo.MLP(64, np.dtype(np.float64), seed)
    for mine, trained in zip(model.params, row["params"]):
        mine[...] = trained
    return [float(x) for x in row["losses"]], float(model.loss(data[2], data[3]))


class DeepMLP:
    """in -> 512 -> 512 -> classes, ReLU, softmax cross-entropy, float32, in-place grads."""

    def __init__(self, sizes: list[int], seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            self.params.append(
                (rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in)).astype(
                    np.float32
                )
            )
            self.params.append(np.zeros(fan_out, dtype=np.float32))
        self.grads = [np.zeros_like(p) for p in self.params]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, backward: bool = True) -> float:
        activations = [x]
        for i in range(0, len(self.params), 2):
            z = activations[-1] @ self.params[i] + self.params[i + 1]
            activations.append(np.maximum(z, 0.0) if i + 2 < len(self.params) else z)
        logits = activations[-1] - activations[-1].max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        n = len(y)
        loss = float(-np.mean(np.log(probs[np.arange(n), y] + 1e-12)))
        if not backward:
            return loss
        delta = probs
        delta[np.arange(n), y] -= 1.0
        delta /= n
        for i in range(len(self.params) - 2, -1, -2):
            np.matmul(activations[i // 2].T, delta, out=self.grads[i])
            np.sum(delta, axis=0, out=self.grads[i + 1])
            if i > 0:
                delta = (delta @ self.params[i].T) * (activations[i // 2] > 0)
        return loss


def larger_task(state_bits: int, epochs: int, seed: int) -> Curves:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=20000, n_features=256, n_informative=64, n_classes=10,
        n_clusters_per_class=2, class_sep=1.0, flip_y=0.05, random_state=seed,
    )  # fmt: skip
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    x, x_test, y, y_test = x[:16000], x[16000:], y[:16000], y[16000:]
    model = DeepMLP([256, 512, 512, 10], seed=seed)
    opt = optikern.AdamW(
        model.params, lr=1e-3, weight_decay=1e-2, state_bits=state_bits, min_8bit_size=0
    )
    batches_per_epoch = math.ceil(len(x) / 128)
    schedule = optikern.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * batches_per_epoch)
    rng = np.random.default_rng(seed + 1)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 128):
            batch = order[start : start + 128]
            model.loss_and_grads(x[batch], y[batch])
            opt.step(model.grads)
            schedule.step()
        losses.append(model.loss_and_grads(x, y, backward=False))
    return losses, model.loss_and_grads(x_test, y_test, backward=False)


def _relative(a: float, b: float) -> str:
    return f"{(b - a) / a:+.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="demo task epochs")
    parser.add_argument("--larger-epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3, help="runs per task and format")
    parser.add_argument("--plot", default="convergence_8bit.png")
    args = parser.parse_args()
    tasks = {
        "digits MLP": lambda bits, seed: demo_task(bits, args.epochs, seed),
        "400K-param MLP": lambda bits, seed: larger_task(bits, args.larger_epochs, seed),
    }
    curves: dict[str, dict[int, list[Curves]]] = {}
    for task, run in tasks.items():
        curves[task] = {bits: [run(bits, seed) for seed in range(args.seeds)] for bits in (32, 8)}
        by_bits = curves[task]
        for what, final in (("training", lambda c: c[0][-1]), ("held-out", lambda c: c[1])):
            f32 = [final(c) for c in by_bits[32]]
            q8 = [final(c) for c in by_bits[8]]
            print(
                f"{task:<15} final {what} loss over {args.seeds} seeds: float32 state "
                f"{np.mean(f32):.5f}, 8-bit state {np.mean(q8):.5f} "
                f"({_relative(float(np.mean(f32)), float(np.mean(q8)))}); float32's spread "
                f"over seeds {np.std(f32) / np.mean(f32):.1%}, per seed "
                + " ".join(_relative(a, b) for a, b in zip(f32, q8))
            )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(1, len(curves), figsize=(10, 4))
    for axis, (task, by_bits) in zip(axes, curves.items()):
        for bits, runs in by_bits.items():
            losses = runs[0][0]  # seed 0
            axis.plot(range(1, len(losses) + 1), losses, label=f"{bits}-bit state")
        axis.set(title=f"AdamW, {task} (seed 0)", xlabel="epoch", ylabel="training loss")
        axis.set(yscale="log")
        axis.legend()
    figure.tight_layout()
    figure.savefig(args.plot, dpi=110)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
