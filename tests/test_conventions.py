"""Other frameworks' conventions, reached by options, against the formulas in their docs.

Each function below is written from the framework's documentation / source (Keras 3
``keras.optimizers``, optax ``optax.{sgd,adagrad,rmsprop,adam,adamw}``) in float64 NumPy, and
the matching optikern configuration (the porting table of the README) must follow it.
"""

from __future__ import annotations

import numpy as np
import pytest

import optikern

STEPS = 25


def keras_weight_decay(w, lr, wd):
    # keras.optimizers.Optimizer._apply_weight_decay: variable -= variable * wd * lr
    return w - w * wd * lr


def keras_sgd(w, grads, lr, momentum, nesterov, wd):
    v = np.zeros_like(w)
    for g in grads:
        w = keras_weight_decay(w, lr, wd)
        v = momentum * v - lr * g
        w = w + (momentum * v - lr * g if nesterov else v)
    return w


def keras_adagrad(w, grads, lr, initial, eps, wd):
    acc = np.full_like(w, initial)
    for g in grads:
        w = keras_weight_decay(w, lr, wd)
        acc = acc + g * g
        w = w - lr * g / np.sqrt(acc + eps)
    return w


def keras_rmsprop(w, grads, lr, rho, momentum, eps, centered, wd):
    vel, avg, mom = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        w = keras_weight_decay(w, lr, wd)
        vel = rho * vel + (1 - rho) * g * g
        if centered:
            avg = rho * avg + (1 - rho) * g
            denominator = vel - avg * avg + eps
        else:
            denominator = vel + eps
        increment = lr * g / np.sqrt(denominator)
        if momentum > 0:
            mom = momentum * mom + increment
            w = w - mom
        else:
            w = w - increment
    return w


def optax_adagrad(w, grads, lr, initial, eps):
    # scale_by_rss: where(nu > 0, rsqrt(nu + eps), 0) * g, then scale(-lr)
    nu = np.full_like(w, initial)
    for g in grads:
        nu = nu + g * g
        w = w - lr * np.where(nu > 0, g / np.sqrt(nu + eps), 0.0)
    return w


def optax_rmsprop(w, grads, lr, decay, eps, centered, momentum):
    # scale_by_rms / scale_by_stddev (eps inside the root), trace(momentum), scale(-lr)
    nu, mu, trace = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        nu = decay * nu + (1 - decay) * g * g
        if centered:
            mu = decay * mu + (1 - decay) * g
            u = g / np.sqrt(nu - mu * mu + eps)
        else:
            u = g / np.sqrt(nu + eps)
        if momentum:
            trace = u + momentum * trace
            u = trace
        w = w - lr * u
    return w


def optax_adamw(w, grads, lr, b1, b2, eps, wd):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        update = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps) + wd * w
        w = w - lr * update
    return w


def keras_nadam(w, grads, lr, b1, b2, eps):
    # keras.optimizers.Nadam.update_step, its u_product a float variable
    m, v, u_product = np.zeros_like(w), np.zeros_like(w), 1.0
    for t, g in enumerate(grads, start=1):
        u_t = b1 * (1.0 - 0.5 * 0.96 ** (t * 0.004))
        u_t_1 = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * 0.004))
        u_product = u_product * u_t
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        m_hat = u_t_1 * m / (1 - u_product * u_t_1) + (1 - u_t) * g / (1 - u_product)
        w = w - lr * m_hat / (np.sqrt(v / (1 - b2**t)) + eps)
    return w


def optax_nadam(w, grads, lr, b1, b2, eps):
    # optax.scale_by_adam(nesterov=True): b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        w = w - lr * m_hat / (np.sqrt(v / (1 - b2**t)) + eps)
    return w


def run(
    cls: type[optikern.Optimizer], kwargs: dict, w0: np.ndarray, grads: list[np.ndarray]
) -> np.ndarray:
    w = w0.copy()
    opt = cls([w], **kwargs)
    for g in grads:
        opt.step([g])
    return w


