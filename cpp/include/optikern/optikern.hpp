// optikern: fused optimizer updates over contiguous buffers. The one header C++ users include.
//
//   optikern::adam_buffers<float> t{param, grad, exp_avg, exp_avg_sq, nullptr, n};
//   optikern::adam_options o;  o.lr = 1e-3;
//   optikern::adam_step(&t, 1, o, /*step=*/1);
//
// Compile with -fno-math-errno (sqrt vectorises) and -ffp-contract=off (results identical on
// every SIMD level); link OpenMP to split large steps across threads.
#pragma once

#include "optikern/dispatch/mixed.hpp"
#include "optikern/dispatch/table.hpp"
#include "optikern/version.hpp"
