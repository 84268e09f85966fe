// _core.adagrad_step: AdaGrad over every tensor of a step in one call.
#include <optikern/optikern.hpp>

#include "bind_common.hpp"

namespace optikern::python {

namespace {

std::int64_t adagrad_step_py(py::handle params,
                             py::handle grads,
                             py::handle state_sums,
                             std::int64_t step,
                             double lr,
                             double lr_decay,
                             double weight_decay,
                             double eps,
                             bool maximize,
                             bool decoupled_weight_decay,
                             bool eps_inside_sqrt,
                             bool check_only,
                             bool skip_nonfinite,
                             py::handle lowp_arg) {
    require_positive_step(step);
    require_at_least(lr, 0.0, "learning rate");
    require_at_least(lr_decay, 0.0, "lr_decay value");
    require_at_least(weight_decay, 0.0, "weight_decay value");
    require_at_least(eps, 0.0, "epsilon value");
    const auto lowp = parse_lowp(lowp_arg);
    const bool own_masters = !lowp || lowp->master_weights;
    const step_arrays arrays(
        {{"params", params, true, own_masters ? -1 : py::detail::npy_api::NPY_USHORT_},
         {"grads", grads, false, lowp ? lowp->grad_type_num() : -1},
         {"state_sums", state_sums, true, state_type(lowp)},
         {"lowp_params", lowp && own_masters ? lowp->params : py::none(), true,
          py::detail::npy_api::NPY_USHORT_}});
    const adagrad_options options{lr,  lr_decay, weight_decay,           0.0,
                                  eps, maximize, decoupled_weight_decay, eps_inside_sqrt};
    const auto buffers = [&](auto zero) {
        using T = decltype(zero);
        return arrays.collect<T>([&](std::size_t t) {
            return adagrad_buffers<T>{arrays.data<T>(0, t), arrays.data<T>(1, t),
                                      arrays.data<T>(2, t), arrays.size(t)};
        });
    };
    if (lowp) require_float32_masters(arrays);
    if (skip_nonfinite) {
        const std::int64_t bad = lowp ? first_nonfinite_lowp(arrays, *lowp, own_masters ? 3 : 0, 1)
                                      : arrays.first_nonfinite(1);
        if (bad >= 0) return bad;
    }
    if (check_only) return -1;
    if (lowp) {
        auto masters = buffers(0.0f);
        if (!own_masters)
            for (auto& m : masters) m.param = nullptr;  // the kernel reads the 16-bit params
        with_lowp_types(*lowp, [&](auto p, auto g) {
            const auto low = lowp_tensors<decltype(p), decltype(g)>(arrays, own_masters ? 3 : 0, 1);
            py::gil_scoped_release release;
            update_mixed<kernels::adagrad>(masters.data(), low.data(), masters.size(), options,
                                           {step}, lowp->options);
        });
        return -1;
    }
    const auto f32 = buffers(0.0f);
    const auto f64 = buffers(0.0);
    py::gil_scoped_release release;
    if (!f32.empty()) update<kernels::adagrad, float>(f32.data(), f32.size(), options, {step});
    if (!f64.empty()) update<kernels::adagrad, double>(f64.data(), f64.size(), options, {step});
    return -1;
}

}  // namespace

void register_adagrad(py::module_& m) {
    m.def("adagrad_step", &adagrad_step_py, py::arg("params"), py::arg("grads"),
          py::arg("state_sums"), py::arg("step"), py::arg("lr"), py::arg("lr_decay"),
          py::arg("weight_decay"), py::arg("eps"), py::arg("maximize"),
          py::arg("decoupled_weight_decay") = false, py::arg("eps_inside_sqrt") = false,
          py::arg("check_only") = false, py::arg("skip_nonfinite") = false,
          py::arg("lowp") = py::none(), "AdaGrad update in place; step is 1-based.");
}

}  // namespace optikern::python