@pytest.fixture
def problem() -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(3)
    return rng.standard_normal(333), [rng.standard_normal(333) for _ in range(STEPS)]


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_keras_sgd(problem, nesterov: bool, wd: float) -> None:
    w0, grads = problem
    got = run(
        optikern.SGD,
        dict(
            lr=0.05,
            momentum=0.9,
            nesterov=nesterov,
            weight_decay=wd,
            lr_in_momentum=True,
            decoupled_weight_decay=True,
        ),
        w0,
        grads,
    )
    np.testing.assert_allclose(got, keras_sgd(w0, grads, 0.05, 0.9, nesterov, wd), rtol=1e-12)


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_keras_adagrad(problem, wd: float) -> None:
    w0, grads = problem
    got = run(
        optikern.Adagrad,
        dict(
            lr=0.1,
            initial_accumulator_value=0.1,
            eps=1e-7,
            eps_inside_sqrt=True,
            weight_decay=wd,
            decoupled_weight_decay=True,
        ),
        w0,
        grads,
    )
    np.testing.assert_allclose(got, keras_adagrad(w0, grads, 0.1, 0.1, 1e-7, wd), rtol=1e-12)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_keras_rmsprop(problem, centered: bool, momentum: float, wd: float) -> None:
    w0, grads = problem
    got = run(
        optikern.RMSprop,
        dict(
            lr=0.01,
            alpha=0.9,
            eps=1e-7,
            momentum=momentum,
            centered=centered,
            eps_inside_sqrt=True,
            lr_in_momentum=True,
            weight_decay=wd,
            decoupled_weight_decay=True,
        ),
        w0,
        grads,
    )
    expected = keras_rmsprop(w0, grads, 0.01, 0.9, momentum, 1e-7, centered, wd)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_optax_adagrad(problem) -> None:
    w0, grads = problem
    got = run(
        optikern.Adagrad,
        dict(lr=0.1, initial_accumulator_value=0.1, eps=1e-7, eps_inside_sqrt=True),
        w0,
        grads,
    )
    np.testing.assert_allclose(got, optax_adagrad(w0, grads, 0.1, 0.1, 1e-7), rtol=1e-12)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_optax_rmsprop(problem, centered: bool, momentum: float) -> None:
    w0, grads = problem
    got = run(
        optikern.RMSprop,
        dict(
            lr=0.01, alpha=0.9, eps=1e-8, centered=centered, momentum=momentum, eps_inside_sqrt=True
        ),
        w0,
        grads,
    )
    expected = optax_rmsprop(w0, grads, 0.01, 0.9, 1e-8, centered, momentum)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_optax_adamw(problem) -> None:
    w0, grads = problem
    got = run(
        optikern.AdamW, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4), w0, grads
    )
    np.testing.assert_allclose(
        got, optax_adamw(w0, grads, 0.01, 0.9, 0.999, 1e-8, 1e-4), rtol=1e-12
    )


# NAdam keeps its mu_product in float32, as torch does: the coefficients differ by up to ~1e-7
# relative from float64 products, the params by ~2e-8 after 25 steps (a wrong term: ~1e-3).
def test_keras_nadam(problem) -> None:
    w0, grads = problem
    got = run(optikern.NAdam, dict(lr=0.001, eps=1e-7), w0, grads)
    expected = keras_nadam(w0, grads, 0.001, 0.9, 0.999, 1e-7)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_optax_nadam(problem) -> None:
    """optax's constant momentum is torch's schedule with a momentum_decay so large that
    0.96^(t psi) underflows to nothing next to 1."""
    w0, grads = problem
    got = run(optikern.NAdam, dict(lr=0.01, betas=(0.9, 0.99), momentum_decay=1e3), w0, grads)
    expected = optax_nadam(w0, grads, 0.01, 0.9, 0.99, 1e-8)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_lr_in_momentum_differs_from_torch_only_when_lr_changes(problem) -> None:
    w0, grads = problem
    torch_form, keras_form = w0.copy(), w0.copy()
    a = optikern.SGD([torch_form], lr=0.1, momentum=0.9)
    b = optikern.SGD([keras_form], lr=0.1, momentum=0.9, lr_in_momentum=True)
    for g in grads[:5]:
        a.step([g])
        b.step([g])
    np.testing.assert_allclose(torch_form, keras_form, rtol=1e-13)
    for opt in (a, b):
        opt.param_groups[0]["lr"] = 0.01
    a.step([grads[5]])
    b.step([grads[5]])
    assert not np.allclose(torch_form, keras_form, rtol=1e-6)
