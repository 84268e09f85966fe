// Mixed precision: float16/bfloat16 params with float32 master weights and state.
//
// Each thread walks its elements in blocks that stay in L1: the block's gradients are
// converted to float (and divided by the loss scale), the ordinary float kernel updates the
// master weights and state, and the block's low-precision params are rewritten from the
// masters by round-to-nearest-even or stochastic rounding. Where a 16-bit param no longer
// holds a rounding of its master (it was changed outside the optimizer), the master first
// restarts from the param, so the param the user sees always wins. One pass over memory, the same
// kernels, and results that do not depend on the SIMD level or the thread count. The whole
// block runs at one SIMD level (conversions, check, kernel and rounding, lowp.hpp's vector
// functions), compiled per level like the plain kernels.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "optikern/dispatch/quantized.hpp"
#include "optikern/dispatch/table.hpp"
#include "optikern/lowp.hpp"

namespace optikern {

struct mixed_options {
    double grad_scale = 1.0;  // loss scale: gradients are divided by it
    rounding mode = rounding::nearest_even;
    std::uint64_t seed = 0;    // stochastic rounding: the random stream is a function of
    std::uint64_t stream = 0;  // (seed, stream, tensor, element); change stream every step
    // Optimizer objects set `stream` to the step number unless told it is given.
    bool stream_given = false;
};

namespace dispatch {

inline constexpr std::int64_t mixed_block = 1024;

// Elements [begin, end) of one tensor, block by block: gradients in, the float kernel, params out.
// `quantized`: the tensor's 8-bit state, or null; then [begin, end) starts on a quantization
// block and ends on one or at the tensor's end, and each L1 block reads the state back and
// quantizes it again around the update.
template <class Kernel, class V, class P, class G>
OPTIKERN_INLINE void mixed_range(const buffers_t<Kernel, float>& master,
                                 const lowp_tensor<P, G>& lowp,
                                 std::uint64_t tensor,
                                 std::int64_t begin,
                                 std::int64_t end,
                                 const scalars_t<Kernel, float>& s,
                                 const mixed_options& m,
                                 const quantized_states<Kernel>* quantized) {
    const float inverse_scale = static_cast<float>(1.0 / m.grad_scale);
    // Without a loss scale a float32 gradient is read where it is, and a 16-bit one is
    // converted without the multiply (which would quiet a signalling NaN).
    const bool unscale = m.grad_scale != 1.0;
    const bool stochastic = m.mode == rounding::stochastic;
    const std::uint64_t random = lowp::random_base(m.seed, m.stream, tensor);
    constexpr std::size_t n_state = Kernel::state_names.size();
    float grad[mixed_block];
    float own_master[mixed_block];
    alignas(64) float state_values[std::max<std::size_t>(quantized_state_slots<Kernel>, 1)]
                                  [mixed_block];
    const block_codec codec = codec_of<V>();
    for (std::int64_t at = begin; at < end; at += mixed_block) {
        const std::int64_t n = std::min(mixed_block, end - at);
        const G* raw = lowp.grad + at;
        const bool widen_grad = unscale || !std::is_same_v<G, float>;
        const float* g = widen_grad ? grad : reinterpret_cast<const float*>(raw);
        P* out = lowp.param + at;
        auto block = block_of<Kernel>(master, at, g, n);
        const bool own = master.param == nullptr;  // no master copy: update the 16-bit values
        if (own) block.param = own_master;
        if constexpr (quantized_state_slots<Kernel> > 0) {
            if (quantized != nullptr)
                for (std::size_t k = 0; k < n_state; ++k)
                    if (const quantized_state& q = (*quantized)[k]; q.codes != nullptr) {
                        read_back(codec, q, at, n, state_values[k]);
                        block.*(Kernel::template state<float>[k]) = state_values[k];
                    }
        }
        // Whole vectors in one loop: conversions, check, update and rounding of a vector run
        // together, so they overlap the update's divisions and square roots (separate passes
        // over the block cost ~1.8x the float32 step on a Zen 4). The random stream's key must
        // not change inside the loop (at most once in 2^32 elements: then the passes below).
        std::int64_t fused = 0;
        if constexpr (V::width > 1) {
            const auto first = static_cast<std::uint64_t>(at);
            const std::int64_t vectors = n / V::width * V::width;
            if (!stochastic || first >> 32 == (first + static_cast<std::uint64_t>(n)) >> 32)
                fused = vectors;
            lowp::random_lanes<V> lanes(random, first);
            for (std::int64_t j = 0; j < fused; j += V::width) {
                if (unscale)
                    V::store(grad + j, V::mul(lowp::load<V>(raw + j), V::set1(inverse_scale)));
                else if constexpr (!std::is_same_v<G, float>)
                    V::store(grad + j, lowp::load<V>(raw + j));
                if (own)
                    V::store(own_master + j, lowp::load<V>(out + j));
                else
                    lowp::restart_stale<V>(block.param + j, out + j, V::width, stochastic);
                Kernel::template at<V>(block, s, j);
                lowp::store_rounded<V>(block.param + j, out + j, stochastic, lanes);
            }
        }
        // The rest (a tail shorter than a vector, or all of a block at the scalar level) in
        // passes over the block.
        const std::int64_t rest = n - fused;
        if (rest > 0) {
            if (unscale)
                lowp::unscale<V>(raw + fused, grad + fused, rest, inverse_scale);
            else if constexpr (!std::is_same_v<G, float>)
                lowp::widen<V>(raw + fused, grad + fused, rest);
            if (own)
                lowp::widen<V>(out + fused, own_master + fused, rest);
            else if (stochastic || !lowp::all_round_to<V>(block.param + fused, out + fused, rest))
                // The param the user sees wins over a master it no longer rounds from. (The
                // branch-free test passes whenever nothing was edited under round-to-nearest.)
                lowp::restart_stale<V>(block.param + fused, out + fused, rest, stochastic);
            run_range<Kernel, V>(block, s, fused, n);
            if (stochastic)
                lowp::round_stochastic<V>(block.param + fused, out + fused, rest, random,
                                          static_cast<std::uint64_t>(at + fused));
            else
                lowp::round_nearest<V>(block.param + fused, out + fused, rest);
        }
        if constexpr (quantized_state_slots<Kernel> > 0) {
            if (quantized != nullptr)
                for (std::size_t k = 0; k < n_state; ++k)
                    if (const quantized_state& q = (*quantized)[k]; q.codes != nullptr)
                        store_quantized(codec, q, at, n, state_values[k]);
        }
    }
}

template <class Kernel, class P, class G>
using mixed_range_fn = void (*)(const buffers_t<Kernel, float>&,
                                const lowp_tensor<P, G>&,
                                std::uint64_t,
                                std::int64_t,
                                std::int64_t,
                                const scalars_t<Kernel, float>&,
                                const mixed_options&,
                                const quantized_states<Kernel>*);

template <class Kernel, class P, class G>
void mixed_range_baseline(const buffers_t<Kernel, float>& master,
                          const lowp_tensor<P, G>& lowp,
                          std::uint64_t tensor,
                          std::int64_t begin,
                          std::int64_t end,
                          const scalars_t<Kernel, float>& s,
                          const mixed_options& m,
                          const quantized_states<Kernel>* q) {
    mixed_range<Kernel, simd::scalar<float>>(master, lowp, tensor, begin, end, s, m, q);
}

#if OPTIKERN_X86
template <class Kernel, class P, class G>
OPTIKERN_TARGET("avx2,f16c,fma")
OPTIKERN_FLATTEN void mixed_range_avx2(const buffers_t<Kernel, float>& master,
                                       const lowp_tensor<P, G>& lowp,
                                       std::uint64_t tensor,
                                       std::int64_t begin,
                                       std::int64_t end,
                                       const scalars_t<Kernel, float>& s,
                                       const mixed_options& m,
                                       const quantized_states<Kernel>* q) {
    mixed_range<Kernel, simd::avx2<float>>(master, lowp, tensor, begin, end, s, m, q);
}

template <class Kernel, class P, class G>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN void mixed_range_avx512(const buffers_t<Kernel, float>& master,
                                         const lowp_tensor<P, G>& lowp,
                                         std::uint64_t tensor,
                                         std::int64_t begin,
                                         std::int64_t end,
                                         const scalars_t<Kernel, float>& s,
                                         const mixed_options& m,
                                         const quantized_states<Kernel>* q) {
    mixed_range<Kernel, simd::avx512<float>>(master, lowp, tensor, begin, end, s, m, q);
}
#endif

template <class Kernel, class P, class G>
mixed_range_fn<Kernel, P, G> select_mixed_range(simd_level level) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return &mixed_range_avx512<Kernel, P, G>;
    if (level == simd_level::avx2) return &mixed_range_avx2<Kernel, P, G>;
#else
    (void)level;
#endif
    return &mixed_range_baseline<Kernel, P, G>;
}

// Kernels with a phase over whole tensors (per-tensor norms, factored statistics) take 16-bit
// params in three passes around their float32 update: `prepare` widens (and unscales) the
// gradients into float32 `grads` (null: float32 gradients read where they are) and restarts
// stale masters from their params (`own_master`: the master is scratch, filled from them);
// `finish` rounds the params from the updated masters.
template <class V, class P, class G>
OPTIKERN_INLINE void whole_tensor_pass(bool finish,
                                       float* master,
                                       bool own_master,
                                       const lowp_tensor<P, G>& lowp,
                                       float* grads,
                                       std::uint64_t tensor,
                                       std::int64_t begin,
                                       std::int64_t end,
                                       const mixed_options& m) {
    const bool stochastic = m.mode == rounding::stochastic;
    const std::uint64_t random = lowp::random_base(m.seed, m.stream, tensor);
    const float inverse_scale = static_cast<float>(1.0 / m.grad_scale);
    for (std::int64_t at = begin; at < end; at += mixed_block) {
        const std::int64_t n = std::min(mixed_block, end - at);
        float* x = master + at;
        P* param = lowp.param + at;
        if (finish) {
            if (stochastic)
                lowp::round_stochastic<V>(x, param, n, random, static_cast<std::uint64_t>(at));
            else
                lowp::round_nearest<V>(x, param, n);
            continue;
        }
        if (grads != nullptr) {
            if (m.grad_scale != 1.0)
                lowp::unscale<V>(lowp.grad + at, grads + at, n, inverse_scale);
            else if constexpr (!std::is_same_v<G, float>)
                lowp::widen<V>(lowp.grad + at, grads + at, n);
        }
        if (own_master)
            lowp::widen<V>(param, x, n);
        else if (stochastic || !lowp::all_round_to<V>(x, param, n))
            lowp::restart_stale<V>(x, param, n, stochastic);
    }
}

template <class P, class G>
using whole_tensor_pass_fn = void (*)(bool,
                                      float*,
                                      bool,
                                      const lowp_tensor<P, G>&,
                                      float*,
                                      std::uint64_t,
                                      std::int64_t,
                                      std::int64_t,
                                      const mixed_options&);

template <class P, class G>
void whole_tensor_pass_baseline(bool finish,
                                float* master,
                                bool own_master,
                                const lowp_tensor<P, G>& lowp,
                                float* grads,
                                std::uint64_t tensor,
                                std::int64_t begin,
                                std::int64_t end,
                                const mixed_options& m) {
    whole_tensor_pass<simd::scalar<float>>(finish, master, own_master, lowp, grads, tensor, begin,
                                           end, m);
}

#if OPTIKERN_X86
template <class P, class G>
OPTIKERN_TARGET("avx2,f16c,fma")
OPTIKERN_FLATTEN void whole_tensor_pass_avx2(bool finish,
                                             float* master,
                                             bool own_master,
                                             const lowp_tensor<P, G>& lowp,
                                             float* grads,
                                             std::uint64_t tensor,
                                             std::int64_t begin,
                                             std::int64_t end,
                                             const mixed_options& m) {
    whole_tensor_pass<simd::avx2<float>>(finish, master, own_master, lowp, grads, tensor, begin,
                                         end, m);
}

template <class P, class G>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN void whole_tensor_pass_avx512(bool finish,
                                               float* master,
                                               bool own_master,
                                               const lowp_tensor<P, G>& lowp,
                                               float* grads,
                                               std::uint64_t tensor,
                                               std::int64_t begin,
                                               std::int64_t end,
                                               const mixed_options& m) {
    whole_tensor_pass<simd::avx512<float>>(finish, master, own_master, lowp, grads, tensor, begin,
                                           end, m);
}
#endif

template <class P, class G>
whole_tensor_pass_fn<P, G> select_whole_tensor_pass(simd_level level) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return &whole_tensor_pass_avx512<P, G>;
    if (level == simd_level::avx2) return &whole_tensor_pass_avx2<P, G>;
#else
    (void)level;
#endif
    return &whole_tensor_pass_baseline<P, G>;
}

