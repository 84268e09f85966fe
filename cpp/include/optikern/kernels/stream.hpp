// The memory-bandwidth ceiling of an optimizer step: the same streams with no arithmetic to
// speak of. `count` arrays are read and written in place (param and state) and one more is
// only read (the gradient): Adam float32 moves 16 bytes in and 12 out per element, like
// STREAM's kernels but with an optimizer's access pattern.
#pragma once

#include <cstdint>

#include "optikern/config.hpp"

namespace optikern {

template <class T>
struct stream_buffers {
    T* inplace[4];
    const T* read;
    int count;  // 1..4 in-place arrays
    std::int64_t size;
};

struct stream_scalars {};

namespace kernels {

struct stream {
    template <class T>
    using buffers = stream_buffers<T>;
    template <class T>
    using scalars = stream_scalars;

    template <class V>
    static OPTIKERN_INLINE void at(const stream_buffers<typename V::value_type>& b,
                                   const stream_scalars&,
                                   std::int64_t i) {
        const auto r = V::load(b.read + i);
        for (int k = 0; k < b.count; ++k)
            V::store(b.inplace[k] + i, V::add(V::load(b.inplace[k] + i), r));
    }
};

}  // namespace kernels
}  // namespace optikern
