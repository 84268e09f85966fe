// Non-owning views of one tensor's param, gradient and state: raw pointers and a 64-bit length.
// All buffers of one view have `size` elements and must not overlap (grad may alias other grads).
#pragma once

#include <cstdint>

namespace optikern {

template <class T>
struct sgd_buffers {
    T* param;
    const T* grad;
    T* momentum_buffer;  // unused (may be null) when momentum == 0
    std::int64_t size;
};

template <class T>
struct adagrad_buffers {
    T* param;
    const T* grad;
    T* sum;
    std::int64_t size;
};

template <class T>
struct rmsprop_buffers {
    T* param;
    const T* grad;
    T* square_avg;
    T* grad_avg;         // used only when centered
    T* momentum_buffer;  // used only when momentum > 0
    std::int64_t size;
};

template <class T>
struct adam_buffers {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    T* max_exp_avg_sq;  // used only when amsgrad
    std::int64_t size;
};

// The same tensor's buffers from element `offset` on, reading the gradient from `grad`
// (mixed precision converts gradients block by block into a float scratch buffer).
template <class T>
sgd_buffers<T> block_of(const sgd_buffers<T>& b,
                        std::int64_t offset,
                        const T* grad,
                        std::int64_t n) {
    return {b.param ? b.param + offset : nullptr, grad,
            b.momentum_buffer ? b.momentum_buffer + offset : nullptr, n};
}

template <class T>
adagrad_buffers<T> block_of(const adagrad_buffers<T>& b,
                            std::int64_t offset,
                            const T* grad,
                            std::int64_t n) {
    return {b.param ? b.param + offset : nullptr, grad, b.sum + offset, n};
}

template <class T>
rmsprop_buffers<T> block_of(const rmsprop_buffers<T>& b,
                            std::int64_t offset,
                            const T* grad,
                            std::int64_t n) {
    return {b.param ? b.param + offset : nullptr,
            grad,
            b.square_avg + offset,
            b.grad_avg ? b.grad_avg + offset : nullptr,
            b.momentum_buffer ? b.momentum_buffer + offset : nullptr,
            n};
}

template <class T>
adam_buffers<T> block_of(const adam_buffers<T>& b,
                         std::int64_t offset,
                         const T* grad,
                         std::int64_t n) {
    return {b.param ? b.param + offset : nullptr,
            grad,
            b.exp_avg + offset,
            b.exp_avg_sq + offset,
            b.max_exp_avg_sq ? b.max_exp_avg_sq + offset : nullptr,
            n};
}

// One array for the gradient utilities (clipping, norms, finiteness checks).
template <class T>
struct array_buffer {
    T* data;
    std::int64_t size;
};

}  // namespace optikern
