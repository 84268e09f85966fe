// C++-only checks of the kernels and optimizer objects, no Python: every SIMD level and thread
// count gives the bits of the baseline level on one thread (vector bodies, tails, the parallel
// split), for every optimizer, float and double, and the mixed-precision path; registration
// and step checks refuse bad input before writing. Exit code 0 on success.
#include <optikern/optikern.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

namespace {

int failures = 0;

template <class T>
std::vector<T> random_vector(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(normal(rng));
    return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// The 0-d state of one tensor, float32 as torch keeps it, for kernels that have one.
template <class Kernel, std::size_t N>
std::array<optikern::scalar_cell, N> scalar_cells(const typename Kernel::options& options,
                                                  std::array<float, N>& values) {
    std::array<optikern::scalar_cell, N> cells{};
    if constexpr (N > 0)
        for (std::size_t j = 0; j < N; ++j) {
            values[j] = static_cast<float>(Kernel::initial_scalar_state(options, j));
            cells[j] = {&values[j], false};
        }
    return cells;
}

// Registers tensors of `sizes` with an optimizer object of Kernel, runs 3 steps, and returns
// every param and state array (the 0-d state last).
template <class Kernel, class T>
std::vector<std::vector<T>> run_optimizer(const typename Kernel::options& options,
                                          const std::vector<std::int64_t>& sizes) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    constexpr std::size_t n_scalar = optikern::optimizer<Kernel, T>::scalar_count;
    std::vector<std::vector<T>> p, g;
    std::vector<std::array<std::vector<T>, n_state>> state(sizes.size());
    std::vector<std::array<float, n_scalar>> scalars(sizes.size());
    optikern::optimizer<Kernel, T> opt(options);
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const auto n = static_cast<std::size_t>(sizes[t]);
        p.push_back(random_vector<T>(n, static_cast<unsigned>(t)));
        g.emplace_back(n);
    }
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        typename optikern::optimizer<Kernel, T>::state_arrays arrays{};
        for (std::size_t k = 0; k < n_state; ++k)
            if (Kernel::uses_state(options, k)) {
                state[t][k].assign(p[t].size(), static_cast<T>(Kernel::initial_state(options, k)));
                arrays[k] = state[t][k].data();
            }
        opt.add(p[t].data(), sizes[t], arrays, nullptr, true, 0,
                scalar_cells<Kernel>(options, scalars[t]));
    }
    for (int step = 1; step <= 3; ++step) {
        std::vector<const T*> grads;
        for (std::size_t t = 0; t < sizes.size(); ++t) {
            g[t] = random_vector<T>(g[t].size(), static_cast<unsigned>(100 * step + t));
            grads.push_back(g[t].data());
        }
        opt.step(grads.data(), grads.size());
    }
    for (auto& arrays : state)
        for (auto& a : arrays) p.push_back(a);
    for (const auto& values : scalars) p.emplace_back(values.begin(), values.end());
    return p;
}

// The same through the mixed-precision path: bfloat16 params, float32 masters and state.
template <class Kernel, class P>
std::vector<std::uint16_t> run_mixed(const typename Kernel::options& options,
                                     const std::vector<std::int64_t>& sizes) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    constexpr std::size_t n_scalar = optikern::optimizer<Kernel, float, P>::scalar_count;
    std::vector<std::vector<float>> master, g;
    std::vector<std::array<std::vector<float>, n_state>> state(sizes.size());
    std::vector<std::array<float, n_scalar>> scalars(sizes.size());
    std::vector<std::vector<P>> low;
    optikern::optimizer<Kernel, float, P> opt(options);
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const auto n = static_cast<std::size_t>(sizes[t]);
        master.push_back(random_vector<float>(n, static_cast<unsigned>(t)));
        g.push_back(random_vector<float>(n, static_cast<unsigned>(7 + t)));
        low.emplace_back(n);
        for (std::size_t i = 0; i < n; ++i)
            low[t][i] = optikern::lowp::round_nearest<P>(master[t][i]);
    }
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        typename optikern::optimizer<Kernel, float, P>::state_arrays arrays{};
        for (std::size_t k = 0; k < n_state; ++k)
            if (Kernel::uses_state(options, k)) {
                state[t][k].assign(master[t].size(),
                                   static_cast<float>(Kernel::initial_state(options, k)));
                arrays[k] = state[t][k].data();
            }
        opt.add(low[t].data(), sizes[t], arrays, master[t].data(), true, 0,
                scalar_cells<Kernel>(options, scalars[t]));
    }
    optikern::mixed_options mixed;
    mixed.mode = optikern::rounding::stochastic;
    mixed.grad_scale = 8.0;
    std::vector<const float*> grads;
    for (const auto& x : g) grads.push_back(x.data());
    for (int step = 1; step <= 2; ++step) opt.step(grads.data(), grads.size(), mixed);
    std::vector<std::uint16_t> bits;
    for (const auto& tensor : low)
        for (auto h : tensor) bits.push_back(h.bits);
    return bits;
}

