// Hyperparameters of each optimizer, named and defaulted as in torch.optim, and the one table
// per optimizer that names and checks them (torch's keys and error messages), used by the C++
// optimizer objects and, through the bindings, by every Python entry point.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

namespace optikern {

// What the per-step scalars may depend on besides the options.
struct step_context {
    std::int64_t step = 1;     // 1-based number of this step
    bool fresh_state = false;  // the state was just created (SGD: the buffer starts as the grad)
};

// What a value must satisfy; the checks fail on NaN as torch's `not value >= 0` does.
// non_negative_or_none: None (from Python) keeps the default, which switches the option off.
enum class option_rule {
    any,
    non_negative,
    unit_interval,
    closed_unit_interval,
    non_negative_or_none,
    non_positive,
    at_least_one,
    non_negative_or_unset,
    flag
};

// non_negative_or_unset: None (from Python) leaves the option unset, NaN in C++, which the
// kernel replaces by a default of its element type (Adafactor's eps1: the type's epsilon).

// One hyperparameter as torch's param groups hold it: `key` (with `index` into a pair such as
// `betas`, else -1), the noun of torch's "Invalid <what>: <value>" message, and its field.
// `message`, when set, is torch's wording instead: "<message><value>".
template <class Options>
struct option_field {
    const char* key;
    int index;
    const char* what;
    option_rule rule;
    double Options::* real;  // null for flags
    bool Options::* flag;    // null for reals
    const char* message = nullptr;
};

inline bool satisfies(option_rule rule, double v) {
    return rule == option_rule::non_negative || rule == option_rule::non_negative_or_none ? v >= 0.0
           : rule == option_rule::unit_interval         ? (v >= 0.0 && v < 1.0)
           : rule == option_rule::closed_unit_interval  ? (v >= 0.0 && v <= 1.0)
           : rule == option_rule::non_positive          ? v <= 0.0
           : rule == option_rule::at_least_one          ? v >= 1.0
           : rule == option_rule::non_negative_or_unset ? (v >= 0.0 || v != v)
                                                        : true;
}

// The error message for option field f holding the value written `value`.
template <class Options>
std::string option_message(const option_field<Options>& f, const std::string& value) {
    return f.message != nullptr ? f.message + value
                                : std::string("Invalid ") + f.what + ": " + value;
}

// The first option violating its rule, or null.
template <class Options, std::size_t N>
const option_field<Options>* invalid_option(const std::array<option_field<Options>, N>& fields,
                                            const Options& o) {
    for (const auto& f : fields) {
        if (f.real != nullptr && !satisfies(f.rule, o.*f.real)) return &f;
    }
    return nullptr;
}

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
    double initial_accumulator_value = 0.0;
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

struct adamax_options {
    double lr = 2e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    bool maximize = false;
};

struct radam_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    bool decoupled_weight_decay = false;
    bool maximize = false;
};

struct adadelta_options {
    double lr = 1.0;
    double rho = 0.9;
    double eps = 1e-6;
    double weight_decay = 0.0;
    bool maximize = false;
};

// Lion (lion-pytorch's signature; not in torch.optim). Its weight decay is decoupled.
struct lion_options {
    double lr = 1e-4;
    double beta1 = 0.9;
    double beta2 = 0.99;
    double weight_decay = 0.0;
    bool maximize = false;
};

// LAMB (optax's signature; not in torch.optim). The trust-ratio bounds are DeepSpeed's,
// off by default (0 and infinity).
struct lamb_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-6;
    double weight_decay = 0.0;
    double min_coeff = 0.0;
    double max_coeff = std::numeric_limits<double>::infinity();
    bool maximize = false;
};

// torch.optim.Adafactor. eps1 NaN: unset (torch's None), the element type's epsilon.
struct adafactor_options {
    double lr = 1e-2;
    double beta2_decay = -0.8;
    double eps1 = std::numeric_limits<double>::quiet_NaN();
    double eps2 = 1e-3;
    double d = 1.0;
    double weight_decay = 0.0;
    bool maximize = false;
};

struct nadam_options {
    double lr = 2e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    double momentum_decay = 4e-3;
    bool decoupled_weight_decay = false;
    bool maximize = false;
};

struct rprop_options {
    double lr = 1e-2;  // the initial step size
    double etaminus = 0.5;
    double etaplus = 1.2;
    double step_size_min = 1e-6;
    double step_size_max = 50.0;
    bool maximize = false;
};

struct asgd_options {
    double lr = 1e-2;
    double lambd = 1e-4;
    double alpha = 0.75;
    double t0 = 1e6;
    double weight_decay = 0.0;
    bool maximize = false;
};

// torch.optim.SparseAdam: Adam applied lazily, to the rows a sparse gradient touches.
struct sparse_adam_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    bool maximize = false;
};

}  // namespace optikern
