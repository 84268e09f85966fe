// _core.stream_step: the memory-bandwidth ceiling kernel used by the benchmarks.
#include <optikern/optikern.hpp>

#include "bind_common.hpp"

namespace optikern::python {

namespace {

// inplace: 1..4 lists of arrays updated in place; read: the list of arrays only read.
void stream_step_py(py::list inplace, py::handle read) {
    const auto count = static_cast<int>(py::len(inplace));
    if (count < 1 || count > 4)
        throw py::value_error("inplace: expected 1 to 4 lists of arrays, got " +
                              std::to_string(count));
    const py::handle none = py::none();
    const step_arrays arrays({{"inplace[0]", inplace[0], true},
                              {"read", read, false},
                              {"inplace[1]", count > 1 ? py::handle(inplace[1]) : none, true},
                              {"inplace[2]", count > 2 ? py::handle(inplace[2]) : none, true},
                              {"inplace[3]", count > 3 ? py::handle(inplace[3]) : none, true}});
    const auto buffers = [&](auto zero) {
        using T = decltype(zero);
        return arrays.collect<T>([&](std::size_t t) {
            return stream_buffers<T>{{arrays.data<T>(0, t), arrays.data<T>(2, t),
                                      arrays.data<T>(3, t), arrays.data<T>(4, t)},
                                     arrays.data<const T>(1, t),
                                     count,
                                     arrays.size(t)};
        });
    };
    const auto f32 = buffers(0.0f);
    const auto f64 = buffers(0.0);
    py::gil_scoped_release release;
    stream_step(f32.data(), f32.size());
    stream_step(f64.data(), f64.size());
}

}  // namespace

void register_stream(py::module_& m) {
    m.def("stream_step", &stream_step_py, py::arg("inplace"), py::arg("read"),
          "Bandwidth ceiling: every array of every inplace list += the read array.");
}

}  // namespace optikern::python
