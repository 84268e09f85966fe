// C++-only checks of the kernels and optimizer objects, no Python: every SIMD level and thread
// count gives the bits of the baseline level on one thread (vector bodies, tails, the parallel
// split), for every optimizer, float and double, and the mixed-precision path; registration
// and step checks refuse bad input before writing. Exit code 0 on success.
#include <optikern/optikern.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

namespace {

int failures = 0;

// n normal values from seed, made once: every level and thread count runs on the same data,
// and drawing it again for each run took most of the suite's time.
template <class T>
const std::vector<T>& random_vector(std::size_t n, unsigned seed) {
    static std::map<std::pair<std::size_t, unsigned>, std::vector<T>> made;
    auto [at, is_new] = made.try_emplace({n, seed});
    if (is_new) {
        std::mt19937 rng(seed);
        std::normal_distribution<double> normal(0.0, 1.0);
        at->second.resize(n);
        for (auto& x : at->second) x = static_cast<T>(normal(rng));
    }
    return at->second;
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

// Registers tensors of `sizes` (element counts, or tensor_shapes) with an optimizer object of
// Kernel, runs 3 steps, and returns every param and state array (the 0-d state last).
template <class Kernel, class T, class Shape>
std::vector<std::vector<T>> run_optimizer(const typename Kernel::options& options,
                                          const std::vector<Shape>& sizes) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    constexpr std::size_t n_scalar = optikern::optimizer<Kernel, T>::scalar_count;
    std::vector<std::vector<T>> p, g;
    std::vector<std::array<std::vector<T>, n_state>> state(sizes.size());
    std::vector<std::array<float, n_scalar>> scalars(sizes.size());
    optikern::optimizer<Kernel, T> opt(options);
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const auto n = static_cast<std::size_t>(optikern::tensor_shape(sizes[t]).size);
        p.push_back(random_vector<T>(n, static_cast<unsigned>(t)));
        g.emplace_back(n);
    }
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        typename optikern::optimizer<Kernel, T>::state_arrays arrays{};
        for (std::size_t k = 0; k < n_state; ++k) {
            const std::int64_t n = optikern::dispatch::state_elements<Kernel>(k, sizes[t]);
            if (Kernel::uses_state(options, k) && n >= 0) {
                state[t][k].assign(static_cast<std::size_t>(n),
                                   static_cast<T>(Kernel::initial_state(options, k)));
                arrays[k] = state[t][k].data();
            }
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

// The same with every state in 8 bits (quantize.hpp): params, codes and scales as bytes.
template <class Kernel>
std::vector<std::uint8_t> run_quantized(const typename Kernel::options& options,
                                        const std::vector<std::int64_t>& sizes) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    std::vector<std::vector<float>> p, g;
    std::vector<std::array<std::vector<std::uint8_t>, n_state>> codes(sizes.size());
    std::vector<std::array<std::vector<float>, n_state>> absmax(sizes.size());
    optikern::optimizer<Kernel, float> opt(options);
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const auto n = static_cast<std::size_t>(sizes[t]);
        p.push_back(random_vector<float>(n, static_cast<unsigned>(t)));
        g.emplace_back(n);
        optikern::quantized_states<Kernel> quantized{};
        for (std::size_t k = 0; k < n_state; ++k) {
            if (!Kernel::uses_state(options, k)) continue;
            const auto& map = optikern::code_map::dynamic(Kernel::state_signed[k]);
            const std::vector<float> initial(n,
                                             static_cast<float>(Kernel::initial_state(options, k)));
            codes[t][k].resize(n);
            absmax[t][k].resize(static_cast<std::size_t>(optikern::quantization_blocks(sizes[t])));
            optikern::quantize_blockwise(initial.data(), sizes[t], map, codes[t][k].data(),
                                         absmax[t][k].data());
            quantized[k] = {codes[t][k].data(), absmax[t][k].data(), &map};
        }
        opt.add(p[t].data(), sizes[t], {}, nullptr, true, 0, {}, quantized);
    }
    for (int step = 1; step <= 3; ++step) {
        std::vector<const float*> grads;
        for (std::size_t t = 0; t < sizes.size(); ++t) {
            g[t] = random_vector<float>(g[t].size(), static_cast<unsigned>(100 * step + t));
            grads.push_back(g[t].data());
        }
        opt.step(grads.data(), grads.size());
    }
    std::vector<std::uint8_t> out;
    const auto append = [&](const void* data, std::size_t bytes) {
        const auto* b = static_cast<const std::uint8_t*>(data);
        out.insert(out.end(), b, b + bytes);
    };
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        append(p[t].data(), p[t].size() * sizeof(float));
        for (std::size_t k = 0; k < n_state; ++k) {
            append(codes[t][k].data(), codes[t][k].size());
            append(absmax[t][k].data(), absmax[t][k].size() * sizeof(float));
        }
    }
    return out;
}