// A 16-bit step of a kernel with a whole-tensor phase: the float32 update (norms and all) on
// masters and float32 gradients made by a first pass, then the params rounded (see
// whole_tensor_pass). Costs a float32 copy of the gradients (unless they are float32 and
// unscaled) and, without master weights, of the params.
template <class Kernel, class P, class G>
void run_mixed_whole(const buffers_t<Kernel, float>* masters,
                     const lowp_tensor<P, G>* lowp,
                     std::size_t count,
                     const typename Kernel::options& options,
                     const step_context& context,
                     const mixed_options& m,
                     const quantized_states<Kernel>* quantized) {
    const bool widen_grads = !std::is_same_v<G, float> || m.grad_scale != 1.0;
    std::vector<buffers_t<Kernel, float>> work(masters, masters + count);
    std::vector<std::vector<float>> scratch_grads(count), scratch_masters(count);
    for (std::size_t t = 0; t < count; ++t) {
        const auto size = static_cast<std::size_t>(work[t].size);
        if (work[t].param == nullptr) {
            scratch_masters[t].resize(size);
            work[t].param = scratch_masters[t].data();
        }
        if (widen_grads) {
            scratch_grads[t].resize(size);
            work[t].grad = scratch_grads[t].data();
        } else {
            work[t].grad = reinterpret_cast<const float*>(lowp[t].grad);
        }
    }
    const auto pass = select_whole_tensor_pass<P, G>(active_simd_level());
    const auto run_pass = [&](bool finish) {
        for_each_range(work.data(), count,
                       [&](std::size_t t, std::int64_t begin, std::int64_t end) {
                           pass(finish, work[t].param, masters[t].param == nullptr, lowp[t],
                                widen_grads ? scratch_grads[t].data() : nullptr, t, begin, end, m);
                       });
    };
    run_pass(false);
    if constexpr (quantizable<Kernel>::value) {
        if (quantized != nullptr) {
            update_quantized<Kernel>(work.data(), quantized, count, options, context);
            run_pass(true);
            return;
        }
    }
    update<Kernel, float>(work.data(), count, options, context);
    run_pass(true);
}

