// optikern: fused optimizer updates over contiguous buffers. The one header C++ users include.
//
//   optikern::optimizer<optikern::kernels::adam, float> adam(optikern::adam_options{});
//   adam.add(param, n, {exp_avg, exp_avg_sq, nullptr});
//   adam.step(grads, 1);
//
// Compile with -fno-math-errno (sqrt vectorises) and -ffp-contract=off (results identical on
// every SIMD level); link OpenMP to split large steps across threads.
#pragma once

#include "optikern/dispatch/mixed.hpp"
#include "optikern/dispatch/quantized.hpp"
#include "optikern/dispatch/table.hpp"
#include "optikern/optimizer.hpp"
#include "optikern/version.hpp"
