#pragma once
// Softmax along one axis of data viewed as outer x channels x inner (the
// axis is the middle one), numerically stable: exp(x - max) / sum. Large
// inputs are split over `pool`'s threads (null: the calling thread alone)
// by inner position or outer row; the result does not change.

#include <cstddef>

namespace predictor::cpu {

class ThreadPool;

// Floats of scratch softmax needs.
std::size_t softmax_scratch(std::size_t inner);

// out may equal in.
void softmax(const float* in, std::size_t outer, int channels, std::size_t inner, float* out, float* scratch,
             ThreadPool* pool = nullptr);

}  // namespace predictor::cpu
