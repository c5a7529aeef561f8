#include "kernels/cpu/convolution.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"

namespace predictor::cpu {

namespace {

// Below this many output positions per image a gemm is thin enough that
// batching images into one wider gemm pays for the extra copies.
constexpr std::size_t kMinGemmColumns = 256;

bool is_pointwise(const PatchGeometry& p) {
  for (int a = 0; a < p.num_axes; ++a) {
    if (p.kernel[a] != 1 || p.stride[a] != 1 || p.pad[a] != 0) return false;
  }
  return true;
}

bool use_2d_im2col(const ConvGeometry& g) { return g.patches.num_axes == 2 && !g.force_nd; }

void im2col(const ConvGeometry& g, const float* image, float* col, std::size_t ld) {
  if (use_2d_im2col(g)) {
    im2col_2d(g.patches, image, col, ld);
  } else {
    im2col_nd(g.patches, image, col, ld);
  }
}

void col2im(const ConvGeometry& g, const float* col, float* image) {
  if (use_2d_im2col(g)) {
    col2im_2d(g.patches, col, image);
  } else {
    col2im_nd(g.patches, col, image);
  }
}

// Rows of the column matrix: (channel, kernel tap) pairs over all groups.
std::size_t column_rows(const PatchGeometry& p) { return static_cast<std::size_t>(p.channels) * kernel_size(p); }

// The per-group gemms of a convolution: out (out_channels x ldc-strided rows)
// = weights x col (column_rows x ld-strided rows), `columns` wide.
void grouped_gemm(const ConvGeometry& g, int columns, const float* weights, const float* col, std::size_t ld,
                  float* out, std::size_t ldc) {
  const int group_out = g.out_channels / g.group;
  const int group_rows = static_cast<int>(column_rows(g.patches) / g.group);
  for (int gr = 0; gr < g.group; ++gr) {
    gemm(false, false, group_out, columns, group_rows, 1.0f,
         weights + static_cast<std::size_t>(gr) * group_out * group_rows, group_rows,
         col + static_cast<std::size_t>(gr) * group_rows * ld, static_cast<int>(ld), 0.0f,
         out + static_cast<std::size_t>(gr) * group_out * ldc, static_cast<int>(ldc));
  }
}

}  // namespace

bool conv_method_applies(const ConvGeometry& g, ConvMethod method) {
  switch (method) {
    case ConvMethod::kIm2col:
      return g.patches.num_axes >= 1;
    case ConvMethod::kPointwise:
      return is_pointwise(g.patches);
    case ConvMethod::kDepthwise:
      return g.patches.num_axes == 2 && !g.force_nd && g.in_channels == g.group &&
             g.patches.kernel[1] <= kMaxDepthwiseKernelWidth;
  }
  return false;
}

ConvPlan plan_convolution(const ConvGeometry& g, int batch) {
  ConvPlan plan;
  if (g.group > 1 && conv_method_applies(g, ConvMethod::kDepthwise)) {
    plan.method = ConvMethod::kDepthwise;
    return plan;
  }
  plan.method = conv_method_applies(g, ConvMethod::kPointwise) ? ConvMethod::kPointwise : ConvMethod::kIm2col;
  const std::size_t columns = grid_size(g.patches);
  if (batch > 1 && columns < kMinGemmColumns) {
    const std::size_t images = (kMinGemmColumns + columns - 1) / columns;
    plan.images_per_gemm = static_cast<int>(std::min<std::size_t>(images, batch));
  }
  return plan;
}

std::size_t convolution_scratch_floats(const ConvGeometry& g, const ConvPlan& plan) {
  if (plan.method == ConvMethod::kDepthwise) return 0;
  if (plan.method == ConvMethod::kPointwise && plan.images_per_gemm == 1) return 0;
  const std::size_t columns = grid_size(g.patches) * plan.images_per_gemm;
  const std::size_t wide_output = plan.images_per_gemm > 1 ? static_cast<std::size_t>(g.out_channels) * columns : 0;
  return column_rows(g.patches) * columns + wide_output;
}

void convolution_forward(const ConvGeometry& g, const ConvPlan& plan, int batch, const float* input,
                         const float* weights, const float* bias, float* output, float* scratch) {
  const PatchGeometry& p = g.patches;
  const std::size_t spatial = grid_size(p);
  const std::size_t in_image = static_cast<std::size_t>(g.in_channels) * image_size(p);
  const std::size_t out_image = static_cast<std::size_t>(g.out_channels) * spatial;
  if (plan.method == ConvMethod::kDepthwise) {
    for (int n = 0; n < batch; ++n) {
      depthwise_conv2d(p, g.out_channels / g.in_channels, input + n * in_image, weights, bias, output + n * out_image);
    }
    return;
  }
  const bool pointwise = plan.method == ConvMethod::kPointwise;
  for (int first = 0; first < batch; first += plan.images_per_gemm) {
    const int images = std::min(plan.images_per_gemm, batch - first);
    const std::size_t ld = spatial * images;
    const float* col = scratch;
    if (pointwise && images == 1) {
      col = input + first * in_image;  // the input is its own column matrix
    } else {
      for (int i = 0; i < images; ++i) {
        const float* image = input + (first + i) * in_image;
        float* dst = scratch + i * spatial;
        if (pointwise) {
          for (int c = 0; c < g.in_channels; ++c) {
            std::memcpy(dst + c * ld, image + c * spatial, spatial * sizeof(float));
          }
        } else {
          im2col(g, image, dst, ld);
        }
      }
    }
    if (images == 1) {
      float* out = output + first * out_image;
      grouped_gemm(g, static_cast<int>(spatial), weights, col, ld, out, spatial);
      add_channel_bias(g.out_channels, spatial, bias, out);
      continue;
    }
    // One wide product for all the images, then each image's rows move to
    // their place in the output, picking up the bias on the way.
    float* wide = scratch + column_rows(p) * ld;
    grouped_gemm(g, static_cast<int>(ld), weights, col, ld, wide, ld);
    for (int i = 0; i < images; ++i) {
      float* out = output + (first + i) * out_image;
      for (int o = 0; o < g.out_channels; ++o) {
        const float* src = wide + o * ld + i * spatial;
        float* dst = out + o * spatial;
        if (bias) {
          const float b = bias[o];
          for (std::size_t s = 0; s < spatial; ++s) dst[s] = src[s] + b;
        } else {
          std::memcpy(dst, src, spatial * sizeof(float));
        }
      }
    }
  }
}

bool deconv_is_pointwise(const ConvGeometry& g) { return is_pointwise(g.patches); }

std::size_t deconvolution_scratch_floats(const ConvGeometry& g) {
  return deconv_is_pointwise(g) ? 0 : column_rows(g.patches) * grid_size(g.patches);
}

void deconvolution_forward(const ConvGeometry& g, int batch, const float* input, const float* weights,
                           const float* bias, float* output, float* scratch) {
  const PatchGeometry& p = g.patches;
  const std::size_t in_spatial = grid_size(p);
  const std::size_t out_spatial = image_size(p);
  const int group_in = g.in_channels / g.group;
  const int group_rows = static_cast<int>(column_rows(p) / g.group);
  const bool pointwise = deconv_is_pointwise(g);
  for (int n = 0; n < batch; ++n) {
    const float* in = input + static_cast<std::size_t>(n) * g.in_channels * in_spatial;
    float* out = output + static_cast<std::size_t>(n) * g.out_channels * out_spatial;
    // Each group's column rows = its weights transposed x its input channels;
    // col2im then sums the overlapping windows into the output image.
    float* col = pointwise ? out : scratch;
    for (int gr = 0; gr < g.group; ++gr) {
      gemm(true, false, group_rows, static_cast<int>(in_spatial), group_in, 1.0f,
           weights + static_cast<std::size_t>(gr) * group_in * group_rows, group_rows,
           in + gr * group_in * in_spatial, static_cast<int>(in_spatial), 0.0f,
           col + gr * group_rows * in_spatial, static_cast<int>(in_spatial));
    }
    if (!pointwise) col2im(g, col, out);
    add_channel_bias(g.out_channels, out_spatial, bias, out);
  }
}

void add_channel_bias(int channels, std::size_t spatial, const float* bias, float* out) {
  if (!bias) return;
  for (int c = 0; c < channels; ++c) {
    const float b = bias[c];
    float* row = out + c * spatial;
    for (std::size_t s = 0; s < spatial; ++s) row[s] += b;
  }
}

}  // namespace predictor::cpu
