// _core gradient utilities: norm, scaling and clamping (clipping), finiteness check.
#include <optikern/optikern.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "bind_common.hpp"

namespace optikern::python {

namespace {

template <class T, class Make>
auto buffers_of(const step_arrays& arrays, Make&& make) {
    return arrays.collect<T>(
        [&](std::size_t t) { return make(arrays.data<T>(0, t), arrays.size(t)); });
}

double grad_norm_py(py::handle grads, double norm_type) {
    if (!(norm_type > 0.0))
        throw py::value_error(py::str("norm_type: expected a positive number or inf, got {}")
                                  .format(norm_type)
                                  .cast<std::string>());
    const norm_kind kind = std::isinf(norm_type) ? norm_kind::linf
                           : norm_type == 2.0    ? norm_kind::l2
                           : norm_type == 1.0    ? norm_kind::l1
                                                 : norm_kind::lp;
    const step_arrays arrays({{"grads", grads, false}});
    const auto make = [](auto* data, std::int64_t size) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(data)>>;
        return array_buffer<const T>{data, size};
    };
    const auto f32 = buffers_of<float>(arrays, make);
    const auto f64 = buffers_of<double>(arrays, make);
    py::gil_scoped_release release;
    return norm_from_terms({norm_terms(f32.data(), f32.size(), kind, norm_type),
                            norm_terms(f64.data(), f64.size(), kind, norm_type)},
                           kind, norm_type);
}

void scale_py(py::handle arrays_arg, double factor) {
    const step_arrays arrays({{"grads", arrays_arg, true}});
    const auto make = [](auto* data, std::int64_t size) {
        using T = std::remove_pointer_t<decltype(data)>;
        return array_buffer<T>{data, size};
    };
    const auto f32 = buffers_of<float>(arrays, make);
    const auto f64 = buffers_of<double>(arrays, make);
    py::gil_scoped_release release;
    scale(f32.data(), f32.size(), static_cast<float>(factor));
    scale(f64.data(), f64.size(), factor);
}

void clamp_py(py::handle arrays_arg, double low, double high) {
    if (!(low <= high))
        throw py::value_error(py::str("clamp: expected low <= high, got {} and {}")
                                  .format(low, high)
                                  .cast<std::string>());
    const step_arrays arrays({{"grads", arrays_arg, true}});
    const auto make = [](auto* data, std::int64_t size) {
        using T = std::remove_pointer_t<decltype(data)>;
        return array_buffer<T>{data, size};
    };
    const auto f32 = buffers_of<float>(arrays, make);
    const auto f64 = buffers_of<double>(arrays, make);
    py::gil_scoped_release release;
    clamp(f32.data(), f32.size(), static_cast<float>(low), static_cast<float>(high));
    clamp(f64.data(), f64.size(), low, high);
}

std::int64_t first_nonfinite_py(py::handle grads) {
    return step_arrays({{"grads", grads, false}}).first_nonfinite(0);
}

}  // namespace

void register_clip(py::module_& m) {
    m.def("grad_norm", &grad_norm_py, py::arg("grads"), py::arg("norm_type"),
          "p-norm of all elements of all arrays together (inf: max |x|), summed in double in "
          "a fixed order.");
    m.def("scale_", &scale_py, py::arg("grads"), py::arg("factor"),
          "Multiply every array in place by factor.");
    m.def("clamp_", &clamp_py, py::arg("grads"), py::arg("low"), py::arg("high"),
          "Clamp every array in place to [low, high]; NaN stays NaN.");
    m.def("first_nonfinite", &first_nonfinite_py, py::arg("grads"),
          "Index of the first array holding NaN or infinity, or -1 (read only).");
}

}  // namespace optikern::python