template <class Kernel, class P, class G>
void run_mixed(const buffers_t<Kernel, float>* masters,
               const lowp_tensor<P, G>* lowp,
               std::size_t count,
               const scalars_t<Kernel, float>& s,
               const mixed_options& m,
               const quantized_states<Kernel>* quantized) {
    const auto fn = select_mixed_range<Kernel, P, G>(active_simd_level());
    const tensor_scalars<Kernel, float> scalars_of(masters, count, s);
    for_each_range(masters, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        const quantized_states<Kernel>* q = quantized != nullptr ? quantized + t : nullptr;
        if (q != nullptr && !has_codes(*q)) q = nullptr;
        if (q != nullptr) {  // whole quantization blocks: the thread whose range starts one
            begin = std::min(round_up_to_block(begin), masters[t].size);
            end = std::min(round_up_to_block(end), masters[t].size);
        }
        if (begin < end) fn(masters[t], lowp[t], t, begin, end, scalars_of(t), m, q);
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
                  const mixed_options& mixed,
                  const quantized_states<Kernel>* quantized = nullptr) {
    if constexpr (dispatch::norm_count<Kernel>::value > 0 || dispatch::is_factored<Kernel>::value)
        dispatch::run_mixed_whole<Kernel>(masters, lowp, count, options, context, mixed, quantized);
    else
        dispatch::run_mixed<Kernel>(masters, lowp, count,
                                    dispatch::scalars_t<Kernel, float>::make(options, context),
                                    mixed, quantized);
}

}  // namespace optikern
