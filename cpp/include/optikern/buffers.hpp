// Non-owning views of one tensor's param, gradient and state: raw pointers and a 64-bit length.
// All buffers of one view have `size` elements and must not overlap (grad may alias other grads).
#pragma once

#include <cstdint>

namespace optikern {

// A per-tensor scalar of the state that changes every step (NAdam's mu_product, ASGD's eta and
// mu), a 0-d value kept as torch keeps it: float32 (torch's default scalar dtype), or float64
// (torch's load_state_dict casts it to a float64 param's dtype). Arithmetic with it follows
// torch's 0-d tensors: in the cell's precision, Python scalars first rounded to it.
struct scalar_cell {
    void* data = nullptr;
    bool is_double = false;

    double get() const {
        return is_double ? *static_cast<const double*>(data) : *static_cast<const float*>(data);
    }
    double round(double v) const {
        return is_double ? v : static_cast<double>(static_cast<float>(v));
    }
    void set(double v) const {
        if (is_double)
            *static_cast<double*>(data) = v;
        else
            *static_cast<float*>(data) = static_cast<float>(v);
    }
};

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

template <class T>
struct nadam_buffers {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    scalar_cell mu_product;
    std::int64_t size;
};

template <class T>
struct rprop_buffers {
    T* param;
    const T* grad;
    T* prev;
    T* step_size;
    std::int64_t size;
};

template <class T>
struct asgd_buffers {
    T* param;
    const T* grad;
    T* ax;
    scalar_cell eta;
    scalar_cell mu;
    std::int64_t size;
};

// How a state array's size follows its tensor's shape. Most state is elementwise (the param's
// shape). A factored second moment (Adafactor) sees a tensor of >= 2 dimensions as a batch of
// (rows x cols) matrices, its last two dimensions, and keeps one value per row (torch's shape
// shape[:-1] + (1,)) and one per column (shape[:-2] + (1, cols)); a tensor of fewer
// dimensions keeps an elementwise array instead (`unfactored`).
enum class state_shape { elementwise, per_row, per_col, unfactored };

// A tensor's element count and, when it has >= 2 dimensions (`factored`), its matrix shape:
// `batches` matrices of rows x cols (the product of the leading dimensions, 1 for a matrix).
struct tensor_shape {
    std::int64_t size = 0;
    bool factored = false;
    std::int64_t batches = 0;
    std::int64_t rows = 0;
    std::int64_t cols = 0;

    tensor_shape() = default;
    tensor_shape(std::int64_t n) : size(n) {}  // NOLINT: a plain count is an unfactored shape
    tensor_shape(std::int64_t b, std::int64_t r, std::int64_t c)
        : size(b * r * c), factored(true), batches(b), rows(r), cols(c) {}
};

// The elements of a state array of this shape kind for a tensor, or -1 if it keeps none.
inline std::int64_t state_elements(state_shape kind, const tensor_shape& t) {
    switch (kind) {
        case state_shape::per_row:
            return t.factored ? t.batches * t.rows : -1;
        case state_shape::per_col:
            return t.factored ? t.batches * t.cols : -1;
        case state_shape::unfactored:
            return t.factored ? -1 : t.size;
        default:
            return t.size;
    }
}

// Adafactor: row_var and col_var for a factored tensor, variance for another; `factored`,
// `batches`, `rows`, `cols` as in its tensor_shape.
template <class T>
struct adafactor_buffers {
    T* param;
    const T* grad;
    T* row_var;
    T* col_var;
    T* variance;
    std::int64_t size;
    bool factored;
    std::int64_t batches;
    std::int64_t rows;
    std::int64_t cols;
};

// One array for the gradient utilities (clipping, norms, finiteness checks).
template <class T>
struct array_buffer {
    T* data;
    std::int64_t size;
};

}  // namespace optikern