optikern::sgd_options sgd_nesterov() {
    optikern::sgd_options o;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.nesterov = true;
    o.weight_decay = 0.01;
    return o;
}

optikern::adagrad_options adagrad_decaying() {
    optikern::adagrad_options o;
    o.lr_decay = 0.01;
    o.weight_decay = 0.01;
    o.initial_accumulator_value = 0.1;
    return o;
}

optikern::rmsprop_options rmsprop_centered() {
    optikern::rmsprop_options o;
    o.centered = true;
    o.momentum = 0.9;
    return o;
}

optikern::adamax_options adamax_decaying() {
    optikern::adamax_options o;
    o.weight_decay = 0.01;
    o.maximize = true;
    return o;
}

optikern::radam_options radam_decoupled() {
    optikern::radam_options o;
    o.beta2 = 0.9;  // 3 steps: the unrectified branch (the Python parity tests run 20 steps)
    o.weight_decay = 0.01;
    o.decoupled_weight_decay = true;
    return o;
}

optikern::adadelta_options adadelta_decaying() {
    optikern::adadelta_options o;
    o.weight_decay = 0.01;
    o.maximize = true;
    return o;
}

optikern::nadam_options nadam_decoupled() {
    optikern::nadam_options o;
    o.weight_decay = 0.1;
    o.momentum_decay = 6e-3;
    o.decoupled_weight_decay = true;
    o.maximize = true;
    return o;
}

// Small step-size bounds so that the clamp binds both ways within the 3 steps.
optikern::rprop_options rprop_clamped() {
    optikern::rprop_options o;
    o.lr = 0.1;
    o.etaplus = 2.0;
    o.step_size_min = 0.06;
    o.step_size_max = 0.3;
    o.maximize = true;
    return o;
}

// t0 = 1: the average starts at the third step, within the 3 steps run.
optikern::asgd_options asgd_averaging() {
    optikern::asgd_options o;
    o.lambd = 0.1;
    o.t0 = 1.0;
    o.weight_decay = 0.01;
    o.maximize = true;
    return o;
}

optikern::adam_options adam_amsgrad() {
    optikern::adam_options o;
    o.amsgrad = true;
    o.weight_decay = 0.01;
    o.maximize = true;
    return o;
}

template <class Error, class F>
void expect_throw(const char* what, F&& f) {
    try {
        f();
    } catch (const Error&) {
        return;
    }
    std::printf("FAIL %s: no exception\n", what);
    ++failures;
}

