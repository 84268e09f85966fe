// _core.adam_step: Adam and AdamW over every tensor of a step in one call.
#include <optikern/optikern.hpp>

#include "bind_common.hpp"

namespace optikern::python {

namespace {

std::int64_t adam_step_py(py::handle params,
                          py::handle grads,
                          py::handle exp_avgs,
                          py::handle exp_avg_sqs,
                          py::handle max_exp_avg_sqs,
                          std::int64_t step,
                          double lr,
                          double beta1,
                          double beta2,
                          double eps,
                          double weight_decay,
                          bool amsgrad,
                          bool maximize,
                          bool decoupled_weight_decay,
                          bool check_only,
                          bool skip_nonfinite,
                          py::handle lowp_arg) {
    require_positive_step(step);
    require_at_least(lr, 0.0, "learning rate");
    require_at_least(eps, 0.0, "epsilon value");
    require_in_unit_interval(beta1, "beta parameter at index 0");
    require_in_unit_interval(beta2, "beta parameter at index 1");
    require_at_least(weight_decay, 0.0, "weight_decay value");
    const auto lowp = parse_lowp(lowp_arg);
    const bool own_masters = !lowp || lowp->master_weights;
    const step_arrays arrays(
        {{"params", params, true, own_masters ? -1 : py::detail::npy_api::NPY_USHORT_},
         {"grads", grads, false, lowp ? lowp->grad_type_num() : -1},
         {"exp_avgs", exp_avgs, true, state_type(lowp)},
         {"exp_avg_sqs", exp_avg_sqs, true, state_type(lowp)},
         {"max_exp_avg_sqs", amsgrad ? max_exp_avg_sqs : py::none(), true, state_type(lowp)},
         {"lowp_params", lowp && own_masters ? lowp->params : py::none(), true,
          py::detail::npy_api::NPY_USHORT_}});
    const adam_options options{lr,           beta1,   beta2,    eps,
                               weight_decay, amsgrad, maximize, decoupled_weight_decay};
    const auto buffers = [&](auto zero) {
        using T = decltype(zero);
        return arrays.collect<T>([&](std::size_t t) {
            return adam_buffers<T>{arrays.data<T>(0, t), arrays.data<T>(1, t), arrays.data<T>(2, t),
                                   arrays.data<T>(3, t), arrays.data<T>(4, t), arrays.size(t)};
        });
    };
    if (lowp) require_float32_masters(arrays);
    if (skip_nonfinite) {
        const std::int64_t bad = lowp ? first_nonfinite_lowp(arrays, *lowp, own_masters ? 5 : 0, 1)
                                      : arrays.first_nonfinite(1);
        if (bad >= 0) return bad;
    }
    if (check_only) return -1;
    if (lowp) {
        auto masters = buffers(0.0f);
        if (!own_masters)
            for (auto& m : masters) m.param = nullptr;  // the kernel reads the 16-bit params
        with_lowp_types(*lowp, [&](auto p, auto g) {
            const auto low = lowp_tensors<decltype(p), decltype(g)>(arrays, own_masters ? 5 : 0, 1);
            py::gil_scoped_release release;
            update_mixed<kernels::adam>(masters.data(), low.data(), masters.size(), options, {step},
                                        lowp->options);
        });
        return -1;
    }
    const auto f32 = buffers(0.0f);
    const auto f64 = buffers(0.0);
    py::gil_scoped_release release;
    if (!f32.empty()) update<kernels::adam, float>(f32.data(), f32.size(), options, {step});
    if (!f64.empty()) update<kernels::adam, double>(f64.data(), f64.size(), options, {step});
    return -1;
}

}  // namespace

void register_adam(py::module_& m) {
    m.def("adam_step", &adam_step_py, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
          py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs").none(true), py::arg("step"),
          py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
          py::arg("weight_decay"), py::arg("amsgrad"), py::arg("maximize"),
          py::arg("decoupled_weight_decay"), py::arg("check_only") = false,
          py::arg("skip_nonfinite") = false, py::arg("lowp") = py::none(),
          "Adam/AdamW update of every (param, grad, state) tensor in place; step is 1-based.");
}

}  // namespace optikern::python
