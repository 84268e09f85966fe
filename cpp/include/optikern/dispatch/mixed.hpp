// Mixed precision: float16/bfloat16 params with float32 master weights and state.
//
// Each thread walks its elements in blocks that stay in L1: the block's gradients are
// converted to float (and divided by the loss scale), the ordinary float kernel updates the
// master weights and state, and the block's low-precision params are rewritten from the
// masters by round-to-nearest-even or stochastic rounding. Where a 16-bit param no longer
// holds a rounding of its master (it was changed outside the optimizer), the master first
// restarts from the param, so the param the user sees always wins. One pass over memory, the same
// kernels, and results that do not depend on the SIMD level or the thread count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "optikern/dispatch/table.hpp"
#include "optikern/lowp.hpp"

namespace optikern {

struct mixed_options {
    double grad_scale = 1.0;  // loss scale: gradients are divided by it
    rounding mode = rounding::nearest_even;
    std::uint64_t seed = 0;    // stochastic rounding: the random stream is a function of
    std::uint64_t stream = 0;  // (seed, stream, tensor, element); change stream every step
};

namespace dispatch {

inline constexpr std::int64_t mixed_block = 1024;

template <class P>
auto select_all_round_to(simd_level level) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return &all_round_to_avx512<P>;
    if (level == simd_level::avx2) return &all_round_to_avx2<P>;
#else
    (void)level;
#endif
    return &all_round_to_baseline<P>;
}

template <class Kernel, class P, class G>
void run_mixed(const buffers_t<Kernel, float>* masters,
               const lowp_tensor<P, G>* lowp,
               std::size_t count,
               const scalars_t<Kernel, float>& s,
               const mixed_options& m) {
    const range_fn<Kernel, float> fn = select<Kernel, float>(active_simd_level());
    const auto all_round_to = select_all_round_to<P>(active_simd_level());
    const float inv_scale = static_cast<float>(1.0 / m.grad_scale);
    const bool unscale = m.grad_scale != 1.0;
    const bool stochastic = m.mode == rounding::stochastic;
    const tensor_scalars<Kernel, float> scalars_of(masters, count, s);
    for_each_range(masters, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        float grad[mixed_block];
        float own_master[mixed_block];
        for (std::int64_t at = begin; at < end; at += mixed_block) {
            const std::int64_t n = std::min(mixed_block, end - at);
            const G* raw = lowp[t].grad + at;
            for (std::int64_t i = 0; i < n; ++i) {
                const float g = lowp::to_float(raw[i]);
                grad[i] = unscale ? g * inv_scale : g;
            }
            P* out = lowp[t].param + at;
            auto block = block_of<Kernel>(masters[t], at, grad, n);
            if (masters[t].param == nullptr) {  // no master copy: update the 16-bit values
                for (std::int64_t i = 0; i < n; ++i) own_master[i] = lowp::to_float(out[i]);
                block.param = own_master;
            } else if (!all_round_to(block.param, out, n)) {
                // The param the user sees wins over a master it no longer rounds from. (The
                // test above, one branch-free pass, passes whenever nothing was edited under
                // round-to-nearest.)
                for (std::int64_t i = 0; i < n; ++i)
                    if (!lowp::is_rounding_of(out[i], block.param[i], stochastic))
                        block.param[i] = lowp::to_float(out[i]);
            }
            fn(block, scalars_of(t), 0, n);
            const float* master = block.param;
            if (stochastic) {
                for (std::int64_t i = 0; i < n; ++i)
                    out[i] = lowp::round_stochastic<P>(
                        master[i],
                        lowp::random_bits(m.seed, m.stream, t, static_cast<std::uint64_t>(at + i)));
            } else {
                for (std::int64_t i = 0; i < n; ++i) out[i] = lowp::round_nearest<P>(master[i]);
            }
        }
    });
}

}  // namespace dispatch

// One step for low-precision params: `masters` are the float32 master weights (their grad
// field is unused) with float32 state; `lowp` the params rewritten in the same pass and the
// raw gradients. A null master param means no master copy: the update starts from the 16-bit
// params themselves (pure 16-bit training, where stochastic rounding keeps updates smaller
// than the 16-bit spacing from being lost).
template <class Kernel, class P, class G>
void update_mixed(const dispatch::buffers_t<Kernel, float>* masters,
                  const lowp_tensor<P, G>* lowp,
                  std::size_t count,
                  const typename Kernel::options& options,
                  const step_context& context,
                  const mixed_options& mixed) {
    dispatch::run_mixed<Kernel>(masters, lowp, count,
                                dispatch::scalars_t<Kernel, float>::make(options, context), mixed);
}

}  // namespace optikern
