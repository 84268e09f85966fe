// Compiler and platform macros shared by every optikern header.
#pragma once

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define OPTIKERN_X86 1
#else
#define OPTIKERN_X86 0
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define OPTIKERN_INLINE __forceinline
#define OPTIKERN_RESTRICT __restrict
#define OPTIKERN_TARGET(isa)
#define OPTIKERN_FLATTEN
#else
#define OPTIKERN_INLINE inline __attribute__((always_inline))
#define OPTIKERN_RESTRICT __restrict__
// Compiles one function for an instruction set without a global -m flag, so a single
// binary carries every level and picks one at run time.
#define OPTIKERN_TARGET(isa) __attribute__((target(isa)))
// Inlines the whole kernel template into the target-tagged entry point, so the loop body is
// generated for that entry point's instruction set.
#define OPTIKERN_FLATTEN __attribute__((flatten))
#endif
