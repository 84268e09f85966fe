// Blockwise 8-bit state (Dettmers et al., "8-bit Optimizers via Block-wise Quantization", ICLR
// 2022): a state array is stored as one byte per element, an index into a sorted map of 256
// float32 codes in [-1, 1], plus one float32 scale (the block's largest magnitude) per block of
// 256 elements. Element i of block b reads back as code[q[i]] * absmax[b].
//
// Quantizing picks the nearest code to v / absmax (ties to the lower code), the rule
// bitsandbytes' quantizers approximate (its CPU search strays a few codes where codes are dense
// near 0); the codes, scales and maps are bitsandbytes' own, so a state moves between the two.
// The search is one table lookup: the value's float bits select a bucket of the range holding
// at most one decision threshold, and the bucket's entry gives the codes below it and where in
// the bucket its threshold lies, so one integer comparison gives the code. The scalar code
// here is the definition; dispatch/targets.hpp has it at AVX2 and AVX-512 width (gathers), and,
// from byte_search's tables, with byte permutes (AVX-512 VBMI): the same bytes on every level.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "optikern/config.hpp"
#include "optikern/lowp.hpp"

namespace optikern {

// Elements per quantization block (one float32 absmax each), bitsandbytes' block size.
inline constexpr std::int64_t quantization_block = 256;

// Blocks holding `size` elements.
inline std::int64_t quantization_blocks(std::int64_t size) {
    return (size + quantization_block - 1) / quantization_block;
}

class code_map {
public:
    static constexpr int size = 256;

    // A map from 256 float32 codes, sorted ascending, finite, within [-1, 1] and distinct.
    // Throws std::invalid_argument otherwise, or if two decision thresholds lie closer than
    // the finest lookup table resolves (never for the dynamic maps).
    explicit code_map(const float* codes) {
        for (int i = 0; i < size; ++i) {
            if (!(std::fabs(codes[i]) <= 1.0f))
                throw std::invalid_argument("qmap: expected codes in [-1, 1]");
            if (i > 0 && !(codes[i] > codes[i - 1]))
                throw std::invalid_argument("qmap: expected 256 distinct codes in ascending order");
            code_[static_cast<std::size_t>(i)] = codes[i];
            low_halves_[static_cast<std::size_t>(i)] =
                static_cast<std::uint16_t>(lowp::bits_of(codes[i]) & 0xFFFFu);
            high_halves_[static_cast<std::size_t>(i)] =
                static_cast<std::uint16_t>(lowp::bits_of(codes[i]) >> 16);
            for (std::size_t k = 0; k < 4; ++k)
                code_bytes_[k][static_cast<std::size_t>(i)] =
                    static_cast<std::uint8_t>(lowp::bits_of(codes[i]) >> (8 * k));
        }
        for (int j = 0; j + 1 < size; ++j) threshold_[static_cast<std::size_t>(j)] = first_above(j);
        build_table();
    }

    // bitsandbytes' create_dynamic_map(signed) bit for bit: 7 decades 10^-6 .. 1, each split
    // linearly (torch.linspace(0.1, 1) in float32, which rounds with fused multiply-adds) into
    // 2^i (signed, both signs) or 2^(i+1) (unsigned) codes at the interval midpoints, plus 0 and 1.
    static const code_map& dynamic(bool is_signed) {
        static const code_map signed_map(dynamic_codes(true).data());
        static const code_map unsigned_map(dynamic_codes(false).data());
        return is_signed ? signed_map : unsigned_map;
    }

    static std::array<float, size> dynamic_codes(bool is_signed) {
        std::vector<float> data;
        for (int decade = 0; decade < 7; ++decade) {
            const int points = (is_signed ? (1 << decade) : (2 << decade)) + 1;
            const float step = (1.0f - 0.1f) / static_cast<float>(points - 1);
            std::vector<float> edge(static_cast<std::size_t>(points));
            for (int j = 0; j < points; ++j)
                edge[static_cast<std::size_t>(j)] =
                    j < points / 2 ? std::fma(step, static_cast<float>(j), 0.1f)
                                   : std::fma(-step, static_cast<float>(points - 1 - j), 1.0f);
            const auto scale = static_cast<float>(std::pow(10.0, decade - 6));
            for (std::size_t j = 0; j + 1 < edge.size(); ++j) {
                const float code = scale * ((edge[j] + edge[j + 1]) / 2.0f);
                data.push_back(code);
                if (is_signed) data.push_back(-code);
            }
        }
        data.push_back(0.0f);
        data.push_back(1.0f);
        std::sort(data.begin(), data.end());
        std::array<float, size> out{};
        std::copy(data.begin(), data.end(), out.begin());
        return out;
    }

