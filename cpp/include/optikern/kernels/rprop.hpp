// Rprop (Riedmiller & Braun 1993, resilient backpropagation), in the arithmetic order of
// torch.optim.Rprop's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.Rprop.html):
//   g = maximize ? -grad : grad
//   s = sign(g prev);   f = s > 0 ? eta_plus : s < 0 ? eta_minus : s == 0 ? 1 : s (NaN)
//   step_size = clamp(step_size f, step_size_min, step_size_max)
//   g = s < 0 ? 0 : g           (where the sign flipped, no step now and none remembered)
//   p = p + (-1 sign(g)) step_size
//   prev = g
// lr only initialises step_size. NaN goes where torch's goes: a NaN product makes the factor,
// the step size and the param NaN; clamp keeps NaN.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct rprop_scalars {
    T etaminus;
    T etaplus;
    T step_size_min;
    T step_size_max;
    bool maximize;

    static rprop_scalars make(const rprop_options& o, const step_context&) {
        return {static_cast<T>(o.etaminus), static_cast<T>(o.etaplus),
                static_cast<T>(o.step_size_min), static_cast<T>(o.step_size_max), o.maximize};
    }
};

namespace kernels {

struct rprop {
    using options = rprop_options;
    template <class T>
    using buffers = rprop_buffers<T>;
    template <class T>
    using scalars = rprop_scalars<T>;

    static constexpr std::array<option_field<rprop_options>, 6> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &rprop_options::lr, nullptr},
        {"etas", 0, "etas[0]", option_rule::any, &rprop_options::etaminus, nullptr},
        {"etas", 1, "etas[1]", option_rule::any, &rprop_options::etaplus, nullptr},
        {"step_sizes", 0, "step_sizes[0]", option_rule::any, &rprop_options::step_size_min,
         nullptr},
        {"step_sizes", 1, "step_sizes[1]", option_rule::any, &rprop_options::step_size_max,
         nullptr},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &rprop_options::maximize},
    }};
    // torch's rule 0 < eta_minus < 1 < eta_plus, and its message with both values.
    static const char* invalid_combination(const rprop_options& o) {
        if (0.0 < o.etaminus && o.etaminus < 1.0 && 1.0 < o.etaplus) return nullptr;
        static thread_local std::string message;
        message =
            "Invalid eta values: " + python_float(o.etaminus) + ", " + python_float(o.etaplus);
        return message.c_str();
    }

    static constexpr std::array<const char*, 2> state_names{"prev", "step_size"};
    template <class T>
    static constexpr std::array<T * rprop_buffers<T>::*, 2> state{&rprop_buffers<T>::prev,
                                                                  &rprop_buffers<T>::step_size};
    static constexpr bool uses_state(const rprop_options&, std::size_t) { return true; }
    // step_size starts at lr, as torch's does (torch.full_like(grad, lr)).
    static constexpr double initial_state(const rprop_options& o, std::size_t k) {
        return k == 1 ? o.lr : 0.0;
    }
    static constexpr bool counts_steps = true;

    template <class V>
    static OPTIKERN_INLINE void at(const rprop_buffers<typename V::value_type>& b,
                                   const rprop_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        using T = typename V::value_type;
        const auto zero = V::set1(T(0));
        const auto one = V::set1(T(1));
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        const auto product = V::mul(g, V::load(b.prev + i));
        const auto flipped = V::lt(product, zero);
        const auto factor = V::select(
            V::gt(product, zero), V::set1(s.etaplus),
            V::select(flipped, V::set1(s.etaminus), V::select(V::eq(product, zero), one, product)));
        const auto step_size =
            V::min(V::set1(s.step_size_max),
                   V::max(V::set1(s.step_size_min), V::mul(V::load(b.step_size + i), factor)));
        g = V::select(flipped, zero, g);
        // sign(g), NaN for NaN; the zeros pass through (a step of +-0)
        const auto sign = V::select(V::gt(g, zero), one, V::select(V::lt(g, zero), V::neg(one), g));
        V::store(b.step_size + i, step_size);
        V::store(b.prev + i, g);
        V::store(b.param + i, V::add(V::load(b.param + i), V::mul(V::neg(sign), step_size)));
    }

private:
    // Python's repr of a float ("1.0", "0.5", "1e-05"), as torch's messages show values.
    static std::string python_float(double v) {
        char text[32];
        for (int digits = 1; digits <= 17; ++digits) {
            std::snprintf(text, sizeof text, "%.*g", digits, v);
            if (std::strtod(text, nullptr) == v) break;
        }
        std::string out = text;
        if (out.find_first_not_of("-0123456789") == std::string::npos) out += ".0";
        return out;
    }
};

}  // namespace kernels
}  // namespace optikern
