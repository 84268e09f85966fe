// One-lane "vector" policy: the portable baseline on any architecture and the tail of every
// wider policy, so vector body and tail run the same kernel template.
#pragma once

#include <cmath>

#include "optikern/config.hpp"

namespace optikern::simd {

template <class T>
struct scalar {
    using value_type = T;
    using reg = T;
    static constexpr int width = 1;

    static OPTIKERN_INLINE reg load(const T* p) { return *p; }
    static OPTIKERN_INLINE void store(T* p, reg v) { *p = v; }
    static OPTIKERN_INLINE reg set1(T v) { return v; }
    static OPTIKERN_INLINE reg add(reg a, reg b) { return a + b; }
    static OPTIKERN_INLINE reg sub(reg a, reg b) { return a - b; }
    static OPTIKERN_INLINE reg mul(reg a, reg b) { return a * b; }
    static OPTIKERN_INLINE reg div(reg a, reg b) { return a / b; }
    // a * b + c rounded once, as torch's vectorised add(alpha), addcmul and lerp compute it.
    static OPTIKERN_INLINE reg fma(reg a, reg b, reg c) { return std::fma(a, b, c); }
    static OPTIKERN_INLINE reg sqrt(reg a) { return std::sqrt(a); }
    static OPTIKERN_INLINE reg neg(reg a) { return -a; }
    // a > b ? a : b, the semantics of x86 MAXPS, so every level treats NaN identically.
    static OPTIKERN_INLINE reg max(reg a, reg b) { return a > b ? a : b; }
    // a < b ? a : b, the semantics of x86 MINPS.
    static OPTIKERN_INLINE reg min(reg a, reg b) { return a < b ? a : b; }
    // 1, -1 or 0 (also for -0 and NaN), as torch.sign: two compares, so every level agrees.
    static OPTIKERN_INLINE reg sign(reg a) { return T(a > T(0)) - T(a < T(0)); }
    // Ordered comparisons (false where either is NaN) and a lane-wise choice on their result.
    using mask = bool;
    static OPTIKERN_INLINE mask gt(reg a, reg b) { return a > b; }
    static OPTIKERN_INLINE mask lt(reg a, reg b) { return a < b; }
    static OPTIKERN_INLINE mask eq(reg a, reg b) { return a == b; }
    static OPTIKERN_INLINE reg select(mask m, reg a, reg b) { return m ? a : b; }  // m ? a : b
};

}  // namespace optikern::simd
