// Every optimizer, from the binding templates: a new optimizer is two lines here.
#include "bind_optimizer.hpp"
#include "group.hpp"

namespace optikern::python {

void register_optimizers(py::module_& m) {
    register_mixed_config(m);
    // The state arguments keep the names of torch.optim's functional API.
    register_optimizer<kernels::sgd>(m, "sgd", {"momentum_buffers"});
    register_optimizer<kernels::adagrad>(m, "adagrad", {"state_sums"});
    register_optimizer<kernels::rmsprop>(m, "rmsprop",
                                         {"square_avgs", "momentum_buffers", "grad_avgs"});
    register_optimizer<kernels::adam>(m, "adam", {"exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"});
    register_optimizer<kernels::adamax>(m, "adamax", {"exp_avgs", "exp_infs"});
    register_optimizer<kernels::radam>(m, "radam", {"exp_avgs", "exp_avg_sqs"});
    register_optimizer<kernels::adadelta>(m, "adadelta", {"square_avgs", "acc_deltas"});
    register_optimizer<kernels::lion>(m, "lion", {"exp_avgs"});
    register_optimizer<kernels::lamb>(m, "lamb", {"exp_avgs", "exp_avg_sqs"});
    register_optimizer<kernels::adafactor>(m, "adafactor", {"row_vars", "col_vars", "variances"});
    register_optimizer<kernels::nadam>(m, "nadam", {"exp_avgs", "exp_avg_sqs", "mu_products"});
    register_optimizer<kernels::rprop>(m, "rprop", {"prevs", "step_sizes"});
    register_optimizer<kernels::asgd>(m, "asgd", {"axs", "etas", "mus"});
    register_optimizer<kernels::sparse_adam>(m, "sparse_adam", {"exp_avg", "exp_avg_sq"});
    register_stale_group(m);
    register_group<kernels::sgd>(m, "SGDGroup");
    register_group<kernels::adagrad>(m, "AdagradGroup");
    register_group<kernels::rmsprop>(m, "RMSpropGroup");
    register_group<kernels::adam>(m, "AdamGroup");
    register_group<kernels::adamax>(m, "AdamaxGroup");
    register_group<kernels::radam>(m, "RAdamGroup");
    register_group<kernels::adadelta>(m, "AdadeltaGroup");
    register_group<kernels::lion>(m, "LionGroup");
    register_group<kernels::lamb>(m, "LAMBGroup");
    register_group<kernels::adafactor>(m, "AdafactorGroup");
    register_group<kernels::nadam>(m, "NAdamGroup");
    register_group<kernels::rprop>(m, "RpropGroup");
    register_group<kernels::asgd>(m, "ASGDGroup");
}

void register_stale_group(py::module_& m) {
    py::register_exception<stale_group>(m, "StaleGroup", PyExc_RuntimeError);
}

}  // namespace optikern::python
