// C++-only checks of the kernels, no Python: every SIMD level and thread count gives the bits
// of the baseline level on one thread (vector bodies, tails, the parallel split), for every
// optimizer, float and double, and for the mixed-precision path. Exit code 0 on success.
#include <optikern/optikern.hpp>

#include <cstdio>
#include <cstring>
#include <random>
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

// Runs `steps` Adam/AdamW/amsgrad steps over tensors of `sizes` and returns params and state.
template <class T>
std::vector<std::vector<T>> run_adam(const std::vector<std::int64_t>& sizes) {
    std::vector<std::vector<T>> p, g, m, v, vmax;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const auto n = static_cast<std::size_t>(sizes[t]);
        p.push_back(random_vector<T>(n, static_cast<unsigned>(t)));
        m.emplace_back(n, T(0));
        v.emplace_back(n, T(0));
        vmax.emplace_back(n, T(0));
        g.emplace_back(n);
    }
    optikern::adam_options o;
    o.amsgrad = true;
    o.weight_decay = 0.01;
    o.maximize = true;
    for (std::int64_t step = 1; step <= 3; ++step) {
        std::vector<optikern::adam_buffers<T>> buffers;
        for (std::size_t t = 0; t < sizes.size(); ++t) {
            g[t] = random_vector<T>(g[t].size(), static_cast<unsigned>(100 * step + t));
            buffers.push_back(
                {p[t].data(), g[t].data(), m[t].data(), v[t].data(), vmax[t].data(), sizes[t]});
        }
        optikern::adam_step(buffers.data(), buffers.size(), o, step);
    }
    p.insert(p.end(), m.begin(), m.end());
    p.insert(p.end(), v.begin(), v.end());
    p.insert(p.end(), vmax.begin(), vmax.end());
    return p;
}

template <class T>
std::vector<std::vector<T>> run_rmsprop(const std::vector<std::int64_t>& sizes) {
    std::vector<std::vector<T>> p, g, sq, avg, buf;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const auto n = static_cast<std::size_t>(sizes[t]);
        p.push_back(random_vector<T>(n, static_cast<unsigned>(t)));
        g.push_back(random_vector<T>(n, static_cast<unsigned>(50 + t)));
        sq.emplace_back(n, T(0));
        avg.emplace_back(n, T(0));
        buf.emplace_back(n, T(0));
    }
    optikern::rmsprop_options o;
    o.centered = true;
    o.momentum = 0.9;
    std::vector<optikern::rmsprop_buffers<T>> buffers;
    for (std::size_t t = 0; t < sizes.size(); ++t)
        buffers.push_back(
            {p[t].data(), g[t].data(), sq[t].data(), avg[t].data(), buf[t].data(), sizes[t]});
    for (int step = 0; step < 3; ++step) optikern::rmsprop_step(buffers.data(), buffers.size(), o);
    p.insert(p.end(), sq.begin(), sq.end());
    return p;
}

std::vector<std::uint16_t> run_mixed(const std::vector<std::int64_t>& sizes) {
    std::vector<std::vector<float>> master, m, v, g;
    std::vector<std::vector<optikern::bfloat16>> low;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const auto n = static_cast<std::size_t>(sizes[t]);
        master.push_back(random_vector<float>(n, static_cast<unsigned>(t)));
        g.push_back(random_vector<float>(n, static_cast<unsigned>(7 + t)));
        m.emplace_back(n, 0.0f);
        v.emplace_back(n, 0.0f);
        low.emplace_back(n);
    }
    std::vector<optikern::adam_buffers<float>> masters;
    std::vector<optikern::lowp_tensor<optikern::bfloat16, float>> lowp;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        masters.push_back({master[t].data(), nullptr, m[t].data(), v[t].data(), nullptr, sizes[t]});
        lowp.push_back({low[t].data(), g[t].data()});
    }
    optikern::mixed_options mixed;
    mixed.mode = optikern::rounding::stochastic;
    mixed.grad_scale = 8.0;
    for (std::int64_t step = 1; step <= 2; ++step) {
        mixed.stream = static_cast<std::uint64_t>(step);
        optikern::adam_step_mixed(masters.data(), lowp.data(), masters.size(),
                                  optikern::adam_options{}, step, mixed);
    }
    std::vector<std::uint16_t> bits;
    for (const auto& tensor : low)
        for (auto h : tensor) bits.push_back(h.bits);
    return bits;
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
    check_everywhere("adam<float>", [&] { return run_adam<float>(sizes); });
    check_everywhere("adam<double>", [&] { return run_adam<double>(sizes); });
    check_everywhere("rmsprop<float>", [&] { return run_rmsprop<float>(sizes); });
    check_everywhere("rmsprop<double>", [&] { return run_rmsprop<double>(sizes); });
    check_everywhere("adam mixed bfloat16", [&] { return run_mixed(sizes); });
    std::printf("%s: %d failures\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
