#pragma once
// The column matrix of a 2-D convolution written straight into the SGEMM's
// packed panels of op(B) (sgemm::pack's layout for the instruction set in
// use), so that the product reads it without a packing pass of its own:
// im2col followed by that pass wrote and then read every entry twice (on
// Inception-v3's 17x17 1x7 / 7x1 layers the packing pass alone took about a
// tenth of the layer; a 1 MB column matrix is written at about the
// machine's copy speed, so the only saving left is not writing it twice).
//
// Entries are the same values im2col writes (zeros in the padding), so a
// product on them gives the same bits as one on im2col's matrix.
//
// Each 16 entries of a panel row are masked 16-float loads: one per run of
// them that lies in one output row (one run in all when the outputs
// continue each other in the image: stride 1 with rows as wide as the
// image's, as 3x3 pad 1, 5x5 pad 2, 1x7 / 7x1), 32 floats with the even ones
// kept for stride 2 across, masked where a tap falls in the padding.
// Applies to 2-D windows of stride 1 or 2 across (any stride down, any
// dilation) whose output rows are 5 or more wide (at most 4 runs in 16
// entries) or continue each other, except 1x1 windows of stride 2 (see
// im2col_packed.cpp). AVX-512 only (the masked loads read nothing outside
// the image); elsewhere im2col_packed_applies is false and callers keep
// im2col.

#include <cstddef>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/sgemm/sgemm.h"

namespace predictor::cpu {

class ThreadPool;

// Whether im2col_packed takes `g` on this CPU (detected_isa() AVX-512, the
// geometry as above).
bool im2col_packed_applies(const PatchGeometry& g);

// The floats im2col_packed writes: sgemm::packed_floats of op(B), rows =
// the window positions, k = channels x taps.
std::size_t im2col_packed_floats(const PatchGeometry& g);

// Writes the column matrix of `image` (g.channels planes of g.image) into
// `out` (im2col_packed_floats(g) floats, 64-byte aligned) as sgemm's packed
// op(B), split over `pool` by rows of the matrix (any thread count gives the
// same floats), and describes it. Needs im2col_packed_applies(g).
sgemm::PackedMatrix im2col_packed(const PatchGeometry& g, const float* image, float* out, ThreadPool* pool);

// The packed matrix's panels of columns (packed_width(kB) window positions
// each, the last one padded with zeros).
int im2col_packed_panels(const PatchGeometry& g);

// Panels [first_panel, last_panel) of what im2col_packed writes (the same
// floats there, nothing elsewhere), on the calling thread, and the whole
// matrix's description: for a caller that splits the columns over its
// threads and has each thread multiply the panels it wrote
// (sgemm::sgemm_packed_ab_columns), so no thread reads what another core
// wrote.
sgemm::PackedMatrix im2col_packed_part(const PatchGeometry& g, const float* image, float* out, int first_panel,
                                       int last_panel);

}  // namespace predictor::cpu
