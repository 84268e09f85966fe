// Adadelta (Zeiler 2012), in the arithmetic order and roundings of torch.optim.Adadelta's
// single-tensor code (https://pytorch.org/docs/stable/generated/torch.optim.Adadelta.html):
//   g = maximize ? -grad : grad;  with wd: g = g + wd p
//   v = v rho + ((1 - rho) g) g
//   d = (sqrt(u + eps) / sqrt(v + eps)) g
//   u = u rho + ((1 - rho) d) d
//   p = p + (-lr) d
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/kernels/torch_ops.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct adadelta_scalars {
    T rho;
    T one_minus_rho;
    T eps;
    T weight_decay;
    T neg_lr;
    bool l2_decay;
    bool maximize;

    static adadelta_scalars make(const adadelta_options& o, const step_context&) {
        return {static_cast<T>(o.rho),
                static_cast<T>(1.0 - o.rho),
                static_cast<T>(o.eps),
                static_cast<T>(o.weight_decay),
                static_cast<T>(-o.lr),
                o.weight_decay != 0.0,
                o.maximize};
    }
};

namespace kernels {

struct adadelta {
    using options = adadelta_options;
    template <class T>
    using buffers = adadelta_buffers<T>;
    template <class T>
    using scalars = adadelta_scalars<T>;

    static constexpr std::array<option_field<adadelta_options>, 5> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &adadelta_options::lr, nullptr},
        {"rho", -1, "rho value", option_rule::closed_unit_interval, &adadelta_options::rho,
         nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &adadelta_options::eps, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &adadelta_options::weight_decay, nullptr},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &adadelta_options::maximize},
    }};
    static constexpr const char* invalid_combination(const adadelta_options&) { return nullptr; }

    static constexpr std::array<const char*, 2> state_names{"square_avg", "acc_delta"};
    // Running averages, which may be stored in 8 bits (quantize.hpp): can each be negative?
    static constexpr std::array<bool, 2> state_signed{false, false};
    template <class T>
    static constexpr std::array<T * adadelta_buffers<T>::*, 2> state{
        &adadelta_buffers<T>::square_avg, &adadelta_buffers<T>::acc_delta};
    static constexpr bool uses_state(const adadelta_options&, std::size_t) { return true; }
    static constexpr double initial_state(const adadelta_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    template <class V>
    static OPTIKERN_INLINE void at(const adadelta_buffers<typename V::value_type>& b,
                                   const adadelta_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        const auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        const auto rho = V::set1(s.rho);
        const auto one_minus_rho = V::set1(s.one_minus_rho);
        const auto eps = V::set1(s.eps);
        const auto v = addcmul<V>(V::mul(V::load(b.square_avg + i), rho), one_minus_rho, g, g);
        const auto u_old = V::load(b.acc_delta + i);
        const auto d = V::mul(V::div(V::sqrt(V::add(u_old, eps)), V::sqrt(V::add(v, eps))), g);
        const auto u = addcmul<V>(V::mul(u_old, rho), one_minus_rho, d, d);
        V::store(b.square_avg + i, v);
        V::store(b.acc_delta + i, u);
        V::store(b.param + i, add_scaled<V>(p, d, V::set1(s.neg_lr)));
    }
};

}  // namespace kernels
}  // namespace optikern
