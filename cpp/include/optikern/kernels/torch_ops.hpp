// torch's elementwise ops with torch's roundings. Its vectorised CPU kernels (and their scalar
// tails) fuse a multiply and an add in add(alpha), addcmul and lerp: writing an update with these
// gives float32/float64 results equal bit for bit to torch.optim's.
#pragma once

#include "optikern/config.hpp"

namespace optikern::kernels {

// a.add(b, alpha=alpha): b alpha + a, rounded once.
template <class V>
OPTIKERN_INLINE typename V::reg add_scaled(typename V::reg a,
                                           typename V::reg b,
                                           typename V::reg alpha) {
    return V::fma(b, alpha, a);
}

// self.addcmul(t1, t2, value=value): (value t1) t2 + self, the last two rounded once.
template <class V>
OPTIKERN_INLINE typename V::reg addcmul(typename V::reg self,
                                        typename V::reg value,
                                        typename V::reg t1,
                                        typename V::reg t2) {
    return V::fma(V::mul(value, t1), t2, self);
}

// Weight of a linear interpolation and torch's choice of formula for it: a + w (b - a) for
// |w| < 0.5, else b + (w - 1)(b - a), each with one rounding for the multiply-add. Both are exact
// in real arithmetic; picking the same one as torch keeps results equal to torch.optim's.
template <class T>
struct lerp_weight {
    T coefficient;  // w or w - 1
    bool small;

    static lerp_weight make(double w) {
        const T wt = static_cast<T>(w);
        const bool small = (wt < T(0) ? -wt : wt) < T(0.5);
        return {small ? wt : wt - T(1), small};
    }
};

template <class V>
OPTIKERN_INLINE typename V::reg lerp(typename V::reg a,
                                     typename V::reg b,
                                     const lerp_weight<typename V::value_type>& w) {
    return V::fma(V::set1(w.coefficient), V::sub(b, a), w.small ? a : b);
}

}  // namespace optikern::kernels
