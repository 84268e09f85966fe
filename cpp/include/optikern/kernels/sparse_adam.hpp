// SparseAdam (torch.optim.SparseAdam): Adam that updates only what a sparse gradient touches,
// in the arithmetic order of torch's implementation
// (https://pytorch.org/docs/stable/generated/torch.optim.SparseAdam.html):
//   g = maximize ? -grad : grad
//   m = m + (g - m)(1 - beta1)            v = v + (g g - v)(1 - beta2)
//   p = p + (-lr sqrt(1 - beta2^t) / (1 - beta1^t)) (m / (sqrt(v) + eps))
// Unlike Adam, eps is added to sqrt(v) before the bias correction, and t counts the steps of
// the whole tensor, not of each row. Applied to the touched rows only (optikern::update_rows).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct sparse_adam_scalars {
    T one_minus_beta1;
    T one_minus_beta2;
    T neg_step_size;
    T eps;
    bool maximize;

    static sparse_adam_scalars make(const sparse_adam_options& o, const step_context& c) {
        const double t = static_cast<double>(c.step);
        const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
        const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
        return {static_cast<T>(1.0 - o.beta1), static_cast<T>(1.0 - o.beta2),
                static_cast<T>(-(o.lr * std::sqrt(bias_correction2) / bias_correction1)),
                static_cast<T>(o.eps), o.maximize};
    }
};

namespace kernels {

struct sparse_adam {
    using options = sparse_adam_options;
    template <class T>
    using buffers = sparse_adam_buffers<T>;
    template <class T>
    using scalars = sparse_adam_scalars<T>;

    static constexpr std::array<option_field<sparse_adam_options>, 5> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &sparse_adam_options::lr, nullptr},
        {"betas", 0, "beta parameter at index 0", option_rule::unit_interval,
         &sparse_adam_options::beta1, nullptr},
        {"betas", 1, "beta parameter at index 1", option_rule::unit_interval,
         &sparse_adam_options::beta2, nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &sparse_adam_options::eps, nullptr},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &sparse_adam_options::maximize},
    }};
    static constexpr const char* invalid_combination(const sparse_adam_options&) { return nullptr; }

    static constexpr std::array<const char*, 2> state_names{"exp_avg", "exp_avg_sq"};
    template <class T>
    static constexpr std::array<T * sparse_adam_buffers<T>::*, 2> state{
        &sparse_adam_buffers<T>::exp_avg, &sparse_adam_buffers<T>::exp_avg_sq};
    static constexpr bool uses_state(const sparse_adam_options&, std::size_t) { return true; }
    static constexpr double initial_state(const sparse_adam_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    template <class V>
    static OPTIKERN_INLINE void at(const sparse_adam_buffers<typename V::value_type>& b,
                                   const sparse_adam_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        const auto m_old = V::load(b.exp_avg + i);
        const auto v_old = V::load(b.exp_avg_sq + i);
        const auto m = V::add(m_old, V::mul(V::sub(g, m_old), V::set1(s.one_minus_beta1)));
        const auto v =
            V::add(v_old, V::mul(V::sub(V::mul(g, g), v_old), V::set1(s.one_minus_beta2)));
        const auto denom = V::add(V::sqrt(v), V::set1(s.eps));
        const auto p = V::load(b.param + i);
        V::store(b.exp_avg + i, m);
        V::store(b.exp_avg_sq + i, v);
        V::store(b.param + i, V::add(p, V::mul(V::set1(s.neg_step_size), V::div(m, denom))));
    }
};

}  // namespace kernels
}  // namespace optikern
