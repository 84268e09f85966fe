// optikern._core: thin pybind11 bindings over the header-only kernels. One register_* per file.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace optikern::python {
void register_optimizers(py::module_&);
void register_runtime(py::module_&);
void register_clip(py::module_&);
void register_stream(py::module_&);
void register_quantize(py::module_&);
}  // namespace optikern::python

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
    m.doc() = "optikern's compiled kernels; use optikern.functional or the optimizer classes.";
    optikern::python::register_optimizers(m);
    optikern::python::register_runtime(m);
    optikern::python::register_clip(m);
    optikern::python::register_stream(m);
    optikern::python::register_quantize(m);
}
