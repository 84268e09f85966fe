// 8-bit optimizer state: each quantization block of a tensor (256 elements) is read back to
// float32 in L1, updated by the ordinary float kernel of the active SIMD level, and quantized
// again with a new scale, all in one pass over memory. A thread takes the blocks that start in
// its range, so what a block holds never depends on the thread count.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

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

inline block_codec select_codec(simd_level level) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return {&quantize_avx512, &dequantize_avx512};
    if (level == simd_level::avx2) return {&quantize_avx2, &dequantize_avx2};
#else
    (void)level;
#endif
    return {&quantize_baseline, &dequantize_baseline};
}

template <class Kernel>
void run_quantized(const buffers_t<Kernel, float>* tensors,
                   const quantized_states<Kernel>* states,
                   std::size_t count,
                   const scalars_t<Kernel, float>& s) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    const range_fn<Kernel, float> fn = select<Kernel, float>(active_simd_level());
    const block_codec codec = select_codec(active_simd_level());
    for_each_range(tensors, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        const quantized_states<Kernel>& q = states[t];
        if (std::none_of(q.begin(), q.end(), [](const quantized_state& k) { return k.codes; })) {
            fn(tensors[t], s, begin, end);
            return;
        }
        alignas(64) float values[n_state][quantization_block];
        const std::int64_t size = tensors[t].size;
        const std::int64_t first =
            (begin + quantization_block - 1) / quantization_block * quantization_block;
        for (std::int64_t at = first; at < end; at += quantization_block) {
            const std::int64_t n = std::min(quantization_block, size - at);
            const std::int64_t b = at / quantization_block;
            auto block = block_of<Kernel>(tensors[t], at, tensors[t].grad + at, n);
            for (std::size_t k = 0; k < n_state; ++k) {
                if (q[k].codes == nullptr) continue;
                codec.dequantize(*q[k].map, q[k].codes + at, n, q[k].absmax[b], values[k]);
                block.*(Kernel::template state<float>[k]) = values[k];
            }
            fn(block, s, 0, n);
            for (std::size_t k = 0; k < n_state; ++k)
                if (q[k].codes != nullptr)
                    q[k].absmax[b] = codec.quantize(*q[k].map, values[k], n, q[k].codes + at);
        }
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
    static_assert(
        !dispatch::has_scalar_state<Kernel>::value && dispatch::norm_count<Kernel>::value == 0,
        "8-bit state serves elementwise kernels without per-tensor scalars");
    dispatch::run_quantized<Kernel>(tensors, states, count,
                                    dispatch::scalars_t<Kernel, float>::make(options, context));
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
