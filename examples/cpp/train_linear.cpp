// Fits y = 3 x0 - 2 x1 + 0.5 with a linear model trained by an optikern Adam optimizer object,
// no Python.
// Prints the SIMD level, the learned weights and the final loss; exits non-zero if it failed
// to learn.
#include <optikern/optikern.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

int main() {
    constexpr int samples = 256;
    constexpr int features = 2;
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(samples * features);
    std::vector<float> y(samples);
    for (int i = 0; i < samples; ++i) {
        x[i * features] = normal(rng);
        x[i * features + 1] = normal(rng);
        y[i] = 3.0f * x[i * features] - 2.0f * x[i * features + 1] + 0.5f;
    }

    // Weights and bias in one buffer: one tensor, one kernel call per step.
    std::vector<float> param(features + 1, 0.0f);
    std::vector<float> grad(param.size());
    std::vector<float> exp_avg(param.size(), 0.0f);
    std::vector<float> exp_avg_sq(param.size(), 0.0f);
    optikern::adam_options options;
    options.lr = 0.05;
    // The optimizer keeps views of the param and its state (in kernels::adam::state_names
    // order; no max_exp_avg_sq without amsgrad), checked once here.
    optikern::optimizer<optikern::kernels::adam, float> adam(options);
    adam.add(param.data(), static_cast<std::int64_t>(param.size()),
             {exp_avg.data(), exp_avg_sq.data(), nullptr});
    const float* grads[] = {grad.data()};

    double loss = 0.0;
    for (int step = 1; step <= 2000; ++step) {
        std::fill(grad.begin(), grad.end(), 0.0f);
        loss = 0.0;
        for (int i = 0; i < samples; ++i) {
            const float* xi = &x[i * features];
            const float error = param[0] * xi[0] + param[1] * xi[1] + param[2] - y[i];
            loss += 0.5 * error * error / samples;
            grad[0] += error * xi[0] / samples;
            grad[1] += error * xi[1] / samples;
            grad[2] += error / samples;
        }
        adam.step(grads, 1);  // checks the gradient, then one fused pass
    }
    std::printf("optikern %s, simd level %s\n", OPTIKERN_VERSION_STRING,
                optikern::simd_level_name(optikern::active_simd_level()));
    std::printf("w = [%.4f, %.4f], b = %.4f, loss = %.3g\n", param[0], param[1], param[2], loss);
    const bool learned = std::fabs(param[0] - 3.0f) < 1e-2f && std::fabs(param[1] + 2.0f) < 1e-2f &&
                         std::fabs(param[2] - 0.5f) < 1e-2f;
    return learned ? 0 : 1;
}
