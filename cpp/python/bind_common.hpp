// Strict access to the arrays of one optimizer step. pybind11's array_t converts (and so copies)
// an array of the wrong dtype, layout or byte order, and an in-place update would then go to the
// temporary. Here every array is taken as it is or refused with an error naming the argument;
// all checks run before anything is written.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optikern/optikern.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace optikern::python {

namespace py = pybind11;

// What the checks need of an array, read straight from its header: this runs for every array
// of every step, and creating Python objects (dtype, shape tuples) here would cost more than
// updating a thousand elements.
struct header {
    char* data;
    int ndim;
    const py::ssize_t* shape;
    const py::ssize_t* strides;
    int flags;
    int type_num;
    bool native_order;
    std::int64_t size;
};

header read_header(PyObject* obj);  // obj must be an ndarray
// An ndarray that is C-contiguous, aligned and (if asked) writeable, else TypeError/ValueError
// naming it `name`.
header checked_array(PyObject* obj, const std::string& name, bool writeable);
header checked_array(PyObject* obj, const char* name, std::size_t index, bool writeable);
std::string where(const char* name, std::size_t t);  // "name[t]"
std::string type_name(py::handle obj);
std::string dtype_name(py::handle array);
std::string shape_of(py::handle array);
std::size_t item_size(int type_num);  // float64, float32, 16-bit, uint8
inline std::size_t item_size_of(py::handle array) {
    return array.attr("itemsize").cast<std::size_t>();
}

// Raise ValueError naming `name()` unless `a` has the layout of `like` (named `like_name()`):
// the same strides in elements, so an update in memory order pairs their elements. Both
// must be dense (checked_array) and of one shape.
void require_same_layout(const header& a,
                         const header& like,
                         const std::string& name,
                         const std::string& like_name);
inline bool c_contiguous(const header& h) {
    return (h.flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) != 0;
}

// One list argument of a step: params, grads or one kind of state.
struct role {
    const char* name;
    py::handle list;  // None: this state is not used by the chosen options
    bool writeable;
    int type_num = -1;    // NumPy type number required; -1: the param's dtype (params: float32/64)
    bool scalar = false;  // a 0-d float32 or float64 array per tensor (scalar_cell)
};

// The validated arrays of one step, one row per tensor and one column per role. Holds a
// reference to every array so they stay alive while the GIL is released.
class step_arrays {
public:
    explicit step_arrays(const std::vector<role>& roles);

    std::size_t count() const { return count_; }
    bool is_double(std::size_t t) const { return is_double_[t]; }
    std::int64_t size(std::size_t t) const { return sizes_[t]; }

    // Data pointer of role r for tensor t, or nullptr when the role is None.
    template <class T>
    T* data(std::size_t r, std::size_t t) const {
        return reinterpret_cast<T*>(data_[r * count_ + t]);
    }

    // The 0-d array of a scalar role r for tensor t.
    scalar_cell cell(std::size_t r, std::size_t t) const {
        return {data_[r * count_ + t], types_[r * count_ + t] == py::detail::npy_api::NPY_DOUBLE_};
    }

    // Index of the first tensor whose array in role r holds a NaN or an infinity, or -1.
    // Releases the GIL while it reads.
    std::int64_t first_nonfinite(std::size_t r) const;

    // The buffers of every tensor of element type T, built by make(t).
    template <class T, class Make>
    auto collect(Make&& make) const {
        std::vector<decltype(make(std::size_t{}))> out;
        for (std::size_t t = 0; t < count_; ++t)
            if (is_double_[t] == std::is_same_v<T, double>) out.push_back(make(t));
        return out;
    }

private:
    std::size_t count_ = 0;
    std::vector<py::object> arrays_;
    std::vector<char*> data_;
    std::vector<int> types_;
    std::vector<bool> is_double_;
    std::vector<std::int64_t> sizes_;
};

// The 16-bit float format of an array: NumPy's float16, or ml_dtypes' bfloat16 (a user dtype,
// recognised by name the first time its type number is seen), else none.
enum class lowp_kind { none, float16, bfloat16 };
lowp_kind lowp_kind_of(PyObject* array, int type_num);

// The `mixed` argument of the optimizer steps: float16/bfloat16 params rewritten from float32
// masters in the same pass, their loss scale and rounding.
struct mixed_config {
    py::object lowp_params;  // the 16-bit params (or int16/uint16 views with a named format)
    bool bfloat16;           // else float16
    int type_num;            // NumPy type of the 16-bit params, and of 16-bit gradients
    bool master_weights;     // false: the step's params are the 16-bit params, no masters
    mixed_options options;
};

// Mixed steps need float32 masters.
void require_float32_masters(const step_arrays& arrays);

// Whether a mixed step's gradients are float32 (else in the params' 16-bit format): all are
// as the first one is. False without `mixed` or without gradients.
bool float32_grads_of(const mixed_config* mixed, py::handle grads);

// params[t], the float32 master of the 16-bit param `like` (named like_name): dtype, shape
// and memory layout checked.
header checked_master(PyObject* master,
                      std::size_t t,
                      const header& like,
                      PyObject* like_obj,
                      const std::string& like_name);

// Calls run(P{}, G{}) with the storage types the spec names.
template <class Run>
void with_lowp_types(const mixed_config& spec, bool float32_grads, Run&& run) {
    if (spec.bfloat16) {
        if (float32_grads)
            run(bfloat16{}, float{});
        else
            run(bfloat16{}, bfloat16{});
    } else {
        if (float32_grads)
            run(float16{}, float{});
        else
            run(float16{}, float16{});
    }
}

// The low-precision tensors of a mixed step: role `param_role` holds the uint16 params,
// role `grad_role` the raw gradients.
template <class P, class G>
std::vector<lowp_tensor<P, G>> lowp_tensors(const step_arrays& arrays,
                                            std::size_t param_role,
                                            std::size_t grad_role) {
    std::vector<lowp_tensor<P, G>> out;
    for (std::size_t t = 0; t < arrays.count(); ++t)
        out.push_back({arrays.data<P>(param_role, t), arrays.data<const G>(grad_role, t)});
    return out;
}

// Index of the first raw gradient (role grad_role) holding NaN or infinity, or -1.
std::int64_t first_nonfinite_lowp(const step_arrays& arrays,
                                  const mixed_config& spec,
                                  bool float32_grads,
                                  std::size_t low_role,
                                  std::size_t grad_role);

// A step number or count (the functional calls' `step`, a state's "step"): an integer up to
// max_steps, else TypeError/ValueError naming it.
std::int64_t step_number(py::handle step, const std::string& name = "step");

void require_positive_step(std::int64_t step);

// The code map of a float32 array of 256 sorted codes (a state's "<name>_qmap"): the built-in
// dynamic map when equal to it, else a map built into `owned`. ValueError/TypeError naming it.
const code_map& code_map_of(PyObject* qmap,
                            const std::string& name,
                            std::vector<std::unique_ptr<code_map>>& owned);

}  // namespace optikern::python