// Every level's codec picks the nearest code (ties to the lower) for values at and around
// every decision point, as a linear search does.
void check_codec_nearest() {
    for (bool is_signed : {true, false}) {
        const auto& map = optikern::code_map::dynamic(is_signed);
        const float* codes = map.codes();
        std::vector<float> values;
        for (int j = 0; j + 1 < optikern::code_map::size; ++j) {
            float x = (codes[j] + codes[j + 1]) / 2.0f;
            for (int k = 0; k < 8; ++k) x = std::nextafter(x, -2.0f);
            for (int k = 0; k < 16; ++k, x = std::nextafter(x, 2.0f)) values.push_back(x);
        }
        values.push_back(-0.0f);  // clamps to +0 under an unsigned map
        values.resize((values.size() + 255) / 256 * 256, 0.0f);
        for (std::size_t b = 0; b < values.size(); b += 256) values[b] = 1.0f;  // absmax 1
        for (auto level : optikern::available_simd_levels())
            for (bool byte_permutes : {true, false}) {
                const auto codec = optikern::dispatch::select_codec(level, byte_permutes);
                std::vector<std::uint8_t> q(values.size());
                for (std::size_t b = 0; b < values.size(); b += 256)
                    codec.quantize(map, values.data() + b, 256, q.data() + b);
                for (std::size_t i = 0; i < values.size(); ++i) {
                    const float x = std::max(values[i], codes[0]);
                    int nearest = 0;
                    for (int j = 1; j < optikern::code_map::size; ++j)
                        if (std::fabs(codes[j] - x) < std::fabs(x - codes[nearest])) nearest = j;
                    if (q[i] != nearest) {
                        std::printf(
                            "FAIL codec %s byte_permutes=%d signed=%d: %.9g -> %d, nearest %d\n",
                            optikern::simd_level_name(level), byte_permutes, is_signed, x, q[i],
                            nearest);
                        ++failures;
                        break;
                    }
                }
            }
    }
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

optikern::lion_options lion_decaying() {
    optikern::lion_options o;
    o.lr = 0.01;
    o.weight_decay = 0.1;
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

optikern::adafactor_options adafactor_decaying() {
    optikern::adafactor_options o;
    o.lr = 0.05;
    o.weight_decay = 0.1;
    o.maximize = true;
    return o;
}

optikern::lamb_options lamb_bounded() {
    optikern::lamb_options o;
    o.lr = 0.01;
    o.weight_decay = 0.01;
    o.max_coeff = 0.8;  // reached: the trust ratio is near 1 on random data
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
    std::vector<float> e(8), f(8);
    expect_throw<std::invalid_argument>("a step count past max_steps", [&] {
        opt.add(d.data(), 8, {e.data(), f.data(), nullptr}, nullptr, false,
                optikern::max_steps + 1);
    });
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
    {  // 16-bit params of a kernel with a norm phase: the float32 step of the masters, whole
        std::vector<optikern::bfloat16> low(40);  // zeros, as their masters
        std::vector<float> master(40), m(40), v(40), p32(40), m32(40), v32(40), g(40);
        for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(i % 7) - 2.5f;
        optikern::optimizer<optikern::kernels::lamb, float, optikern::bfloat16> mixed;
        mixed.add(low.data(), 40, {m.data(), v.data()}, master.data());
        optikern::optimizer<optikern::kernels::lamb, float> plain;
        plain.add(p32.data(), 40, {m32.data(), v32.data()});
        const float* grads[] = {g.data()};
        for (int step = 0; step < 2; ++step) {
            mixed.step(grads, 1);
            plain.step(grads, 1);
        }
        if (master != p32 || m != m32 || v != v32 || master == std::vector<float>(40)) {
            std::printf("FAIL 16-bit LAMB masters differ from float32 LAMB\n");
            ++failures;
        }
    }
}

// Every conversion of the mixed-precision pass, through one level's vector policy V (whole
// vectors, then its scalar tail) or, with simd::scalar, through the scalar functions alone.
template <class P>
struct conversions {
    std::vector<std::uint16_t> patterns;  // every 16-bit pattern
    std::vector<float> floats;            // every exponent, rounding boundaries, NaN, inf
    std::vector<float> widened, unscaled;
    std::vector<P> nearest, stochastic;
    // all_round_to over chunks of 37 (whole vectors and tails): of the patterns from their
    // widened values (false only around signalling NaN), of the stochastic roundings.
    std::vector<char> widened_round_to, stochastic_round_to;
    // restart_stale of masters `floats` against the stochastic roundings, a few of them edited,
    // under each rounding mode.
    std::vector<float> restarted_nearest, restarted_stochastic;

    bool operator==(const conversions& o) const {
        const auto bits = [](const std::vector<P>& v) {
            std::vector<std::uint16_t> b;
            for (auto h : v) b.push_back(h.bits);
            return b;
        };
        return same_bits(widened, o.widened) && same_bits(unscaled, o.unscaled) &&
               bits(nearest) == bits(o.nearest) && bits(stochastic) == bits(o.stochastic) &&
               widened_round_to == o.widened_round_to &&
               stochastic_round_to == o.stochastic_round_to &&
               same_bits(restarted_nearest, o.restarted_nearest) &&
               same_bits(restarted_stochastic, o.restarted_stochastic);
    }
};

template <class V, class P>
OPTIKERN_INLINE std::vector<char> round_to_by_chunk(const float* x,
                                                    const P* value,
                                                    std::int64_t n) {
    std::vector<char> out;
    for (std::int64_t at = 0; at < n; at += 37)
        out.push_back(optikern::lowp::all_round_to<V>(x + at, value + at,
                                                      std::min<std::int64_t>(37, n - at)));
    return out;
}

template <class V, class P>
OPTIKERN_INLINE void convert(conversions<P>& c) {
    namespace lowp = optikern::lowp;
    const auto n16 = static_cast<std::int64_t>(c.patterns.size());
    const auto n = static_cast<std::int64_t>(c.floats.size());
    const auto* in = reinterpret_cast<const P*>(c.patterns.data());
    c.widened.assign(c.patterns.size(), 0.0f);
    c.unscaled.assign(c.patterns.size(), 0.0f);
    c.nearest.assign(c.floats.size(), P{});
    c.stochastic.assign(c.floats.size(), P{});
    lowp::widen<V>(in, c.widened.data(), n16);
    lowp::unscale<V>(in, c.unscaled.data(), n16, 1.0f / 1024.0f);
    lowp::round_nearest<V>(c.floats.data(), c.nearest.data(), n);
    // Elements from just below 2^32, where the stream's key changes.
    lowp::round_stochastic<V>(c.floats.data(), c.stochastic.data(), n, lowp::random_base(3, 5, 7),
                              (std::uint64_t{1} << 32) - 12345);
    c.widened_round_to = round_to_by_chunk<V>(c.widened.data(), in, n16);
    c.stochastic_round_to = round_to_by_chunk<V>(c.floats.data(), c.stochastic.data(), n);
    std::vector<P> edited = c.stochastic;
    // Sparse edits (a vector holding two would be fixed lane by lane), one 16-bit step
    // either way: the edits a stochastic rounding could have made.
    for (std::size_t i = 0; i < edited.size(); i += 37)
        edited[i].bits = static_cast<std::uint16_t>(edited[i].bits + (i % 2 ? 1 : 0xFFFF));
    c.restarted_nearest = c.floats;
    c.restarted_stochastic = c.floats;
    lowp::restart_stale<V>(c.restarted_nearest.data(), edited.data(), n, false);
    lowp::restart_stale<V>(c.restarted_stochastic.data(), edited.data(), n, true);
}

#if OPTIKERN_X86
template <class P>
OPTIKERN_TARGET("avx2,f16c")
OPTIKERN_FLATTEN void convert_avx2(conversions<P>& c) {
    convert<optikern::simd::avx2<float>>(c);
}

template <class P>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN void convert_avx512(conversions<P>& c) {
    convert<optikern::simd::avx512<float>>(c);
}
#endif

std::vector<float> conversion_inputs() {
    std::vector<std::uint32_t> bits;
    for (std::uint32_t sign : {0u, 0x80000000u})
        for (std::uint32_t exponent = 0; exponent < 256; ++exponent)
            // Around the rounding boundaries of both formats (bit 13 of float16's last
            // mantissa bit, bit 16 of bfloat16's), odd and even, and the mantissa's ends.
            for (std::uint32_t mantissa :
                 {0x0u,      0x1u,      0xFFFu,    0x1000u,   0x1001u,   0x1FFFu,
                  0x2000u,   0x3000u,   0x7FFFu,   0x8000u,   0x8001u,   0xFFFFu,
                  0x10000u,  0x18000u,  0x17FFFu,  0x7FE000u, 0x7FEFFFu, 0x7FF000u,
                  0x7FF001u, 0x7FFFFFu, 0x400000u, 0x400001u, 0x7F7FFFu, 0x7F8000u})
                bits.push_back(sign | exponent << 23 | mantissa);
    for (std::uint64_t u = 0; u < (std::uint64_t{1} << 32); u += 4099)  // a sweep of everything
        bits.push_back(static_cast<std::uint32_t>(u));
    bits.push_back(0x477FEFFFu);  // just below 65520, the float16 overflow boundary
    bits.push_back(0x477FF000u);  // 65520
    bits.push_back(0x7F7FFFFFu);  // the largest float
    bits.push_back(0x33000000u);  // 2^-25, half the smallest float16 subnormal: ties to 0
    bits.push_back(0x33000001u);
    std::vector<float> floats;
    for (auto u : bits) floats.push_back(optikern::lowp::float_of(u));
    return floats;
}

// The vector conversions give the scalar functions' bits on every input.
template <class P>
void check_conversions(const char* name) {
    conversions<P> expected;
    for (std::uint32_t h = 0; h < 0x10000u; ++h)
        expected.patterns.push_back(static_cast<std::uint16_t>(h));
    expected.floats = conversion_inputs();
    conversions<P> tested = expected;
    convert<optikern::simd::scalar<float>>(expected);
    const auto count = [](const std::vector<char>& v) { return std::count(v.begin(), v.end(), 1); };
    if (count(expected.widened_round_to) == 0 || count(expected.stochastic_round_to) == 0 ||
        count(expected.widened_round_to) == static_cast<long>(expected.widened_round_to.size())) {
        std::printf("FAIL %s: all_round_to cases do not mix true and false\n", name);
        ++failures;
    }
#if OPTIKERN_X86
    for (auto level : optikern::available_simd_levels()) {
        if (level == optikern::simd_level::baseline) continue;
        if (level == optikern::simd_level::avx2)
            convert_avx2(tested);
        else
            convert_avx512(tested);
        if (!(tested == expected)) {
            std::printf("FAIL %s conversions at %s\n", name, optikern::simd_level_name(level));
            ++failures;
        }
    }
#endif
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
    check_everywhere("lion<float>",
                     [&] { return run_optimizer<lion, float>(lion_decaying(), sizes); });
    check_everywhere("lion<double>",
                     [&] { return run_optimizer<lion, double>(lion_decaying(), sizes); });
    check_everywhere("lamb<float>",
                     [&] { return run_optimizer<lamb, float>(lamb_bounded(), sizes); });
    check_everywhere("lamb<double>",
                     [&] { return run_optimizer<lamb, double>(lamb_bounded(), sizes); });
    // Adafactor: vectors, matrices (vector bodies and tails along a row, several row blocks
    // of 64 and column blocks of 4096) and batches of matrices.
    const std::vector<optikern::tensor_shape> factored = {
        {0}, {1}, {7}, {100003}, {1, 1, 1}, {1, 7, 33}, {1, 3, 17}, {2, 130, 1100}, {1, 3, 9000}};
    check_everywhere("adafactor<float>", [&] {
        return run_optimizer<adafactor, float>(adafactor_decaying(), factored);
    });
    check_everywhere("adafactor<double>", [&] {
        return run_optimizer<adafactor, double>(adafactor_decaying(), factored);
    });
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
    check_everywhere("sgd 8-bit state", [&] { return run_quantized<sgd>(sgd_nesterov(), sizes); });
    check_everywhere("rmsprop 8-bit state",
                     [&] { return run_quantized<rmsprop>(rmsprop_centered(), sizes); });
    check_everywhere("adam 8-bit state",
                     [&] { return run_quantized<adam>(adam_amsgrad(), sizes); });
    check_codec_nearest();
    check_conversions<optikern::bfloat16>("bfloat16");
    check_conversions<optikern::float16>("float16");
    check_validation();
    check_split_past_2_31();
    std::printf("%s: %d failures\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
