"""Careful NumPy: the same formulas as optikern, in place with ``out=`` and preallocated
temporaries (the best one can do without a compiled kernel)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def _first_moment(m: np.ndarray, g: np.ndarray, beta1: float, scratch: np.ndarray) -> None:
    """m += (1 - beta1) (g - m) in place: torch's lerp of the first moment."""
    np.subtract(g, m, out=scratch)
    np.multiply(scratch, 1 - beta1, out=scratch)
    np.add(m, scratch, out=m)


def _second_moment(v: np.ndarray, g: np.ndarray, beta2: float, scratch: np.ndarray) -> None:
    """v = beta2 v + (1 - beta2) g² in place."""
    np.multiply(v, beta2, out=v)
    np.multiply(g, g, out=scratch)
    np.multiply(scratch, 1 - beta2, out=scratch)
    np.add(v, scratch, out=v)


def make(
    optimizer: str, kwargs: dict[str, Any], params: list[np.ndarray]
) -> Callable[[list[np.ndarray]], None]:
    """A step function over ``params`` for ``optimizer`` with torch defaults."""
    lr = kwargs.get("lr", 1e-3)
    state = [[np.zeros_like(p) for _ in range(3)] for p in params]
    tmp = [np.empty_like(p) for p in params]
    tmp2 = [np.empty_like(p) for p in params]
    counter = [0]

    def sgd(grads: list[np.ndarray]) -> None:
        momentum = kwargs.get("momentum", 0.0)
        for p, g, (buf, _, _), t in zip(params, grads, state, tmp):
            if momentum:
                np.multiply(buf, momentum, out=buf)
                np.add(buf, g, out=buf)
                np.multiply(buf, lr, out=t)
            else:
                np.multiply(g, lr, out=t)
            np.subtract(p, t, out=p)

    def adagrad(grads: list[np.ndarray]) -> None:
        eps = kwargs.get("eps", 1e-10)
        for p, g, (s, _, _), t in zip(params, grads, state, tmp):
            np.multiply(g, g, out=t)
            np.add(s, t, out=s)
            np.sqrt(s, out=t)
            np.add(t, eps, out=t)
            np.divide(g, t, out=t)
            np.multiply(t, lr, out=t)
            np.subtract(p, t, out=p)

    def rmsprop(grads: list[np.ndarray]) -> None:
        alpha, eps = kwargs.get("alpha", 0.99), kwargs.get("eps", 1e-8)
        for p, g, (v, _, _), t in zip(params, grads, state, tmp):
            _second_moment(v, g, alpha, t)
            np.sqrt(v, out=t)
            np.add(t, eps, out=t)
            np.divide(g, t, out=t)
            np.multiply(t, lr, out=t)
            np.subtract(p, t, out=p)

    def adam(grads: list[np.ndarray]) -> None:
        beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
        eps, wd = kwargs.get("eps", 1e-8), kwargs.get("weight_decay", 0.0)
        counter[0] += 1
        step = counter[0]
        step_size = lr / (1 - beta1**step)
        inv_bc2_sqrt = 1 / np.sqrt(1 - beta2**step)
        for p, g, (m, v, _), t, t2 in zip(params, grads, state, tmp, tmp2):
            if wd and optimizer == "AdamW":
                np.multiply(p, 1 - lr * wd, out=p)
            _first_moment(m, g, beta1, t)
            _second_moment(v, g, beta2, t)
            np.sqrt(v, out=t)
            np.multiply(t, inv_bc2_sqrt, out=t)
            np.add(t, eps, out=t)
            np.divide(m, t, out=t2)
            np.multiply(t2, step_size, out=t2)
            np.subtract(p, t2, out=p)

    def lion(grads: list[np.ndarray]) -> None:
        beta1, beta2 = kwargs.get("betas", (0.9, 0.99))
        wd = kwargs.get("weight_decay", 0.0)
        for p, g, (m, _, _), t, t2 in zip(params, grads, state, tmp, tmp2):
            if wd:
                np.multiply(p, 1 - lr * wd, out=p)
            np.multiply(m, beta1, out=t)
            np.multiply(g, 1 - beta1, out=t2)
            np.add(t, t2, out=t)
            np.sign(t, out=t)
            np.multiply(t, lr, out=t)
            np.subtract(p, t, out=p)
            np.multiply(m, beta2, out=m)
            np.multiply(g, 1 - beta2, out=t)
            np.add(m, t, out=m)

    def lamb(grads: list[np.ndarray]) -> None:
        beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
        eps, wd = kwargs.get("eps", 1e-6), kwargs.get("weight_decay", 0.0)
        counter[0] += 1
        step = counter[0]
        for p, g, (m, v, _), t, t2 in zip(params, grads, state, tmp, tmp2):
            np.multiply(m, beta1, out=m)
            np.multiply(g, 1 - beta1, out=t)
            np.add(m, t, out=m)
            _second_moment(v, g, beta2, t)
            np.multiply(v, 1 / (1 - beta2**step), out=t)
            np.sqrt(t, out=t)
            np.add(t, eps, out=t)
            np.multiply(m, 1 / (1 - beta1**step), out=t2)
            np.divide(t2, t, out=t2)
            if wd:
                np.multiply(p, wd, out=t)
                np.add(t2, t, out=t2)
            param_norm, update_norm = np.linalg.norm(p), np.linalg.norm(t2)
            trust = param_norm / update_norm if param_norm > 0 and update_norm > 0 else 1.0
            np.multiply(t2, lr * trust, out=t2)
            np.subtract(p, t2, out=p)

    mu_product = [np.float32(1.0)]  # torch's 0-d float32 state, the same for every param

    def nadam(grads: list[np.ndarray]) -> None:
        beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
        eps, psi = kwargs.get("eps", 1e-8), kwargs.get("momentum_decay", 4e-3)
        counter[0] += 1
        step = counter[0]
        mu = beta1 * (1 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * psi))
        mu_product[0] = mu_product[0] * np.float32(mu)
        product = float(mu_product[0])
        grad_coefficient = -lr * (1 - mu) / (1 - product)
        exp_avg_coefficient = -lr * mu_next / (1 - product * mu_next)
        bias_correction2 = 1 - beta2**step
        for p, g, (m, v, _), t, t2 in zip(params, grads, state, tmp, tmp2):
            _first_moment(m, g, beta1, t)
            _second_moment(v, g, beta2, t)
            np.divide(v, bias_correction2, out=t)
            np.sqrt(t, out=t)
            np.add(t, eps, out=t)
            np.multiply(g, grad_coefficient, out=t2)
            np.divide(t2, t, out=t2)
            np.add(p, t2, out=p)
            np.multiply(m, exp_avg_coefficient, out=t2)
            np.divide(t2, t, out=t2)
            np.add(p, t2, out=p)

    def radam(grads: list[np.ndarray]) -> None:
        beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
        eps = kwargs.get("eps", 1e-8)
        counter[0] += 1
        step = counter[0]
        bias_correction1, bias_correction2 = 1 - beta1**step, 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho = rho_inf - 2 * step * beta2**step / bias_correction2
        rect = None
        if rho > 5:
            rect = ((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)) ** 0.5
        for p, g, (m, v, _), t, t2 in zip(params, grads, state, tmp, tmp2):
            _first_moment(m, g, beta1, t)
            _second_moment(v, g, beta2, t)
            np.multiply(m, -lr / bias_correction1, out=t2)
            if rect is not None:  # rectified: times the adaptive step sqrt(bc2) / (sqrt(v) + eps)
                np.sqrt(v, out=t)
                np.add(t, eps, out=t)
                np.divide(t2, t, out=t2)
                np.multiply(t2, rect * bias_correction2**0.5, out=t2)
            np.add(p, t2, out=p)

    def adamax(grads: list[np.ndarray]) -> None:
        beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
        eps = kwargs.get("eps", 1e-8)
        counter[0] += 1
        step_size = lr / (1 - beta1 ** counter[0])
        for p, g, (m, u, _), t in zip(params, grads, state, tmp):
            _first_moment(m, g, beta1, t)
            np.multiply(u, beta2, out=u)
            np.abs(g, out=t)
            np.add(t, eps, out=t)
            np.maximum(u, t, out=u)
            np.divide(m, u, out=t)
            np.multiply(t, step_size, out=t)
            np.subtract(p, t, out=p)

    def adadelta(grads: list[np.ndarray]) -> None:
        rho, eps = kwargs.get("rho", 0.9), kwargs.get("eps", 1e-6)
        for p, g, (v, acc, _), t, t2 in zip(params, grads, state, tmp, tmp2):
            np.multiply(v, rho, out=v)
            np.multiply(g, g, out=t)
            np.multiply(t, 1 - rho, out=t)
            np.add(v, t, out=v)
            np.add(v, eps, out=t2)
            np.sqrt(t2, out=t2)  # std
            np.add(acc, eps, out=t)
            np.sqrt(t, out=t)
            np.divide(t, t2, out=t)
            np.multiply(t, g, out=t)  # delta
            np.multiply(acc, rho, out=acc)
            np.multiply(t, t, out=t2)
            np.multiply(t2, 1 - rho, out=t2)
            np.add(acc, t2, out=acc)
            np.multiply(t, lr, out=t)
            np.subtract(p, t, out=p)

    def rprop(grads: list[np.ndarray]) -> None:
        etaminus, etaplus = kwargs.get("etas", (0.5, 1.2))
        low, high = kwargs.get("step_sizes", (1e-6, 50.0))
        if counter[0] == 0:
            for _, step_size, _ in state:
                step_size.fill(lr)
        counter[0] += 1
        for p, g, (prev, step_size, _), t, t2 in zip(params, grads, state, tmp, tmp2):
            np.multiply(g, prev, out=t)
            factor = np.where(t > 0, etaplus, np.where(t < 0, etaminus, 1.0)).astype(p.dtype)
            np.multiply(step_size, factor, out=step_size)
            np.clip(step_size, low, high, out=step_size)
            np.copyto(prev, g)
            prev[t < 0] = 0
            np.sign(prev, out=t2)
            np.multiply(t2, step_size, out=t2)
            np.subtract(p, t2, out=p)

    eta_mu = [float(np.float32(lr)), 1.0]  # torch's 0-d float32 state, the same for every param

    def asgd(grads: list[np.ndarray]) -> None:
        lambd, alpha = kwargs.get("lambd", 1e-4), kwargs.get("alpha", 0.75)
        t0 = kwargs.get("t0", 1e6)
        counter[0] += 1
        eta, mu = eta_mu
        for p, g, (ax, _, _), t in zip(params, grads, state, tmp):
            np.multiply(p, 1 - lambd * eta, out=p)
            np.multiply(g, eta, out=t)
            np.subtract(p, t, out=p)
            if mu != 1:
                np.subtract(p, ax, out=t)
                np.multiply(t, mu, out=t)
                np.add(ax, t, out=ax)
            else:
                np.copyto(ax, p)
        step = counter[0]
        eta_mu[0] = float(np.float32(lr / (1 + lambd * lr * step) ** alpha))
        eta_mu[1] = float(np.float32(1 / max(1, step - t0)))

    factors = [
        (np.zeros((*p.shape[:-1], 1), p.dtype), np.zeros((*p.shape[:-2], 1, p.shape[-1]), p.dtype))
        if p.ndim >= 2
        else (np.zeros_like(p), None)
        for p in params
    ]

    def adafactor(grads: list[np.ndarray]) -> None:
        counter[0] += 1
        t = counter[0]
        weight, rho = t ** kwargs.get("beta2_decay", -0.8), min(lr, t**-0.5)
        for p, g, (row_or_v, col), u in zip(params, grads, factors, tmp):
            eps1 = np.finfo(p.dtype).eps
            alpha = max(1e-3, float(np.linalg.norm(p)) / p.size**0.5) * rho
            np.multiply(g, g, out=u)
            if col is None:
                row_or_v += weight * (u - row_or_v)
                np.maximum(row_or_v, eps1 * eps1, out=u)
            else:
                row_or_v += weight * (u.mean(axis=-1, keepdims=True) - row_or_v)
                col += weight * (u.mean(axis=-2, keepdims=True) - col)
                mean = np.maximum(row_or_v.mean(axis=-2, keepdims=True), eps1)
                np.multiply(row_or_v, col, out=u)
                np.divide(u, mean, out=u)
                np.maximum(u, eps1 * eps1, out=u)
            np.sqrt(u, out=u)
            np.divide(g, u, out=u)
            denom = max(1.0, float(np.linalg.norm(u)) / p.size**0.5)
            np.multiply(u, alpha / denom, out=u)
            np.subtract(p, u, out=p)

    steps = {"SGD": sgd, "Adagrad": adagrad, "RMSprop": rmsprop, "Adam": adam, "AdamW": adam}
    steps.update(Lion=lion, LAMB=lamb, NAdam=nadam, Rprop=rprop, ASGD=asgd, Adafactor=adafactor)
    steps.update(RAdam=radam, Adamax=adamax, Adadelta=adadelta)
    return steps[optimizer]
