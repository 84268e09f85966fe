// Splitting one step over threads. The element range of all tensors together is cut into equal
// contiguous parts, one per thread, so many small tensors share threads as well as one large one.
// Every element is updated independently, so the split never changes a result.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace optikern {

// Below this many elements per thread, waking threads (~1 us) costs more than it saves.
inline constexpr std::int64_t min_elements_per_thread = std::int64_t{1} << 15;

namespace detail {
inline std::atomic<int>& thread_request() {
    static std::atomic<int> requested{0};  // 0: follow OpenMP (OMP_NUM_THREADS, threadpoolctl)
    return requested;
}
}  // namespace detail

// Threads a large step uses: set_num_threads() if called with n > 0, else OpenMP's current
// maximum, so OMP_NUM_THREADS and threadpoolctl limits apply.
inline int get_num_threads() {
    const int requested = detail::thread_request().load(std::memory_order_relaxed);
    if (requested > 0) return requested;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// n > 0 fixes the count; n == 0 returns to OpenMP's default.
inline void set_num_threads(int n) {
    detail::thread_request().store(n > 0 ? n : 0, std::memory_order_relaxed);
}

inline bool openmp_enabled() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

// Calls range(tensor_index, begin, end) so that every element of every tensor is covered once.
template <class Buffers, class Range>
void for_each_range(const Buffers* tensors, std::size_t count, Range&& range) {
    std::int64_t total = 0;
    for (std::size_t t = 0; t < count; ++t) total += tensors[t].size;
    const std::int64_t useful = std::max<std::int64_t>(1, total / min_elements_per_thread);
    const int threads = static_cast<int>(std::min<std::int64_t>(get_num_threads(), useful));
    if (threads <= 1) {
        for (std::size_t t = 0; t < count; ++t) range(t, std::int64_t{0}, tensors[t].size);
        return;
    }
#ifdef _OPENMP
    // starts[t]: global index of tensor t's first element.
    std::vector<std::int64_t> starts(count + 1, 0);
    for (std::size_t t = 0; t < count; ++t) starts[t + 1] = starts[t] + tensors[t].size;
#pragma omp parallel num_threads(threads)
    {
        const std::int64_t parts = omp_get_num_threads();
        const std::int64_t part = omp_get_thread_num();
        // Cut points on 64-element boundaries keep each thread's vectors whole.
        const auto cut = [&](std::int64_t k) { return (total * k / parts) & ~std::int64_t{63}; };
        const std::int64_t lo = part == 0 ? 0 : cut(part);
        const std::int64_t hi = part == parts - 1 ? total : cut(part + 1);
        std::size_t t = static_cast<std::size_t>(
            std::upper_bound(starts.begin(), starts.end(), lo) - starts.begin() - 1);
        for (std::int64_t at = lo; at < hi && t < count; ++t) {
            const std::int64_t end = std::min(hi, starts[t + 1]);
            if (end > at) range(t, at - starts[t], end - starts[t]);
            at = end;
        }
    }
#endif
}

// Blocks of block_size elements in the arrays (the last block of an array may be shorter).
template <class Buffers>
std::int64_t count_blocks(const Buffers* arrays, std::size_t count, std::int64_t block_size) {
    std::int64_t blocks = 0;
    for (std::size_t t = 0; t < count; ++t)
        blocks += (arrays[t].size + block_size - 1) / block_size;
    return blocks;
}

// Calls block(array_index, begin, end, block_index) for every block of every array;
// block_index counts blocks over all arrays in order. Threads take whole blocks, so what a
// block covers never depends on the thread count.
template <class Buffers, class Block>
void for_each_block(const Buffers* arrays,
                    std::size_t count,
                    std::int64_t block_size,
                    Block&& block) {
    std::vector<std::int64_t> first_block(count + 1, 0);
    for (std::size_t t = 0; t < count; ++t)
        first_block[t + 1] = first_block[t] + count_blocks(arrays + t, 1, block_size);
    const std::int64_t blocks = first_block[count];
    const auto run = [&](std::int64_t b) {
        const auto t = static_cast<std::size_t>(
            std::upper_bound(first_block.begin(), first_block.end(), b) - first_block.begin() - 1);
        const std::int64_t begin = (b - first_block[t]) * block_size;
        block(t, begin, std::min(begin + block_size, arrays[t].size), b);
    };
    const std::int64_t threads = std::min<std::int64_t>(
        get_num_threads(),
        std::max<std::int64_t>(1, blocks * block_size / min_elements_per_thread));
    if (threads <= 1) {
        for (std::int64_t b = 0; b < blocks; ++b) run(b);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for num_threads(static_cast<int>(threads)) schedule(static)
    for (std::int64_t b = 0; b < blocks; ++b) run(b);
#endif
}

// Calls work(i) for every i in [0, count), items spread over threads when `elements` (the
// work of all items) pays for them. Which thread runs an item never changes its result.
template <class Work>
void for_each_item(std::size_t count, std::int64_t elements, Work&& work) {
    const std::int64_t threads =
        std::min<std::int64_t>({get_num_threads(), static_cast<std::int64_t>(count),
                                std::max<std::int64_t>(1, elements / min_elements_per_thread)});
    if (threads <= 1) {
        for (std::size_t i = 0; i < count; ++i) work(i);
        return;
    }
#ifdef _OPENMP
    const auto n = static_cast<std::int64_t>(count);
#pragma omp parallel for num_threads(static_cast<int>(threads)) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) work(static_cast<std::size_t>(i));
#endif
}

}  // namespace optikern
