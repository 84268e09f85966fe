// Hyperparameters of each optimizer, named and defaulted as in torch.optim.
#pragma once

namespace optikern {

// Options beyond torch's reach other frameworks' conventions (Keras, optax):
//   decoupled_weight_decay: p = p (1 - lr wd) before the update instead of g = g + wd p;
//   lr_in_momentum: the momentum buffer accumulates lr g (Keras) instead of g (torch);
//   eps_inside_sqrt: sqrt(v + eps) (Keras, optax) instead of sqrt(v) + eps (torch).

struct sgd_options {
    double lr = 1e-3;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false;
    bool maximize = false;
    bool decoupled_weight_decay = false;
    bool lr_in_momentum = false;
};

struct adagrad_options {
    double lr = 1e-2;
    double lr_decay = 0.0;
    double weight_decay = 0.0;
    double eps = 1e-10;
    bool maximize = false;
    bool decoupled_weight_decay = false;
    bool eps_inside_sqrt = false;
};

struct rmsprop_options {
    double lr = 1e-2;
    double alpha = 0.99;
    double eps = 1e-8;
    double weight_decay = 0.0;
    double momentum = 0.0;
    bool centered = false;
    bool maximize = false;
    bool decoupled_weight_decay = false;
    bool lr_in_momentum = false;
    bool eps_inside_sqrt = false;
};

// AdamW is Adam with decoupled_weight_decay = true (and torch's AdamW default weight_decay 1e-2).
struct adam_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    bool amsgrad = false;
    bool maximize = false;
    bool decoupled_weight_decay = false;
};

}  // namespace optikern
