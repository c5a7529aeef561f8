#pragma once
// The SSD fork's Normalize, PriorBox and DetectionOutput on the device, with
// the semantics of kernels/cpu/detection.h. Enqueued on `stream`, never
// synchronising nor reading device data on the host (a forward may be
// captured into a CUDA graph); a failed launch throws predictor::Error
// naming the kernel.
//
// Results: PriorBox and DetectionOutput's decoding share their arithmetic
// with the CPU (kernels/cpu/detection_box.h, products never fused), so
// priors are the CPU's bits and decoded boxes the CPU's bits up to the last
// bit of double exp (device exp is within 1 ulp of the host's, invisible
// after rounding to float but for rare ties). Candidate order (score
// descending, prior index ascending), NMS and keep_top_k are exact, so the
// kept sets and rows are the CPU's. Normalize across_spatial sums squares
// in double in another order (float rounding of the norm may differ by 1
// ulp); per position it is the CPU's order and bits.

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cpu/detection.h"

namespace predictor::cuda {

// Scratch bytes normalize needs (num floats when across_spatial).
std::size_t normalize_scratch_bytes(int num, bool across_spatial);
void normalize(const float* in, int num, int channels, std::size_t spatial, bool across_spatial, bool channel_shared,
               const float* scale, float eps, float* out, void* scratch, cudaStream_t stream);

void prior_boxes(const detection::PriorBoxGeometry& geometry, float* out, cudaStream_t stream);

// Scratch bytes detection_output needs: decoded boxes, one sort buffer per
// (image, class) of the next power of two >= num_priors entries, the kept
// lists and per-image bookkeeping.
std::size_t detection_output_scratch_bytes(int num, int num_priors, const cpu::DetectionOutputConfig& config);
void detection_output(const float* loc, const float* conf, const float* prior, int num, int num_priors,
                      const cpu::DetectionOutputConfig& config, float* out, void* scratch, cudaStream_t stream);

}  // namespace predictor::cuda