    const float* codes() const { return code_.data(); }

    // What a vectorised search needs (dispatch/targets.hpp): index_of spelled out.
    struct lookup {
        const float* codes;
        const std::uint16_t* low_halves;   // the codes' low and high 16 bits: 256-entry tables
        const std::uint16_t* high_halves;  // that 16-bit permutes read without gathers
        const std::array<std::uint8_t, size>* bytes;  // bytes 0..3 of the codes: 4 tables
        const std::uint32_t* table;  // per bucket: codes below it | threshold offset << 8
        std::uint32_t floor_bits;
        int shift;
        std::int32_t first_key;
        std::uint8_t zero_index;
    };
    lookup tables() const {
        return {code_.data(),
                low_halves_.data(),
                high_halves_.data(),
                code_bytes_.data(),
                table_.data(),
                floor_bits_,
                shift_,
                first_key_,
                zero_index_};
    }

    // The same search laid out for byte permutes (dispatch/targets.hpp), where the map allows:
    // buckets at a resolution per binade of |x| (fine where thresholds are dense), at most one
    // threshold in each, 256 per sign (512 if no code is negative). The magnitude's bits above
    // the floor pick binade e = above >> 23 and, with its mantissa m = above & 0x7FFFFF, bucket
    //     key = (binade[e] >> 8) + (m >> (binade[e] & 31)),   plus 256 if x < 0,
    // then index = base[key] + ((m >= threshold[key]) != (x < 0)) in 8-bit arithmetic. The
    // threshold is the mantissa of the bucket's one, 2^23 if none; for x < 0, where indices fall
    // as magnitudes grow, it is that mantissa + 1 and base is one less than at the bucket's
    // smallest magnitude.
    struct byte_search {
        alignas(64) std::array<std::uint32_t, 32> binade;  // first bucket << 8 | shift
        alignas(64) std::array<std::uint8_t, 512> base;    // per bucket
        alignas(64) std::array<std::array<std::uint8_t, 512>, 3> threshold;  // bytes 0, 1, 2
    };
    const byte_search* byte_tables() const { return has_byte_search_ ? &byte_search_ : nullptr; }

    bool operator==(const code_map& o) const { return code_ == o.code_; }

    // The index of the code nearest to x (ties to the lower code).
    OPTIKERN_INLINE std::uint8_t index_of(float x) const {
        x = std::min(std::max(x, code_[0]), code_[size - 1]);
        const position at = position_of(x);
        const std::uint32_t entry = table_[static_cast<std::size_t>(at.key - first_key_)];
        return static_cast<std::uint8_t>((entry & 0xFFu) + (at.offset >= (entry >> 8) ? 1u : 0u));
    }

    // Quantizes n <= quantization_block values into `out`; returns the block's scale, the
    // largest magnitude, or NaN if any value is NaN or infinite (the block then reads back as
    // NaN, as a float32 state would poison the update).
    OPTIKERN_INLINE float quantize(const float* OPTIKERN_RESTRICT values,
                                   std::int64_t n,
                                   std::uint8_t* OPTIKERN_RESTRICT out) const {
        float absmax = 0.0f;
        std::uint32_t nonfinite = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const std::uint32_t magnitude = lowp::bits_of(values[i]) & 0x7FFFFFFFu;
            nonfinite |= magnitude >= 0x7F800000u ? 1u : 0u;
            absmax = std::max(absmax, lowp::float_of(magnitude));
        }
        if (nonfinite != 0) {
            for (std::int64_t i = 0; i < n; ++i) out[i] = zero_index_;
            return NAN;
        }
        const float divisor = absmax > 0.0f ? absmax : 1.0f;
        for (std::int64_t i = 0; i < n; ++i) out[i] = index_of(values[i] / divisor);
        return absmax;
    }

