// _core.sgd_step: SGD (momentum, dampening, Nesterov) over every tensor of a step in one call.
#include <optikern/optikern.hpp>

#include "bind_common.hpp"

namespace optikern::python {

namespace {

std::int64_t sgd_step_py(py::handle params,
                         py::handle grads,
                         py::handle momentum_buffers,
                         double lr,
                         double momentum,
                         double dampening,
                         double weight_decay,
                         bool nesterov,
                         bool maximize,
                         bool first_step,
                         bool decoupled_weight_decay,
                         bool lr_in_momentum,
                         bool check_only,
                         bool skip_nonfinite,
                         py::handle lowp_arg) {
    require_at_least(lr, 0.0, "learning rate");
    require_at_least(momentum, 0.0, "momentum value");
    require_at_least(weight_decay, 0.0, "weight_decay value");
    if (nesterov && (momentum <= 0.0 || dampening != 0.0))
        throw py::value_error("Nesterov momentum requires a momentum and zero dampening");
    const bool use_momentum = momentum != 0.0;
    const auto lowp = parse_lowp(lowp_arg);
    const bool own_masters = !lowp || lowp->master_weights;
    const step_arrays arrays(
        {{"params", params, true, own_masters ? -1 : py::detail::npy_api::NPY_USHORT_},
         {"grads", grads, false, lowp ? lowp->grad_type_num() : -1},
         {"momentum_buffers", use_momentum ? momentum_buffers : py::none(), true, state_type(lowp)},
         {"lowp_params", lowp && own_masters ? lowp->params : py::none(), true,
          py::detail::npy_api::NPY_USHORT_}});
    const sgd_options options{lr,
                              momentum,
                              dampening,
                              weight_decay,
                              nesterov,
                              maximize,
                              decoupled_weight_decay,
                              lr_in_momentum};
    const auto buffers = [&](auto zero) {
        using T = decltype(zero);
        return arrays.collect<T>([&](std::size_t t) {
            return sgd_buffers<T>{arrays.data<T>(0, t), arrays.data<T>(1, t), arrays.data<T>(2, t),
                                  arrays.size(t)};
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
            update_mixed<kernels::sgd>(masters.data(), low.data(), masters.size(), options,
                                       {1, first_step}, lowp->options);
        });
        return -1;
    }
    const auto f32 = buffers(0.0f);
    const auto f64 = buffers(0.0);
    py::gil_scoped_release release;
    if (!f32.empty()) update<kernels::sgd, float>(f32.data(), f32.size(), options, {1, first_step});
    if (!f64.empty())
        update<kernels::sgd, double>(f64.data(), f64.size(), options, {1, first_step});
    return -1;
}

}  // namespace

void register_sgd(py::module_& m) {
    m.def("sgd_step", &sgd_step_py, py::arg("params"), py::arg("grads"),
          py::arg("momentum_buffers").none(true), py::arg("lr"), py::arg("momentum"),
          py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"),
          py::arg("first_step"), py::arg("decoupled_weight_decay") = false,
          py::arg("lr_in_momentum") = false, py::arg("check_only") = false,
          py::arg("skip_nonfinite") = false, py::arg("lowp") = py::none(),
          "SGD update in place; first_step=True starts each momentum buffer as a copy of the "
          "gradient (torch's rule).");
}

}  // namespace optikern::python
