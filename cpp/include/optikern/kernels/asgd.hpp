// ASGD, averaged SGD (Polyak & Juditsky 1992), in the arithmetic order and roundings of
// torch.optim.ASGD's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.ASGD.html):
//   g = maximize ? -grad : grad;  with wd: g = g + wd p
//   p = p (1 - lambd eta);   p = p + (-eta) g
//   mu != 1: ax = ax + (p - ax) mu,   else ax = p
// then per tensor, in double as torch computes them in Python, stored as float32 0-d values
// (torch.as_tensor of a Python float) in the tensor's eta and mu:
//   eta = lr / (1 + lambd lr t)^alpha,   mu = 1 / max(1, t - t0)
// so a step uses the eta and mu the previous step left (eta starts at lr, mu at 1).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/kernels/torch_ops.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct asgd_scalars {
    double lr;
    double lambd;
    double alpha;
    double t0;
    double step;
    T weight_decay;
    T decay_factor;  // 1 - lambd eta: per tensor (asgd::advance)
    T neg_eta;       // per tensor
    T mu;            // per tensor
    bool average;    // mu != 1: per tensor
    bool l2_decay;
    bool maximize;

    static asgd_scalars make(const asgd_options& o, const step_context& c) {
        return {o.lr,
                o.lambd,
                o.alpha,
                o.t0,
                static_cast<double>(c.step),
                static_cast<T>(o.weight_decay),
                T(1),
                T(0),
                T(1),
                false,
                o.weight_decay != 0.0,
                o.maximize};
    }
};

namespace kernels {

struct asgd {
    using options = asgd_options;
    template <class T>
    using buffers = asgd_buffers<T>;
    template <class T>
    using scalars = asgd_scalars<T>;

    static constexpr std::array<option_field<asgd_options>, 6> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &asgd_options::lr, nullptr},
        {"lambd", -1, "lambd", option_rule::any, &asgd_options::lambd, nullptr},
        {"alpha", -1, "alpha", option_rule::any, &asgd_options::alpha, nullptr},
        {"t0", -1, "t0", option_rule::any, &asgd_options::t0, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &asgd_options::weight_decay, nullptr},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &asgd_options::maximize},
    }};
    static constexpr const char* invalid_combination(const asgd_options&) { return nullptr; }

    static constexpr std::array<const char*, 1> state_names{"ax"};
    template <class T>
    static constexpr std::array<T * asgd_buffers<T>::*, 1> state{&asgd_buffers<T>::ax};
    static constexpr bool uses_state(const asgd_options&, std::size_t) { return true; }
    static constexpr double initial_state(const asgd_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    static constexpr std::array<const char*, 2> scalar_state_names{"eta", "mu"};
    template <class T>
    static constexpr std::array<scalar_cell asgd_buffers<T>::*, 2> scalar_state{
        &asgd_buffers<T>::eta, &asgd_buffers<T>::mu};
    static constexpr double initial_scalar_state(const asgd_options& o, std::size_t j) {
        return j == 0 ? o.lr : 1.0;
    }
    // This step's scalars from the eta and mu the last step left; then this step's own.
    template <class T>
    static asgd_scalars<T> advance(asgd_scalars<T> s, const asgd_buffers<T>& b) {
        const double eta = b.eta.get();
        const double mu = b.mu.get();
        s.decay_factor = static_cast<T>(1.0 - s.lambd * eta);
        s.neg_eta = static_cast<T>(-eta);
        s.mu = static_cast<T>(mu);
        s.average = mu != 1.0;
        const double next_eta = s.lr / std::pow(1.0 + s.lambd * s.lr * s.step, s.alpha);
        b.eta.set(static_cast<float>(next_eta));
        b.mu.set(static_cast<float>(1.0 / std::max(1.0, s.step - s.t0)));
        return s;
    }

    template <class V>
    static OPTIKERN_INLINE void at(const asgd_buffers<typename V::value_type>& b,
                                   const asgd_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        p = V::mul(p, V::set1(s.decay_factor));
        p = add_scaled<V>(p, g, V::set1(s.neg_eta));
        if (s.average) {
            const auto ax = V::load(b.ax + i);
            V::store(b.ax + i, V::add(ax, V::mul(V::sub(p, ax), V::set1(s.mu))));
        } else {
            V::store(b.ax + i, p);
        }
        V::store(b.param + i, p);
    }
};

}  // namespace kernels
}  // namespace optikern
