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

template <class T>
struct adamax_buffers {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_inf;
    std::int64_t size;
};

template <class T>
struct radam_buffers {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    std::int64_t size;
};

template <class T>
struct adadelta_buffers {
    T* param;
    const T* grad;
    T* square_avg;
    T* acc_delta;
    std::int64_t size;
};

template <class T>
struct lion_buffers {
    T* param;
    const T* grad;
    T* exp_avg;
    std::int64_t size;
};

template <class T>
struct lamb_buffers {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    std::int64_t size;
};

template <class T>
struct sparse_adam_buffers {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    std::int64_t size;
};

// One array for the gradient utilities (clipping, norms, finiteness checks).
template <class T>
struct array_buffer {
    T* data;
    std::int64_t size;
};

}  // namespace optikern