// 64-bit sizes without allocating them: the thread split covers every element of tensors past
// 2^31 elements exactly once, with 64-bit offsets, for any thread count.
void check_split_past_2_31() {
    struct sized {
        std::int64_t size;
    };
    const std::vector<sized> tensors = {{(std::int64_t{1} << 31) + 1001}, {5}, {3'000'000'000}};
    for (int threads : {1, 2, 3}) {
        optikern::set_num_threads(threads);
        std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> seen(tensors.size());
        std::mutex lock;
        optikern::for_each_range(tensors.data(), tensors.size(),
                                 [&](std::size_t t, std::int64_t begin, std::int64_t end) {
                                     const std::lock_guard<std::mutex> hold(lock);
                                     seen[t].emplace_back(begin, end);
                                 });
        for (std::size_t t = 0; t < tensors.size(); ++t) {
            std::sort(seen[t].begin(), seen[t].end());
            std::int64_t at = 0;
            for (const auto& [begin, end] : seen[t]) {
                if (begin != at || end <= begin) break;
                at = end;
            }
            if (at != tensors[t].size) {
                std::printf("FAIL split of a %lld-element tensor on %d threads\n",
                            static_cast<long long>(tensors[t].size), threads);
                ++failures;
            }
        }
    }
    optikern::set_num_threads(0);
}

// Registration and gradients are checked before anything is written.
void check_validation() {
    using adam = optikern::optimizer<optikern::kernels::adam, float>;
    std::vector<float> a(8), b(8), c(8), d(8);
    adam opt;
    opt.add(a.data(), 8, {b.data(), c.data(), nullptr});
    expect_throw<optikern::overlap_error>("state overlapping a registered param", [&] {
        opt.add(d.data(), 4, {a.data() + 4, d.data() + 4, nullptr});
    });
    expect_throw<std::invalid_argument>("missing state",
                                        [&] { opt.add(d.data(), 8, {nullptr, nullptr, nullptr}); });
    if (opt.size() != 1) {
        std::printf("FAIL a refused tensor was registered\n");
        ++failures;
    }
    const float* overlapping[] = {c.data() + 3};
    expect_throw<optikern::overlap_error>("gradient overlapping state",
                                          [&] { opt.step(overlapping, 1); });
    const float* two[] = {d.data(), d.data()};
    expect_throw<std::invalid_argument>("gradient count", [&] { opt.step(two, 2); });
    if (opt.steps(0) != 0 || a != std::vector<float>(8)) {
        std::printf("FAIL a refused step wrote\n");
        ++failures;
    }
    optikern::adam_options bad;
    bad.lr = -1.0;
    expect_throw<optikern::option_error>("negative lr", [&] { opt.set_options(bad); });
    bad = {};
    bad.amsgrad = true;  // needs max_exp_avg_sq, which was not registered
    expect_throw<std::invalid_argument>("options needing state", [&] { opt.set_options(bad); });
    expect_throw<optikern::option_error>("nesterov without momentum", [] {
        optikern::sgd_options o;
        o.nesterov = true;
        optikern::optimizer<optikern::kernels::sgd, double> sgd(o);
    });
}

template <class Run>
void check_everywhere(const char* name, Run&& run) {
    optikern::set_simd_level(optikern::simd_level::baseline);
    optikern::set_num_threads(1);
    const auto expected = run();
    for (auto level : optikern::available_simd_levels()) {
        for (int threads : {1, 2, 3}) {
            optikern::set_simd_level(level);
            optikern::set_num_threads(threads);
            if (!(run() == expected)) {
                std::printf("FAIL %s at %s with %d threads\n", name,
                            optikern::simd_level_name(level), threads);
                ++failures;
            }
        }
    }
    optikern::set_num_threads(0);
    optikern::set_simd_level(optikern::detected_simd_level());
}

}  // namespace

int main() {
    const std::vector<std::int64_t> sizes = {0,  1,  7,    15,   16,   17,    31,
                                             33, 63, 1023, 1025, 4099, 100003};
    using namespace optikern::kernels;
    check_everywhere("sgd<float>",
                     [&] { return run_optimizer<sgd, float>(sgd_nesterov(), sizes); });
    check_everywhere("sgd<double>",
                     [&] { return run_optimizer<sgd, double>(sgd_nesterov(), sizes); });
    check_everywhere("adagrad<float>",
                     [&] { return run_optimizer<adagrad, float>(adagrad_decaying(), sizes); });
    check_everywhere("adagrad<double>",
                     [&] { return run_optimizer<adagrad, double>(adagrad_decaying(), sizes); });
    check_everywhere("rmsprop<float>",
                     [&] { return run_optimizer<rmsprop, float>(rmsprop_centered(), sizes); });
    check_everywhere("rmsprop<double>",
                     [&] { return run_optimizer<rmsprop, double>(rmsprop_centered(), sizes); });
    check_everywhere("adam<float>",
                     [&] { return run_optimizer<adam, float>(adam_amsgrad(), sizes); });
    check_everywhere("adam<double>",
                     [&] { return run_optimizer<adam, double>(adam_amsgrad(), sizes); });
    check_everywhere("adamax<float>",
                     [&] { return run_optimizer<adamax, float>(adamax_decaying(), sizes); });
    check_everywhere("adamax<double>",
                     [&] { return run_optimizer<adamax, double>(adamax_decaying(), sizes); });
    check_everywhere("radam<float>",
                     [&] { return run_optimizer<radam, float>(radam_decoupled(), sizes); });
    check_everywhere("radam<double>",
                     [&] { return run_optimizer<radam, double>(radam_decoupled(), sizes); });
    check_everywhere("adadelta<float>",
                     [&] { return run_optimizer<adadelta, float>(adadelta_decaying(), sizes); });
    check_everywhere("adadelta<double>",
                     [&] { return run_optimizer<adadelta, double>(adadelta_decaying(), sizes); });
    check_everywhere("nadam<float>",
                     [&] { return run_optimizer<nadam, float>(nadam_decoupled(), sizes); });
    check_everywhere("nadam<double>",
                     [&] { return run_optimizer<nadam, double>(nadam_decoupled(), sizes); });
    check_everywhere("nadam mixed bfloat16", [&] {
        return run_mixed<nadam, optikern::bfloat16>(nadam_decoupled(), sizes);
    });
    check_everywhere("rprop<float>",
                     [&] { return run_optimizer<rprop, float>(rprop_clamped(), sizes); });
    check_everywhere("rprop<double>",
                     [&] { return run_optimizer<rprop, double>(rprop_clamped(), sizes); });
    check_everywhere("asgd<float>",
                     [&] { return run_optimizer<asgd, float>(asgd_averaging(), sizes); });
    check_everywhere("asgd<double>",
                     [&] { return run_optimizer<asgd, double>(asgd_averaging(), sizes); });
    check_everywhere("asgd mixed bfloat16",
                     [&] { return run_mixed<asgd, optikern::bfloat16>(asgd_averaging(), sizes); });
    check_everywhere("sgd mixed bfloat16",
                     [&] { return run_mixed<sgd, optikern::bfloat16>(sgd_nesterov(), sizes); });
    check_everywhere("adagrad mixed float16", [&] {
        return run_mixed<adagrad, optikern::float16>(adagrad_decaying(), sizes);
    });
    check_everywhere("rmsprop mixed bfloat16", [&] {
        return run_mixed<rmsprop, optikern::bfloat16>(rmsprop_centered(), sizes);
    });
    check_everywhere("adam mixed float16",
                     [&] { return run_mixed<adam, optikern::float16>(adam_amsgrad(), sizes); });
    check_validation();
    check_split_past_2_31();
    std::printf("%s: %d failures\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
