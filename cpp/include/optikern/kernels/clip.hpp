// Elementwise gradient clipping: scaling by a factor (clip by norm) and clamping to a range
// (clip by value), as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ apply them.
#pragma once

#include <cstdint>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"

namespace optikern {

template <class T>
struct scale_scalars {
    T factor;
};

template <class T>
struct clamp_scalars {
    T low;
    T high;
};

namespace kernels {

struct scale {
    template <class T>
    using buffers = array_buffer<T>;
    template <class T>
    using scalars = scale_scalars<T>;

    template <class V>
    static OPTIKERN_INLINE void at(const array_buffer<typename V::value_type>& b,
                                   const scale_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        V::store(b.data + i, V::mul(V::load(b.data + i), V::set1(s.factor)));
    }
};

struct clamp {
    template <class T>
    using buffers = array_buffer<T>;
    template <class T>
    using scalars = clamp_scalars<T>;

    // min(high, max(low, x)) in MINPS/MAXPS semantics keeps NaN, as torch.clamp does.
    template <class V>
    static OPTIKERN_INLINE void at(const array_buffer<typename V::value_type>& b,
                                   const clamp_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        const auto x = V::load(b.data + i);
        V::store(b.data + i, V::min(V::set1(s.high), V::max(V::set1(s.low), x)));
    }
};

}  // namespace kernels
}  // namespace optikern
