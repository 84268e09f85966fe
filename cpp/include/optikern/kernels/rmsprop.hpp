// RMSProp (Hinton, Neural Networks for Machine Learning, lecture 6e) with torch's options, in the
// arithmetic order and roundings of torch.optim.RMSprop's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html; multiply-adds fused as
// torch's add(alpha), addcmul and lerp, torch_ops.hpp):
//   g = maximize ? -grad : grad;  with wd: g = g + wd p
//   v = v alpha + ((1 - alpha) g) g
//   centered: g_avg = lerp(g_avg, g, 1 - alpha), avg = sqrt(v - g_avg g_avg), else avg = sqrt(v)
//   avg = avg + eps
//   momentum > 0: b = b momentum + g / avg, p = p + (-lr) b (fused);  else p = p + ((-lr) g) / avg
// Keras' conventions by option: eps_inside_sqrt (avg = sqrt(v - g_avg^2 + eps)),
// lr_in_momentum (b = b momentum + (lr g) / avg, p = p - b), decoupled_weight_decay
// (p = p (1 - lr wd) first, no L2 term).
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
struct rmsprop_scalars {
    T alpha;
    T one_minus_alpha;
    kernels::lerp_weight<T> grad_avg_weight;
    T eps;
    T weight_decay;
    T momentum;
    T lr;
    T neg_lr;
    T decay_factor;
    bool l2_decay;
    bool decoupled_decay;
    bool centered;
    bool use_momentum;
    bool lr_in_momentum;
    bool eps_inside_sqrt;
    bool maximize;

    static rmsprop_scalars make(const rmsprop_options& o, const step_context&) {
        const bool decay = o.weight_decay != 0.0;
        return {static_cast<T>(o.alpha),
                static_cast<T>(1.0 - o.alpha),
                kernels::lerp_weight<T>::make(1.0 - o.alpha),
                static_cast<T>(o.eps),
                static_cast<T>(o.weight_decay),
                static_cast<T>(o.momentum),
                static_cast<T>(o.lr),
                static_cast<T>(-o.lr),
                static_cast<T>(1.0 - o.lr * o.weight_decay),
                decay && !o.decoupled_weight_decay,
                decay && o.decoupled_weight_decay,
                o.centered,
                o.momentum > 0.0,
                o.lr_in_momentum,
                o.eps_inside_sqrt,
                o.maximize};
    }
};

namespace kernels {

struct rmsprop {
    using options = rmsprop_options;
    template <class T>
    using buffers = rmsprop_buffers<T>;
    template <class T>
    using scalars = rmsprop_scalars<T>;

    static constexpr std::array<option_field<rmsprop_options>, 10> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &rmsprop_options::lr, nullptr},
        {"alpha", -1, "alpha value", option_rule::non_negative, &rmsprop_options::alpha, nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &rmsprop_options::eps, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &rmsprop_options::weight_decay, nullptr},
        {"momentum", -1, "momentum value", option_rule::non_negative, &rmsprop_options::momentum,
         nullptr},
        {"centered", -1, "centered", option_rule::flag, nullptr, &rmsprop_options::centered},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &rmsprop_options::maximize},
        {"decoupled_weight_decay", -1, "decoupled_weight_decay", option_rule::flag, nullptr,
         &rmsprop_options::decoupled_weight_decay},
        {"lr_in_momentum", -1, "lr_in_momentum", option_rule::flag, nullptr,
         &rmsprop_options::lr_in_momentum},
        {"eps_inside_sqrt", -1, "eps_inside_sqrt", option_rule::flag, nullptr,
         &rmsprop_options::eps_inside_sqrt},
    }};
    static constexpr const char* invalid_combination(const rmsprop_options&) { return nullptr; }

    // torch's order: square_avg, momentum_buffer (momentum > 0), grad_avg (centered).
    static constexpr std::array<const char*, 3> state_names{"square_avg", "momentum_buffer",
                                                            "grad_avg"};
    // Running averages, which may be stored in 8 bits (quantize.hpp): can each be negative?
    static constexpr std::array<bool, 3> state_signed{false, true, true};
    template <class T>
    static constexpr std::array<T * rmsprop_buffers<T>::*, 3> state{
        &rmsprop_buffers<T>::square_avg, &rmsprop_buffers<T>::momentum_buffer,
        &rmsprop_buffers<T>::grad_avg};
    static constexpr bool uses_state(const rmsprop_options& o, std::size_t k) {
        return k == 0 || (k == 1 ? o.momentum > 0.0 : o.centered);
    }
    static constexpr double initial_state(const rmsprop_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    template <class V>
    static OPTIKERN_INLINE void at(const rmsprop_buffers<typename V::value_type>& b,
                                   const rmsprop_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.decoupled_decay) p = V::mul(p, V::set1(s.decay_factor));
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        const auto square_avg = addcmul<V>(V::mul(V::load(b.square_avg + i), V::set1(s.alpha)),
                                           V::set1(s.one_minus_alpha), g, g);
        V::store(b.square_avg + i, square_avg);
        auto variance = square_avg;
        if (s.centered) {
            const auto grad_avg = lerp<V>(V::load(b.grad_avg + i), g, s.grad_avg_weight);
            V::store(b.grad_avg + i, grad_avg);
            variance = V::fma(V::neg(grad_avg), grad_avg, square_avg);  // addcmul, value -1
        }
        const auto avg = s.eps_inside_sqrt ? V::sqrt(V::add(variance, V::set1(s.eps)))
                                           : V::add(V::sqrt(variance), V::set1(s.eps));
        if (s.use_momentum) {
            const auto step = s.lr_in_momentum ? V::mul(V::set1(s.lr), g) : g;
            const auto buf = V::add(V::mul(V::load(b.momentum_buffer + i), V::set1(s.momentum)),
                                    V::div(step, avg));
            V::store(b.momentum_buffer + i, buf);
            p = s.lr_in_momentum ? V::sub(p, buf) : add_scaled<V>(p, buf, V::set1(s.neg_lr));
        } else {
            p = V::add(p, V::div(V::mul(V::set1(s.neg_lr), g), avg));
        }
        V::store(b.param + i, p);
    }
};

}  // namespace kernels
}  // namespace optikern
