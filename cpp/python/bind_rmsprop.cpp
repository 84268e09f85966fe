// _core.rmsprop_step: RMSprop (centered, momentum) over every tensor of a step in one call.
#include <optikern/optikern.hpp>

#include "bind_common.hpp"

namespace optikern::python {

namespace {

std::int64_t rmsprop_step_py(py::handle params,
                             py::handle grads,
                             py::handle square_avgs,
                             py::handle grad_avgs,
                             py::handle momentum_buffers,
                             double lr,
                             double alpha,
                             double eps,
                             double weight_decay,
                             double momentum,
                             bool centered,
                             bool maximize,
                             bool decoupled_weight_decay,
                             bool lr_in_momentum,
                             bool eps_inside_sqrt,
                             bool check_only,
                             bool skip_nonfinite,
                             py::handle lowp_arg) {
    require_at_least(lr, 0.0, "learning rate");
    require_at_least(eps, 0.0, "epsilon value");
    require_at_least(momentum, 0.0, "momentum value");
    require_at_least(weight_decay, 0.0, "weight_decay value");
    require_at_least(alpha, 0.0, "alpha value");
    const auto lowp = parse_lowp(lowp_arg);
    const bool own_masters = !lowp || lowp->master_weights;
    const step_arrays arrays(
        {{"params", params, true, own_masters ? -1 : py::detail::npy_api::NPY_USHORT_},
         {"grads", grads, false, lowp ? lowp->grad_type_num() : -1},
         {"square_avgs", square_avgs, true, state_type(lowp)},
         {"grad_avgs", centered ? grad_avgs : py::none(), true, state_type(lowp)},
         {"momentum_buffers", momentum > 0.0 ? momentum_buffers : py::none(), true,
          state_type(lowp)},
         {"lowp_params", lowp && own_masters ? lowp->params : py::none(), true,
          py::detail::npy_api::NPY_USHORT_}});
    const rmsprop_options options{lr,
                                  alpha,
                                  eps,
                                  weight_decay,
                                  momentum,
                                  centered,
                                  maximize,
                                  decoupled_weight_decay,
                                  lr_in_momentum,
                                  eps_inside_sqrt};
    const auto buffers = [&](auto zero) {
        using T = decltype(zero);
        return arrays.collect<T>([&](std::size_t t) {
            return rmsprop_buffers<T>{arrays.data<T>(0, t), arrays.data<T>(1, t),
                                      arrays.data<T>(2, t), arrays.data<T>(3, t),
                                      arrays.data<T>(4, t), arrays.size(t)};
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
            update_mixed<kernels::rmsprop>(masters.data(), low.data(), masters.size(), options, {},
                                           lowp->options);
        });
        return -1;
    }
    const auto f32 = buffers(0.0f);
    const auto f64 = buffers(0.0);
    py::gil_scoped_release release;
    if (!f32.empty()) update<kernels::rmsprop, float>(f32.data(), f32.size(), options, {});
    if (!f64.empty()) update<kernels::rmsprop, double>(f64.data(), f64.size(), options, {});
    return -1;
}

}  // namespace

void register_rmsprop(py::module_& m) {
    m.def("rmsprop_step", &rmsprop_step_py, py::arg("params"), py::arg("grads"),
          py::arg("square_avgs"), py::arg("grad_avgs").none(true),
          py::arg("momentum_buffers").none(true), py::arg("lr"), py::arg("alpha"), py::arg("eps"),
          py::arg("weight_decay"), py::arg("momentum"), py::arg("centered"), py::arg("maximize"),
          py::arg("decoupled_weight_decay") = false, py::arg("lr_in_momentum") = false,
          py::arg("eps_inside_sqrt") = false, py::arg("check_only") = false,
          py::arg("skip_nonfinite") = false, py::arg("lowp") = py::none(),
          "RMSprop update in place.");
}

}  // namespace optikern::python
