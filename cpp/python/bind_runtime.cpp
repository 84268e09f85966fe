// _core runtime information and control: SIMD levels, threads, build facts.
#include <optikern/optikern.hpp>

#include <string>

#include "bind_common.hpp"

namespace optikern::python {

namespace {

py::list level_names(const std::vector<simd_level>& levels) {
    py::list names;
    for (simd_level l : levels) names.append(simd_level_name(l));
    return names;
}

void set_simd_level_py(const std::string& name) {
    simd_level level{};
    if (!parse_simd_level(name.c_str(), level))
        throw py::value_error("simd level: expected 'baseline', 'avx2' or 'avx512', got '" + name +
                              "'");
    if (!set_simd_level(level))
        throw py::value_error("simd level: '" + name + "' is not supported by this CPU");
}

std::string compiler() {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc " + std::to_string(_MSC_VER);
#else
    return "unknown";
#endif
}

}  // namespace

void register_runtime(py::module_& m) {
    m.def(
        "available_simd_levels", [] { return level_names(available_simd_levels()); },
        "SIMD levels this CPU can run, lowest first.");
    m.def(
        "detected_simd_level", [] { return std::string(simd_level_name(detected_simd_level())); },
        "The best SIMD level of this CPU.");
    m.def(
        "active_simd_level", [] { return std::string(simd_level_name(active_simd_level())); },
        "The SIMD level the kernels use now.");
    m.def("set_simd_level", &set_simd_level_py, py::arg("name"),
          "Use a SIMD level the CPU supports (for tests and reproducibility checks).");
    m.def("get_num_threads", &get_num_threads, "Threads a large step is split over.");
    m.def(
        "set_num_threads",
        [](int n) {
            if (n < 0)
                throw py::value_error("n: expected a thread count >= 0, got " + std::to_string(n));
            set_num_threads(n);
        },
        py::arg("n"), "Fix the thread count (n > 0) or follow OpenMP again (n == 0).");
    m.attr("openmp") = openmp_enabled();
    m.attr("compiler") = compiler();
    m.attr("min_elements_per_thread") = min_elements_per_thread;
    m.attr("max_steps") = max_steps;
}

}  // namespace optikern::python
