// torch's lerp, shared by the moving averages of Adam and centered RMSprop.
#pragma once

#include "optikern/config.hpp"

namespace optikern::kernels {

// Weight of a linear interpolation and torch's choice of formula for it: a + w (b - a) for
// |w| < 0.5, else b - (b - a)(1 - w). Both are exact in real arithmetic; picking the same one as
// torch keeps results equal to torch.optim in floating point too.
template <class T>
struct lerp_weight {
    T weight;
    T one_minus_weight;
    bool small;

    static lerp_weight make(double w) {
        const T wt = static_cast<T>(w);
        return {wt, T(1) - wt, (wt < T(0) ? -wt : wt) < T(0.5)};
    }
};

template <class V>
OPTIKERN_INLINE typename V::reg lerp(typename V::reg a,
                                     typename V::reg b,
                                     const lerp_weight<typename V::value_type>& w) {
    const auto diff = V::sub(b, a);
    return w.small ? V::add(a, V::mul(V::set1(w.weight), diff))
                   : V::sub(b, V::mul(diff, V::set1(w.one_minus_weight)));
}

}  // namespace optikern::kernels
