// Which SIMD level runs: the best the CPU supports, lowered by the OPTIKERN_SIMD environment
// variable or by set_simd_level(). Chosen once, on first use.
#pragma once

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "optikern/config.hpp"

namespace optikern {

// Names equal the OPTIKERN_SIMD values.
enum class simd_level : int { baseline = 0, avx2 = 1, avx512 = 2 };

inline const char* simd_level_name(simd_level level) {
    switch (level) {
        case simd_level::avx512:
            return "avx512";
        case simd_level::avx2:
            return "avx2";
        default:
            return "baseline";
    }
}

// Returns false (and leaves `level` alone) for an unknown name.
inline bool parse_simd_level(const char* name, simd_level& level) {
    for (auto candidate : {simd_level::baseline, simd_level::avx2, simd_level::avx512}) {
        if (std::strcmp(name, simd_level_name(candidate)) == 0) {
            level = candidate;
            return true;
        }
    }
    return false;
}

// The best level this CPU and OS support (the builtins check the OS enabled the registers).
// The avx2 level also needs F16C (float16 conversions) and FMA (torch's fused roundings), avx512
// also BW and DQ (8-bit state's permutes and mask moves): what every CPU with AVX2, and every
// AVX-512 CPU but Xeon Phi, has.
inline simd_level detected_simd_level() {
#if OPTIKERN_X86 && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))
        return simd_level::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") &&
        __builtin_cpu_supports("fma"))
        return simd_level::avx2;
#endif
    return simd_level::baseline;
}

// Byte permutes (8-bit state's quantizer at the avx512 level: Ice Lake, Zen 4 and later).
inline bool has_avx512vbmi() {
#if OPTIKERN_X86 && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    static const bool has = __builtin_cpu_supports("avx512vbmi");
    return has;
#else
    return false;
#endif
}

// Whether 8-bit state's quantizer at the avx512 level looks codes up with byte permutes
// rather than gathers: on AMD's cores (Zen 4 and later) a two-table byte permute is one µop;
// on Intel's it is three and the gathers are faster (0.48 against 0.66 ns per value on a
// Xeon with AVX512-FP16).
inline bool prefers_byte_permutes() {
#if OPTIKERN_X86 && (defined(__GNUC__) || defined(__clang__))
    static const bool prefers = has_avx512vbmi() && !__builtin_cpu_is("intel");
    return prefers;
#else
    return false;
#endif
}

// Every level that can run here, lowest first.
inline std::vector<simd_level> available_simd_levels() {
    std::vector<simd_level> levels;
    for (int l = 0; l <= static_cast<int>(detected_simd_level()); ++l)
        levels.push_back(static_cast<simd_level>(l));
    return levels;
}

namespace detail {

inline simd_level initial_simd_level() {
    simd_level level = detected_simd_level();
    simd_level requested = level;
    const char* env = std::getenv("OPTIKERN_SIMD");
    // An unknown or too high request keeps the detected level: it can only ever lower it.
    if (env != nullptr && parse_simd_level(env, requested) && requested < level) level = requested;
    return level;
}

inline std::atomic<int>& active_level_storage() {
    static std::atomic<int> level{static_cast<int>(initial_simd_level())};
    return level;
}

}  // namespace detail

inline simd_level active_simd_level() {
    return static_cast<simd_level>(detail::active_level_storage().load(std::memory_order_relaxed));
}

// Forces a level (tests, reproducibility checks). Returns false, changing nothing, for a level
// the CPU lacks.
inline bool set_simd_level(simd_level level) {
    if (level > detected_simd_level()) return false;
    detail::active_level_storage().store(static_cast<int>(level), std::memory_order_relaxed);
    return true;
}

}  // namespace optikern
