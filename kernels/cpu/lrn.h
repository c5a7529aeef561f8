#pragma once
// Local response normalisation on NCHW data, as BVLC Caffe computes it.
//  - Across channels: y = x * (k + alpha / n * sum of x^2 over the n
//    channels centred on x's, zero padded)^-beta.
//  - Within a channel: Caffe composes it from layers, square -> AVE pooling
//    (kernel n, stride 1, pad (n - 1) / 2, Caffe's divisor) -> power
//    (shift 1, scale alpha, power -beta) -> product with x, so
//    y = x * (1 + alpha * average of x^2 over the n x n window)^-beta; k is
//    not used.
// n (local_size) is odd. out may equal in. Large inputs are split over
// `pool`'s threads (null: the calling thread alone) without changing any
// result: across channels by spatial position, within a channel by plane.

#include <cstddef>

#include "kernels/cpu/cpu_features.h"

namespace predictor::cpu {

class ThreadPool;

// Floats of scratch each kernel needs; lrn_within_channel's for a pool of
// `threads` (pool_threads(pool) of the call: each thread normalises its
// planes in two planes of its own).
std::size_t lrn_across_channels_scratch(int channels, std::size_t spatial);
std::size_t lrn_within_channel_scratch(int height, int width, int threads = 1);

void lrn_across_channels(const float* in, int num, int channels, std::size_t spatial, int local_size, float alpha,
                         float beta, float k, float* out, float* scratch, ThreadPool* pool = nullptr);
void lrn_within_channel(const float* in, int num, int channels, int height, int width, int local_size, float alpha,
                        float beta, float* out, float* scratch, ThreadPool* pool = nullptr);

// The same with the instruction set given (tests, benchmarks): `isa` must be
// one the CPU supports; the overloads above use detected_isa(). Every
// instruction set computes the same bits.
void lrn_across_channels(Isa isa, const float* in, int num, int channels, std::size_t spatial, int local_size,
                         float alpha, float beta, float k, float* out, float* scratch, ThreadPool* pool = nullptr);
void lrn_within_channel(Isa isa, const float* in, int num, int channels, int height, int width, int local_size,
                        float alpha, float beta, float* out, float* scratch, ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
