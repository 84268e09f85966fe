// Every optimizer's step, from the one binding template: a new optimizer is one line here.
#include "bind_optimizer.hpp"

namespace optikern::python {

void register_optimizers(py::module_& m) {
    register_mixed_config(m);
    // The state arguments keep the names of torch.optim's functional API.
    register_optimizer<kernels::sgd>(m, "sgd", {"momentum_buffers"});
    register_optimizer<kernels::adagrad>(m, "adagrad", {"state_sums"});
    register_optimizer<kernels::rmsprop>(m, "rmsprop",
                                         {"square_avgs", "momentum_buffers", "grad_avgs"});
    register_optimizer<kernels::adam>(m, "adam", {"exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"});
}

}  // namespace optikern::python