    OPTIKERN_INLINE void dequantize(const std::uint8_t* OPTIKERN_RESTRICT q,
                                    std::int64_t n,
                                    float absmax,
                                    float* OPTIKERN_RESTRICT out) const {
        for (std::int64_t i = 0; i < n; ++i) out[i] = code_[q[i]] * absmax;
    }

private:
    // Where x lies: its bucket (keys increase with x; magnitudes below floor_ share key 0) and
    // its offset inside the bucket (increasing with x too).
    struct position {
        std::int32_t key;
        std::uint32_t offset;
    };
    OPTIKERN_INLINE position position_of(float x) const {
        const std::uint32_t bits = lowp::bits_of(x);
        const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
        const std::uint32_t above = magnitude > floor_bits_ ? magnitude - floor_bits_ : 0u;
        const std::uint32_t mask = (1u << shift_) - 1u;
        // Negative x: bucket -(above >> shift_), offset mask - (above & mask); branch-free.
        const std::uint32_t negative = 0u - (bits >> 31);
        return {static_cast<std::int32_t>(((above >> shift_) ^ negative) - negative),
                (above & mask) ^ (negative & mask)};
    }

    // The smallest float in (code[j], code[j + 1]] closer to code[j + 1] than to code[j], in
    // float32 arithmetic as the quantizer's rule is written.
    float first_above(int j) const {
        const float low = code_[static_cast<std::size_t>(j)];
        const float high = code_[static_cast<std::size_t>(j + 1)];
        const auto closer_to_high = [&](float x) {
            return std::fabs(high - x) < std::fabs(x - low);
        };
        // Bisect over the floats between low and high, ordered as integers.
        const auto line = [](float x) {
            const auto bits = static_cast<std::int64_t>(lowp::bits_of(x) & 0x7FFFFFFFu);
            return std::signbit(x) ? -bits : bits;
        };
        const auto from_line = [](std::int64_t k) {
            const float magnitude = lowp::float_of(static_cast<std::uint32_t>(k < 0 ? -k : k));
            return k < 0 ? -magnitude : magnitude;
        };
        std::int64_t lo = line(low), hi = line(high);  // closer_to_high: false at lo, true at hi
        while (hi - lo > 1) {
            const std::int64_t mid = lo + (hi - lo) / 2;
            if (closer_to_high(from_line(mid)))
                hi = mid;
            else
                lo = mid;
        }
        return from_line(hi);
    }

    // The coarsest table in which no bucket holds two thresholds. Each entry: the number of
    // thresholds below the bucket, and the offset of the one inside it (1 << shift_: none).
    void build_table() {
        float smallest = 1.0f;
        for (int j = 0; j + 1 < size; ++j)
            smallest = std::min(smallest, std::fabs(threshold_[static_cast<std::size_t>(j)]));
        // A power of two at most half the smallest threshold: bucket 0 (both signs) holds none.
        floor_bits_ = lowp::bits_of(smallest) & 0x7F800000u;
        floor_bits_ = floor_bits_ > (1u << 23) ? floor_bits_ - (1u << 23) : 0u;
        for (shift_ = 16; shift_ >= 8; --shift_) {
            first_key_ = position_of(code_[0]).key;
            const std::int32_t last_key = position_of(code_[size - 1]).key;
            table_.assign(static_cast<std::size_t>(last_key - first_key_ + 1), 0);
            bool fits = true;
            int below = 0;  // thresholds in the buckets before `key`
            for (std::int32_t key = first_key_; key <= last_key && fits; ++key) {
                while (below + 1 < size &&
                       position_of(threshold_[static_cast<std::size_t>(below)]).key < key)
                    ++below;
                std::uint32_t offset = 1u << shift_;
                int inside = 0;
                for (int j = below; j + 1 < size &&
                                    position_of(threshold_[static_cast<std::size_t>(j)]).key == key;
                     ++j, ++inside)
                    offset = position_of(threshold_[static_cast<std::size_t>(j)]).offset;
                fits = inside <= 1;
                table_[static_cast<std::size_t>(key - first_key_)] =
                    static_cast<std::uint32_t>(below) | offset << 8;
            }
            if (fits) break;
        }
        if (shift_ < 8) throw std::invalid_argument("qmap: codes too close together");
        for (int i = 0; i < size; ++i)
            if (code_[static_cast<std::size_t>(i)] == 0.0f)
                zero_index_ = static_cast<std::uint8_t>(i);
        has_byte_search_ = build_byte_search();
    }

