// 8-bit optimizer state: each quantization block of a tensor (256 elements) is read back to
// float32 in L1, updated by the ordinary float kernel of the active SIMD level, and quantized
// again with a new scale, all in one pass over memory. A thread takes the blocks that start in
// its range, so what a block holds never depends on the thread count.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "optikern/dispatch/table.hpp"
#include "optikern/quantize.hpp"

namespace optikern {

// One state array of one tensor stored in 8 bits: a code index per element, a scale per
// quantization block, and the code map. Null codes: the state is the float array in the buffers.
struct quantized_state {
    std::uint8_t* codes = nullptr;
    float* absmax = nullptr;
    const code_map* map = nullptr;
};

template <class Kernel>
using quantized_states = std::array<quantized_state, Kernel::state_names.size()>;

// Whether the kernel's state may be stored in 8 bits (it declares which states are signed).
template <class Kernel, class = void>
struct quantizable : std::false_type {};
template <class Kernel>
struct quantizable<Kernel, std::void_t<decltype(Kernel::state_signed)>> : std::true_type {};

namespace dispatch {

struct block_codec {
    float (*quantize)(const code_map&, const float*, std::int64_t, std::uint8_t*);
    void (*dequantize)(const code_map&, const std::uint8_t*, std::int64_t, float, float*);
};

// The codec of `level`; at avx512, byte_permutes picks the quantizer (the C++ tests run both).
inline block_codec select_codec(simd_level level, bool byte_permutes = prefers_byte_permutes()) {
#if OPTIKERN_X86
    if (level == simd_level::avx512)
        return {byte_permutes && has_avx512vbmi() ? &quantize_avx512_vbmi : &quantize_avx512,
                has_avx512vbmi() ? &dequantize_avx512_vbmi : &dequantize_avx512};
    if (level == simd_level::avx2) return {&quantize_avx2, &dequantize_avx2};
#else
    (void)level;
    (void)byte_permutes;
#endif
    return {&quantize_baseline, &dequantize_baseline};
}

// The codec of the level a vector policy belongs to (the mixed pass runs per level).
template <class V>
block_codec codec_of() {
#if OPTIKERN_X86
    if constexpr (std::is_same_v<V, simd::avx512<float>>) return select_codec(simd_level::avx512);
    if constexpr (std::is_same_v<V, simd::avx2<float>>) return select_codec(simd_level::avx2);
#endif
    return select_codec(simd_level::baseline);
}

// Local float32 arrays a pass needs for reading 8-bit state back: one per state, or none.
template <class Kernel>
inline constexpr std::size_t quantized_state_slots =
    quantizable<Kernel>::value ? Kernel::state_names.size() : 0;

template <class States>
bool has_codes(const States& states) {
    return std::any_of(states.begin(), states.end(),
                       [](const quantized_state& k) { return k.codes != nullptr; });
}

// A position rounded up to the next quantization block: a thread whose range starts in a
// block leaves that block to the thread before it.
inline std::int64_t round_up_to_block(std::int64_t i) {
    return (i + quantization_block - 1) / quantization_block * quantization_block;
}

// Elements [at, at + n) of an 8-bit state (at on a block start) read back into values.
inline void read_back(const block_codec& codec,
                      const quantized_state& q,
                      std::int64_t at,
                      std::int64_t n,
                      float* values) {
    for (std::int64_t i = 0; i < n; i += quantization_block)
        codec.dequantize(*q.map, q.codes + at + i, std::min(quantization_block, n - i),
                         q.absmax[(at + i) / quantization_block], values + i);
}

// The new values of elements [at, at + n) quantized into the state, with new scales.
inline void store_quantized(const block_codec& codec,
                            const quantized_state& q,
                            std::int64_t at,
                            std::int64_t n,
                            const float* values) {
    for (std::int64_t i = 0; i < n; i += quantization_block)
        q.absmax[(at + i) / quantization_block] = codec.quantize(
            *q.map, values + i, std::min(quantization_block, n - i), q.codes + at + i);
}

// Elements [at, at + n) of a tensor (at on a quantization block) with its 8-bit states read
// back into float32 copies: values[k] for state k, each holding n elements.
template <class Kernel, std::size_t Capacity>
buffers_t<Kernel, float> read_back_block(const block_codec& codec,
                                         const buffers_t<Kernel, float>& tensor,
                                         const quantized_states<Kernel>& q,
                                         std::int64_t at,
                                         std::int64_t n,
                                         float (*values)[Capacity]) {
    auto block = block_of<Kernel>(tensor, at, tensor.grad + at, n);
    for (std::size_t k = 0; k < q.size(); ++k) {
        if (q[k].codes == nullptr) continue;
        read_back(codec, q[k], at, n, values[k]);
        block.*(Kernel::template state<float>[k]) = values[k];
    }
    return block;
}

// The new values of a block's 8-bit states (read_back_block's copies) quantized into them.
template <class Kernel, std::size_t Capacity>
void store_block(const block_codec& codec,
                 const quantized_states<Kernel>& q,
                 std::int64_t at,
                 std::int64_t n,
                 float (*values)[Capacity]) {
    for (std::size_t k = 0; k < q.size(); ++k)
        if (q[k].codes != nullptr) store_quantized(codec, q[k], at, n, values[k]);
}

// The quantization blocks of a tensor that start in [begin, end) (a thread's range: blocks
// never straddle threads), each read back, passed to update(block, n) and quantized again.
template <class Kernel, class Update>
void update_quantized_blocks(const block_codec& codec,
                             const buffers_t<Kernel, float>& tensor,
                             const quantized_states<Kernel>& q,
                             std::int64_t begin,
                             std::int64_t end,
                             Update&& update) {
    alignas(64) float values[Kernel::state_names.size()][quantization_block];
    end = std::min(round_up_to_block(end), tensor.size);
    for (std::int64_t at = round_up_to_block(begin); at < end; at += quantization_block) {
        const std::int64_t n = std::min(quantization_block, tensor.size - at);
        update(read_back_block<Kernel>(codec, tensor, q, at, n, values), n);
        store_block<Kernel>(codec, q, at, n, values);
    }
}

template <class Kernel>
void run_quantized(const buffers_t<Kernel, float>* tensors,
                   const quantized_states<Kernel>* states,
                   std::size_t count,
                   const scalars_t<Kernel, float>& s) {
    const range_fn<Kernel, float> fn = select<Kernel, float>(active_simd_level());
    const block_codec codec = select_codec(active_simd_level());
    const tensor_scalars<Kernel, float> scalars_of(tensors, count, s);
    for_each_range(tensors, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        if (!has_codes(states[t])) {
            fn(tensors[t], scalars_of(t), begin, end);
            return;
        }
        update_quantized_blocks<Kernel>(codec, tensors[t], states[t], begin, end,
                                        [&](const buffers_t<Kernel, float>& block, std::int64_t n) {
                                            fn(block, scalars_of(t), 0, n);
                                        });
    });
}

// A kernel with a norm phase (LAMB) over 8-bit state: run_normed's two phases on the state
// read back. The norm phase reads back each kernels::block_size block (whole quantization
// blocks) and runs norm_at on the copy, so the sums are the float32 path's; the update phase
// reads each quantization block back again, remakes its new moments with norm_at (the same
// values), updates the params from them and quantizes them: the float32 step of the state
// read back, the moments quantized once.
template <class Kernel>
void run_quantized_normed(const buffers_t<Kernel, float>* tensors,
                          const quantized_states<Kernel>* states,
                          std::size_t count,
                          const scalars_t<Kernel, float>& s) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    constexpr auto norm_block = static_cast<std::size_t>(kernels::block_size);
    static_assert(kernels::block_size % quantization_block == 0,
                  "norm blocks hold whole quantization blocks");
    const simd_level level = active_simd_level();
    const norm_fn<Kernel, float> norm = select_norm<Kernel, float>(level);
    const range_fn<Kernel, float> fn = select<Kernel, float>(level);
    const block_codec codec = select_codec(level);
    std::vector<double> partial(
        static_cast<std::size_t>(count_blocks(tensors, count, kernels::block_size)) *
        Kernel::norms);
    for_each_block(
        tensors, count, kernels::block_size,
        [&](std::size_t t, std::int64_t begin, std::int64_t end, std::int64_t b) {
            double* sums = partial.data() + static_cast<std::size_t>(b) * Kernel::norms;
            if (!has_codes(states[t])) {
                norm(tensors[t], s, begin, end, sums);
                return;
            }
            alignas(64) float values[n_state][norm_block];
            norm(read_back_block<Kernel>(codec, tensors[t], states[t], begin, end - begin, values),
                 s, 0, end - begin, sums);
        });
    const std::vector<scalars_t<Kernel, float>> per_tensor =
        finish_norms<Kernel, float>(tensors, count, s, partial);
    for_each_range(tensors, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        if (!has_codes(states[t])) {
            fn(tensors[t], per_tensor[t], begin, end);
            return;
        }
        update_quantized_blocks<Kernel>(codec, tensors[t], states[t], begin, end,
                                        [&](const buffers_t<Kernel, float>& block, std::int64_t n) {
                                            std::array<double, Kernel::norms> unused{};
                                            norm(block, s, 0, n, unused.data());
                                            fn(block, per_tensor[t], 0, n);
                                        });
    });
}

}  // namespace dispatch

