"""Python threads: independent optimizers stepping concurrently (the kernels release the GIL)
give exactly the single-threaded results; one optimizer stepped from several threads is
serialised, never interleaved."""

from __future__ import annotations

import threading

import numpy as np

import optikern

SIZE = 300_000  # large enough for the kernels to run with the GIL released (and OpenMP on)


def train(seed: int, steps: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(SIZE).astype(np.float32), rng.standard_normal(999)]
    opt = optikern.Adam(params, lr=0.01, amsgrad=True)
    for _ in range(steps):
        opt.step([rng.standard_normal(p.shape).astype(p.dtype) for p in params])
    return params


def test_concurrent_optimizers_match_sequential() -> None:
    expected = [train(seed) for seed in range(4)]
    for repeat in range(3):
        results: dict[int, list[np.ndarray]] = {}
        threads = [
            threading.Thread(target=lambda s=s, out=results: out.__setitem__(s, train(s)))
            for s in range(4)
        ]
        optikern.set_num_threads(1 + repeat % 2)
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            optikern.set_num_threads(0)
        for seed, params in enumerate(expected):
            for a, b in zip(params, results[seed]):
                assert a.tobytes() == b.tobytes()


def test_one_optimizer_from_many_threads_is_serialised() -> None:
    # Plain SGD with one constant gradient commutes, so any order of the 4 x 25 steps gives
    # p0 - 100 * lr * g exactly when (and only when) no two steps interleave.
    p = np.zeros(SIZE, dtype=np.float64)
    g = np.full(SIZE, 0.5)
    opt = optikern.SGD([p], lr=0.25)
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for _ in range(25):
            opt.step([g])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.all(p == -100 * 0.25 * 0.5)


def test_stateful_optimizer_from_many_threads_counts_every_step() -> None:
    p = np.zeros(SIZE)
    opt = optikern.Adam([p], lr=0.001)
    threads = [
        threading.Thread(target=lambda: [opt.step([np.ones(SIZE)]) for _ in range(10)])
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert opt.state[p]["step"] == 30