    // Fills byte_search_; false if the map needs more than 32 binades or too many buckets.
    bool build_byte_search() {
        const auto above = [&](float x) {
            return std::max(lowp::bits_of(x) & 0x7FFFFFFFu, floor_bits_) - floor_bits_;
        };
        const std::uint32_t top = std::max(above(code_[0]), above(code_[size - 1]));
        const std::uint32_t binades = (top >> 23) + 1;
        if (binades > 32) return false;
        const bool negatives = std::signbit(code_[0]);
        std::uint32_t buckets = 0;
        for (std::uint32_t e = 0; e < 32; ++e) {
            // The coarsest shift giving each threshold of the binade its own bucket (thresholds
            // of one sign that are neighbours in magnitude are neighbours in threshold_).
            std::uint32_t shift = 23;
            const auto clash = [&](std::size_t j) {
                const std::uint32_t u = above(threshold_[j]), v = above(threshold_[j + 1]);
                return std::signbit(threshold_[j]) == std::signbit(threshold_[j + 1]) &&
                       u >> 23 == e && v >> 23 == e &&
                       (u & 0x7FFFFFu) >> shift == (v & 0x7FFFFFu) >> shift;
            };
            for (std::size_t j = 0; j + 1 < threshold_.size() && e < binades; ++j)
                while (clash(j)) --shift;
            byte_search_.binade[e] = buckets << 8 | shift;
            if (e < binades) buckets += 1u << (23 - shift);
        }
        if (buckets > (negatives ? 256u : 512u)) return false;
        for (std::uint32_t side = 0; side < (negatives ? 2u : 1u); ++side) {
            for (std::uint32_t e = 0; e < binades; ++e) {
                const std::uint32_t first = byte_search_.binade[e] >> 8;
                const std::uint32_t shift = byte_search_.binade[e] & 31u;
                for (std::uint32_t b = 0; b < 1u << (23 - shift); ++b) {
                    const std::size_t key = side * 256 + first + b;
                    // The bucket's smallest magnitude (0 for the one holding the floor).
                    const float low = e == 0 && b == 0
                                          ? 0.0f
                                          : lowp::float_of(floor_bits_ + (e << 23 | b << shift));
                    std::uint32_t threshold = 1u << 23;
                    for (const float t : threshold_)
                        if (std::signbit(t) == (side == 1) && above(t) >> 23 == e &&
                            (above(t) & 0x7FFFFFu) >> shift == b)
                            threshold = (above(t) & 0x7FFFFFu) + side;
                    const auto first_above =
                        side == 0 ? std::lower_bound(threshold_.begin(), threshold_.end(), low)
                                  : std::upper_bound(threshold_.begin(), threshold_.end(), -low);
                    byte_search_.base[key] = static_cast<std::uint8_t>(
                        (first_above - threshold_.begin()) - static_cast<std::ptrdiff_t>(side));
                    for (std::size_t k = 0; k < 3; ++k)
                        byte_search_.threshold[k][key] =
                            static_cast<std::uint8_t>(threshold >> (8 * k));
                }
            }
        }
        return true;
    }

    std::array<float, size> code_{};
    alignas(64) std::array<std::uint16_t, size> low_halves_{};
    alignas(64) std::array<std::uint16_t, size> high_halves_{};
    alignas(64) std::array<std::array<std::uint8_t, size>, 4> code_bytes_{};
    std::array<float, size - 1> threshold_{};  // threshold_[j]: first value mapped above code j
    std::vector<std::uint32_t> table_;
    std::uint32_t floor_bits_ = 0;
    int shift_ = 16;
    std::int32_t first_key_ = 0;
    std::uint8_t zero_index_ = 0;
    byte_search byte_search_{};
    bool has_byte_search_ = false;
};

}  // namespace optikern