// One step over tensors whose state is partly or wholly 8-bit (states[t][k].codes set): float32
// params and arithmetic, the state read back and stored again per block in the same pass.
template <class Kernel>
void update_quantized(const dispatch::buffers_t<Kernel, float>* tensors,
                      const quantized_states<Kernel>* states,
                      std::size_t count,
                      const typename Kernel::options& options,
                      const step_context& context) {
    static_assert(quantizable<Kernel>::value, "this optimizer's state has no 8-bit form");
    const auto scalars = dispatch::scalars_t<Kernel, float>::make(options, context);
    if constexpr (dispatch::norm_count<Kernel>::value > 0)
        dispatch::run_quantized_normed<Kernel>(tensors, states, count, scalars);
    else
        dispatch::run_quantized<Kernel>(tensors, states, count, scalars);
}

// Quantizes `size` values into codes (size bytes) and absmax (quantization_blocks(size)).
inline void quantize_blockwise(const float* values,
                               std::int64_t size,
                               const code_map& map,
                               std::uint8_t* codes,
                               float* absmax) {
    const auto codec = dispatch::select_codec(active_simd_level());
    for (std::int64_t at = 0; at < size; at += quantization_block)
        absmax[at / quantization_block] =
            codec.quantize(map, values + at, std::min(quantization_block, size - at), codes + at);
}

// The float32 values that codes and absmax stand for.
inline void dequantize_blockwise(const std::uint8_t* codes,
                                 const float* absmax,
                                 std::int64_t size,
                                 const code_map& map,
                                 float* values) {
    const auto codec = dispatch::select_codec(active_simd_level());
    for (std::int64_t at = 0; at < size; at += quantization_block)
        codec.dequantize(map, codes + at, std::min(quantization_block, size - at),
                         absmax[at / quantization_block], values + at);
}

}  // namespace optikern
