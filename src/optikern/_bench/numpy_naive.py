"""Naive NumPy: the update as most people first write it (new arrays every operation)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def make(
    optimizer: str, kwargs: dict[str, Any], params: list[np.ndarray]
) -> Callable[[list[np.ndarray]], None]:
    lr = kwargs.get("lr", 1e-3)
    state: list[dict[str, Any]] = [{} for _ in params]

    def step(grads: list[np.ndarray]) -> None:
        for p, g, s in zip(params, grads, state):
            if optimizer == "SGD":
                if kwargs.get("momentum"):
                    s["v"] = kwargs["momentum"] * s.get("v", 0) + g
                    p -= lr * s["v"]
                else:
                    p -= lr * g
            elif optimizer == "Adagrad":
                s["sum"] = s.get("sum", 0) + g**2
                p -= lr * g / (np.sqrt(s["sum"]) + kwargs.get("eps", 1e-10))
            elif optimizer == "Lion":
                beta1, beta2 = kwargs.get("betas", (0.9, 0.99))
                m = s.get("m", 0)
                p *= 1 - lr * kwargs.get("weight_decay", 0.0)
                p -= lr * np.sign(beta1 * m + (1 - beta1) * g)
                s["m"] = beta2 * m + (1 - beta2) * g
            elif optimizer == "Adafactor":
                s["t"] = t = s.get("t", 0) + 1
                weight, eps1 = t ** kwargs.get("beta2_decay", -0.8), np.finfo(p.dtype).eps
                alpha = max(1e-3, np.linalg.norm(p) / p.size**0.5) * min(lr, t**-0.5)
                if p.ndim >= 2:
                    r, c = s.get("r", 0), s.get("c", 0)
                    s["r"] = r = r + weight * ((g**2).mean(-1, keepdims=True) - r)
                    s["c"] = c = c + weight * ((g**2).mean(-2, keepdims=True) - c)
                    v = r * c / np.maximum(r.mean(-2, keepdims=True), eps1)
                else:
                    s["v"] = v = s.get("v", 0) + weight * (g**2 - s.get("v", 0))
                u = g / np.sqrt(np.maximum(v, eps1**2))
                p -= alpha / max(1.0, np.linalg.norm(u) / p.size**0.5) * u
            elif optimizer == "LAMB":
                beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
                s["t"] = s.get("t", 0) + 1
                s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
                s["v"] = beta2 * s.get("v", 0) + (1 - beta2) * g**2
                u = (s["m"] / (1 - beta1 ** s["t"])) / (
                    np.sqrt(s["v"] / (1 - beta2 ** s["t"])) + kwargs.get("eps", 1e-6)
                ) + kwargs.get("weight_decay", 0.0) * p
                p -= lr * np.linalg.norm(p) / np.linalg.norm(u) * u
            elif optimizer == "RAdam":
                beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
                s["t"] = t = s.get("t", 0) + 1
                s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
                s["v"] = beta2 * s.get("v", 0) + (1 - beta2) * g**2
                rho_inf = 2 / (1 - beta2) - 1
                rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
                m_hat = s["m"] / (1 - beta1**t)
                if rho > 5:
                    r = (
                        (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
                    ) ** 0.5
                    v_hat = np.sqrt(s["v"] / (1 - beta2**t))
                    p -= lr * m_hat * r / (v_hat + kwargs.get("eps", 1e-8))
                else:
                    p -= lr * m_hat
            elif optimizer == "Adamax":
                beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
                s["t"] = t = s.get("t", 0) + 1
                s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
                s["u"] = np.maximum(beta2 * s.get("u", 0), np.abs(g) + kwargs.get("eps", 1e-8))
                p -= lr / (1 - beta1**t) * s["m"] / s["u"]
            elif optimizer == "Adadelta":
                rho, eps = kwargs.get("rho", 0.9), kwargs.get("eps", 1e-6)
                s["v"] = rho * s.get("v", 0) + (1 - rho) * g**2
                delta = np.sqrt(s.get("acc", 0) + eps) / np.sqrt(s["v"] + eps) * g
                s["acc"] = rho * s.get("acc", 0) + (1 - rho) * delta**2
                p -= lr * delta
            elif optimizer == "RMSprop":
                alpha = kwargs.get("alpha", 0.99)
                s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g**2
                p -= lr * g / (np.sqrt(s["v"]) + kwargs.get("eps", 1e-8))
            elif optimizer == "Rprop":
                etaminus, etaplus = kwargs.get("etas", (0.5, 1.2))
                product = g * s.get("prev", 0)
                factor = np.where(product > 0, etaplus, np.where(product < 0, etaminus, 1.0))
                s["step_size"] = np.clip(s.get("step_size", lr) * factor, 1e-6, 50)
                s["prev"] = np.where(product < 0, 0, g)
                p -= np.sign(s["prev"]) * s["step_size"]
            elif optimizer == "ASGD":
                lambd, alpha = kwargs.get("lambd", 1e-4), kwargs.get("alpha", 0.75)
                eta, mu = s.get("eta", lr), s.get("mu", 1.0)
                s["t"] = t = s.get("t", 0) + 1
                p *= 1 - lambd * eta
                p -= eta * g
                s["ax"] = s.get("ax", 0) + (p - s.get("ax", 0)) * mu if mu != 1 else p.copy()
                s["eta"] = lr / (1 + lambd * lr * t) ** alpha
                s["mu"] = 1 / max(1, t - kwargs.get("t0", 1e6))
            elif optimizer == "NAdam":
                beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
                s["t"] = t = s.get("t", 0) + 1
                mu = beta1 * (1 - 0.5 * 0.96 ** (t * 0.004))
                mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * 0.004))
                s["mu_product"] = s.get("mu_product", 1.0) * mu
                s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
                s["v"] = beta2 * s.get("v", 0) + (1 - beta2) * g**2
                m_hat = (1 - mu) * g / (1 - s["mu_product"]) + mu_next * s["m"] / (
                    1 - s["mu_product"] * mu_next
                )
                p -= lr * m_hat / (np.sqrt(s["v"] / (1 - beta2**t)) + kwargs.get("eps", 1e-8))
            else:
                beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
                s["t"] = s.get("t", 0) + 1
                if optimizer == "AdamW":
                    p *= 1 - lr * kwargs.get("weight_decay", 1e-2)
                s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
                s["v"] = beta2 * s.get("v", 0) + (1 - beta2) * g**2
                m_hat = s["m"] / (1 - beta1 ** s["t"])
                v_hat = s["v"] / (1 - beta2 ** s["t"])
                p -= lr * m_hat / (np.sqrt(v_hat) + kwargs.get("eps", 1e-8))

    return step
