#include "kernels/cuda/winograd.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "kernels/cpu/winograd.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm.h"
#include "predictor/Error.h"

namespace predictor::cuda {

namespace {

using detail::add;

constexpr int kPositions = 36;  // a 6x6 transformed tile
constexpr int kTile = 4;        // outputs per tile side
// M starts this many bytes into the scratch past V's end, rounded up, so that
// cuBLAS gets an aligned C.
constexpr std::size_t kScratchAlign = 256;

std::size_t align_up(std::size_t bytes) { return (bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

[[noreturn]] void fail(const char* function, const std::string& what) {
  throw Error(std::string(function) + ": " + what);
}

// The output grid and tiles of a geometry, checked.
struct Tiling {
  int height, width;          // the input image
  int out_h, out_w;           // the output grid
  int pad_h, pad_w;
  int tiles_y, tiles_x;
  long long per_image;
};

Tiling tiling_of(const cpu::ConvGeometry& g, const char* function) {
  if (!cpu::winograd_applies(g)) {
    fail(function,
         "geometry: Winograd F(4x4,3x3) needs a 2-D 3x3 kernel, stride 1, dilation 1, one group and channels > 0");
  }
  const cpu::PatchGeometry& p = g.patches;
  if (p.channels != g.in_channels) fail(function, "geometry.patches.channels differs from in_channels");
  Tiling t;
  t.height = p.image[0];
  t.width = p.image[1];
  t.pad_h = p.pad[0];
  t.pad_w = p.pad[1];
  t.out_h = p.grid[0];
  t.out_w = p.grid[1];
  if (t.height < 0 || t.width < 0 || t.pad_h < 0 || t.pad_w < 0) fail(function, "geometry: negative image or pad");
  if (t.out_h != t.height + 2 * t.pad_h - 2 || t.out_w != t.width + 2 * t.pad_w - 2 || t.out_h < 0 || t.out_w < 0) {
    fail(function, "geometry.patches.grid is not image + 2 * pad - 2");
  }
  t.tiles_y = (t.out_h + kTile - 1) / kTile;
  t.tiles_x = (t.out_w + kTile - 1) / kTile;
  t.per_image = static_cast<long long>(t.tiles_y) * t.tiles_x;
  return t;
}

// The chunk's tiles, checked against the whole: every tile index fits an int.
void check_chunk(const Tiling& t, int batch, long long first_tile, int tiles, const char* function) {
  if (batch < 0) fail(function, "batch is negative");
  const long long total = t.per_image * batch;
  if (total > INT_MAX) fail(function, "more tiles than an int holds (batch x ceil(OH/4) x ceil(OW/4))");
  if (tiles < 0 || first_tile < 0 || first_tile + tiles > total) fail(function, "tiles outside the forward's");
}

// What both transforms need of a tile: its image and top-left output.
struct TileGrid {
  int tiles_x, per_image;
};

struct TilePosition {
  int image, y, x;  // y, x: the tile's first output row / column
};

__device__ __forceinline__ TilePosition tile_position(const TileGrid& grid, int tile) {
  const int image = tile / grid.per_image, in_image = tile - image * grid.per_image;
  const int ty = in_image / grid.tiles_x;
  return {image, ty * kTile, (in_image - ty * grid.tiles_x) * kTile};
}

// t = B^T d for one line of six inputs (transforms.h's input_line).
__device__ __forceinline__ void input_line(const float d[6], float t[6]) {
  t[0] = __fmaf_rn(4.0f, d[0], __fmaf_rn(-5.0f, d[2], d[4]));
  const float a = __fmaf_rn(-4.0f, d[2], d[4]);  // d4 - 4 d2
  const float b = __fmaf_rn(-4.0f, d[1], d[3]);  // d3 - 4 d1
  t[1] = __fadd_rn(a, b);
  t[2] = __fsub_rn(a, b);
  const float c = __fsub_rn(d[4], d[2]);
  const float e = __fmul_rn(2.0f, __fsub_rn(d[3], d[1]));
  t[3] = __fadd_rn(c, e);
  t[4] = __fsub_rn(c, e);
  t[5] = __fmaf_rn(4.0f, d[1], __fmaf_rn(-5.0f, d[3], d[5]));
}

// o = A^T m for one line of six products (transforms.h's output_line).
__device__ __forceinline__ void output_line(const float m[6], float o[4]) {
  const float a = __fadd_rn(m[1], m[2]), b = __fsub_rn(m[1], m[2]);
  const float c = __fadd_rn(m[3], m[4]), d = __fsub_rn(m[3], m[4]);
  o[0] = __fadd_rn(__fadd_rn(m[0], a), c);
  o[1] = __fmaf_rn(2.0f, d, b);
  o[2] = __fmaf_rn(4.0f, c, a);
  o[3] = __fadd_rn(__fmaf_rn(8.0f, d, b), m[5]);
}

// One thread per (output channel, input channel): U = G g G^T in double.
__global__ void weight_transform_kernel(int out_channels, int in_channels, const float* __restrict__ weights,
                                        float* __restrict__ transformed) {
  const double G[6][3] = {{1.0 / 4, 0, 0},
                          {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                          {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                          {1.0 / 24, 1.0 / 12, 1.0 / 6},
                          {1.0 / 24, -1.0 / 12, 1.0 / 6},
                          {0, 0, 1}};
  const std::uint64_t pairs = static_cast<std::uint64_t>(out_channels) * in_channels;
  const std::uint64_t position_stride = pairs;
  for (std::uint64_t i = detail::grid_start<std::uint64_t>(); i < pairs; i += detail::grid_stride<std::uint64_t>()) {
    const float* g = weights + i * 9;  // (oc, ic) pairs are Caffe's order, ic fastest, as U's rows
    double gd[3][3];
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) gd[r][c] = g[r * 3 + c];
    double left[6][3];  // G g
    for (int r = 0; r < 6; ++r)
      for (int c = 0; c < 3; ++c) left[r][c] = G[r][0] * gd[0][c] + G[r][1] * gd[1][c] + G[r][2] * gd[2][c];
    for (int r = 0; r < 6; ++r) {
      for (int c = 0; c < 6; ++c) {
        const double u = left[r][0] * G[c][0] + left[r][1] * G[c][1] + left[r][2] * G[c][2];
        transformed[(r * 6 + c) * position_stride + i] = static_cast<float>(u);
      }
    }
  }
}

struct InputArgs {
  const float* input;
  float* v;
  int channels, height, width, pad_h, pad_w;
  TileGrid grid;
  int first_tile, tiles;
};

// One thread per (input channel, tile of the chunk), tiles fastest: the 36
// stores of a warp go to 36 runs of consecutive floats.
__global__ void input_transform_kernel(InputArgs a) {
  const std::uint32_t total = static_cast<std::uint32_t>(a.channels) * a.tiles;
  const std::size_t position_stride = static_cast<std::size_t>(a.channels) * a.tiles;
  for (std::uint32_t i = detail::grid_start<std::uint32_t>(); i < total; i += detail::grid_stride<std::uint32_t>()) {
    const int c = static_cast<int>(i / a.tiles), t = static_cast<int>(i - static_cast<std::uint32_t>(c) * a.tiles);
    const TilePosition tile = tile_position(a.grid, a.first_tile + t);
    const float* plane = a.input + (static_cast<std::size_t>(tile.image) * a.channels + c) * a.height * a.width;
    const int y0 = tile.y - a.pad_h, x0 = tile.x - a.pad_w;
    float d[6][6];
#pragma unroll
    for (int r = 0; r < 6; ++r) {
      const int y = y0 + r;
      const bool row_inside = static_cast<unsigned>(y) < static_cast<unsigned>(a.height);
#pragma unroll
      for (int s = 0; s < 6; ++s) {
        const int x = x0 + s;
        d[r][s] = row_inside && static_cast<unsigned>(x) < static_cast<unsigned>(a.width) ? __ldg(plane + y * a.width + x)
                                                                                         : 0.0f;
      }
    }
    // Down the columns, then along the rows (transforms.h's order).
    float column[6], transformed[6], cols[6][6];
#pragma unroll
    for (int s = 0; s < 6; ++s) {
#pragma unroll
      for (int r = 0; r < 6; ++r) column[r] = d[r][s];
      input_line(column, transformed);
#pragma unroll
      for (int r = 0; r < 6; ++r) cols[r][s] = transformed[r];
    }
    float* out = a.v + i;  // V[0][c][t]
#pragma unroll
    for (int r = 0; r < 6; ++r) {
      input_line(cols[r], transformed);
#pragma unroll
      for (int s = 0; s < 6; ++s) out[(r * 6 + s) * position_stride] = transformed[s];
    }
  }
}

struct OutputArgs {
  const float* m;
  float* output;
  const float* bias;
  const float* residual;
  int channels, out_h, out_w;
  TileGrid grid;
  int first_tile, tiles;
  // Whole float4 stores (and residual loads) per tile row: out_w % 4 == 0
  // and 16-byte aligned output and residual, so every row of 4 is inside
  // the grid and aligned. Scalar stores leave a warp's 16 stores touching 4x
  // the sectors, which made this transform the slower one.
  bool vector_rows;
};

// One thread per (output channel, tile of the chunk), tiles fastest: the 36
// loads of a warp are 36 runs of consecutive floats.
template <typename Activation>
__global__ void output_transform_kernel(OutputArgs a, Activation activation) {
  const std::uint32_t total = static_cast<std::uint32_t>(a.channels) * a.tiles;
  const std::size_t position_stride = static_cast<std::size_t>(a.channels) * a.tiles;
  for (std::uint32_t i = detail::grid_start<std::uint32_t>(); i < total; i += detail::grid_stride<std::uint32_t>()) {
    const int o = static_cast<int>(i / a.tiles), t = static_cast<int>(i - static_cast<std::uint32_t>(o) * a.tiles);
    const float* in = a.m + i;  // M[0][o][t]
    float m[6][6];
#pragma unroll
    for (int r = 0; r < 6; ++r)
#pragma unroll
      for (int s = 0; s < 6; ++s) m[r][s] = in[(r * 6 + s) * position_stride];
    float column[6], reduced[4], rows[4][6], y[4][4];
#pragma unroll
    for (int s = 0; s < 6; ++s) {
#pragma unroll
      for (int r = 0; r < 6; ++r) column[r] = m[r][s];
      output_line(column, reduced);
#pragma unroll
      for (int r = 0; r < 4; ++r) rows[r][s] = reduced[r];
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) output_line(rows[r], y[r]);

    const TilePosition tile = tile_position(a.grid, a.first_tile + t);
    const float bias = a.bias != nullptr ? __ldg(a.bias + o) : 0.0f;
    const std::size_t plane = (static_cast<std::size_t>(tile.image) * a.channels + o) * a.out_h * a.out_w;
    if (a.vector_rows) {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int oy = tile.y + r;
        if (oy >= a.out_h) break;
        const std::size_t at = plane + static_cast<std::size_t>(oy) * a.out_w + tile.x;
        float4 value = make_float4(y[r][0], y[r][1], y[r][2], y[r][3]);
        if (a.bias != nullptr) {
          value = make_float4(add(value.x, bias), add(value.y, bias), add(value.z, bias), add(value.w, bias));
        }
        if (a.residual != nullptr) {
          // The residual may be the output: this thread alone reads then writes these four.
          const float4 res = *reinterpret_cast<const float4*>(a.residual + at);
          value = make_float4(add(value.x, res.x), add(value.y, res.y), add(value.z, res.z), add(value.w, res.w));
        }
        *reinterpret_cast<float4*>(a.output + at) =
            make_float4(activation(value.x), activation(value.y), activation(value.z), activation(value.w));
      }
      continue;
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int oy = tile.y + r;
      if (oy >= a.out_h) break;
#pragma unroll
      for (int s = 0; s < 4; ++s) {
        const int ox = tile.x + s;
        if (ox >= a.out_w) break;
        const std::size_t at = plane + static_cast<std::size_t>(oy) * a.out_w + ox;
        float value = y[r][s];
        if (a.bias != nullptr) value = add(value, bias);
        // The residual may be the output: this thread alone reads then writes `at`.
        if (a.residual != nullptr) value = add(value, a.residual[at]);
        a.output[at] = activation(value);
      }
    }
  }
}

TileGrid grid_of(const Tiling& t) { return {t.tiles_x, static_cast<int>(t.per_image)}; }

}  // namespace

std::size_t winograd_weights_floats(int out_channels, int in_channels) {
  if (out_channels < 0 || in_channels < 0) return 0;
  return static_cast<std::size_t>(kPositions) * out_channels * in_channels;
}

void winograd_transform_weights(int out_channels, int in_channels, const float* weights, float* transformed,
                                cudaStream_t stream) {
  constexpr const char* kName = "winograd_transform_weights";
  if (out_channels < 0 || in_channels < 0) fail(kName, "negative channel count");
  const std::uint64_t pairs = static_cast<std::uint64_t>(out_channels) * in_channels;
  if (pairs == 0) return;
  if (weights == nullptr || transformed == nullptr) fail(kName, "weights or transformed is null");
  weight_transform_kernel<<<detail::blocks_for(pairs), detail::kThreads, 0, stream>>>(out_channels, in_channels,
                                                                                       weights, transformed);
  detail::check_launch(kName);
}

long long winograd_tiles(const cpu::ConvGeometry& geometry, int batch) {
  const Tiling t = tiling_of(geometry, "winograd_tiles");
  return t.per_image * std::max(batch, 0);
}

int winograd_tiles_per_chunk(const cpu::ConvGeometry& geometry, int batch, std::size_t scratch_budget_bytes) {
  const Tiling t = tiling_of(geometry, "winograd_tiles_per_chunk");
  const long long total = t.per_image * std::max(batch, 0);
  if (total <= 0) return 1;
  const std::size_t per_tile =
      static_cast<std::size_t>(kPositions) * (geometry.in_channels + geometry.out_channels) * sizeof(float);
  // The alignment gap before M costs at most kScratchAlign bytes.
  const std::size_t usable = scratch_budget_bytes > kScratchAlign ? scratch_budget_bytes - kScratchAlign : 0;
  long long chunk = static_cast<long long>(usable / per_tile);
  // Every (channel, tile) index of a transform and every V / M element count
  // per position stays within an int (the kernels' 32-bit indices).
  const long long channel_cap = INT_MAX / kPositions / std::max(geometry.in_channels, geometry.out_channels);
  chunk = std::min({chunk, total, channel_cap});
  return static_cast<int>(std::max(chunk, 1LL));
}

std::size_t winograd_scratch_bytes(const cpu::ConvGeometry& geometry, int tiles_per_chunk) {
  tiling_of(geometry, "winograd_scratch_bytes");
  const std::size_t chunk = static_cast<std::size_t>(std::max(tiles_per_chunk, 0));
  const std::size_t v = static_cast<std::size_t>(kPositions) * geometry.in_channels * chunk * sizeof(float);
  const std::size_t m = static_cast<std::size_t>(kPositions) * geometry.out_channels * chunk * sizeof(float);
  return align_up(v) + m;
}

void winograd_transform_input(const WinogradConvParams& params, long long first_tile, int tiles, float* v,
                              cudaStream_t stream) {
  constexpr const char* kName = "winograd_transform_input";
  const Tiling t = tiling_of(params.geometry, kName);
  check_chunk(t, params.batch, first_tile, tiles, kName);
  const int channels = params.geometry.in_channels;
  if (static_cast<long long>(channels) * tiles * kPositions > INT_MAX) fail(kName, "chunk too large for 32-bit indices");
  if (tiles == 0) return;
  if (params.input == nullptr || v == nullptr) fail(kName, "input or v is null");
  InputArgs a{params.input, v, channels, t.height, t.width, t.pad_h, t.pad_w, grid_of(t), static_cast<int>(first_tile),
              tiles};
  input_transform_kernel<<<detail::blocks_for(static_cast<std::uint64_t>(channels) * tiles), detail::kThreads, 0,
                           stream>>>(a);
  detail::check_launch(kName);
}

void winograd_transform_output(const WinogradConvParams& params, long long first_tile, int tiles, const float* m,
                               cudaStream_t stream) {
  constexpr const char* kName = "winograd_transform_output";
  const Tiling t = tiling_of(params.geometry, kName);
  check_chunk(t, params.batch, first_tile, tiles, kName);
  const int channels = params.geometry.out_channels;
  if (static_cast<long long>(channels) * tiles * kPositions > INT_MAX) fail(kName, "chunk too large for 32-bit indices");
  if (tiles == 0) return;
  if (params.output == nullptr || m == nullptr) fail(kName, "output or m is null");
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  const bool vector_rows = t.out_w % 4 == 0 && aligned(params.output) && aligned(params.residual);
  OutputArgs a{m, params.output, params.bias, params.residual, channels, t.out_h, t.out_w, grid_of(t),
               static_cast<int>(first_tile), tiles, vector_rows};
  const unsigned blocks = detail::blocks_for(static_cast<std::uint64_t>(channels) * tiles);
  detail::with_activation(params.activation, [&](auto op) {
    output_transform_kernel<<<blocks, detail::kThreads, 0, stream>>>(a, op);
  });
  detail::check_launch(kName);
}

void conv_winograd(const WinogradConvParams& params, int tiles_per_chunk, void* scratch, cublasHandle_t handle,
                   cudaStream_t stream) {
  constexpr const char* kName = "conv_winograd";
  const cpu::ConvGeometry& g = params.geometry;
  const Tiling t = tiling_of(g, kName);
  if (params.batch < 0) fail(kName, "batch is negative");
  const long long total = t.per_image * params.batch;
  if (total == 0) return;  // no images or an empty grid
  if (total > INT_MAX) fail(kName, "more tiles than an int holds (batch x ceil(OH/4) x ceil(OW/4))");
  if (tiles_per_chunk < 1) fail(kName, "tiles_per_chunk must be at least 1");
  const int channel_max = std::max(g.in_channels, g.out_channels);
  if (static_cast<long long>(tiles_per_chunk) * channel_max * kPositions > INT_MAX) {
    fail(kName, "tiles_per_chunk too large for 32-bit indices (take winograd_tiles_per_chunk's)");
  }
  if (params.input == nullptr || params.transformed_weights == nullptr || params.output == nullptr) {
    fail(kName, "input, transformed_weights or output is null");
  }
  if (scratch == nullptr) fail(kName, "scratch is null");
  if (handle == nullptr) fail(kName, "cuBLAS handle is null");

  const int chunk = static_cast<int>(std::min<long long>(tiles_per_chunk, total));
  const int in_channels = g.in_channels, out_channels = g.out_channels;
  float* v = static_cast<float*>(scratch);
  float* m = reinterpret_cast<float*>(
      static_cast<char*>(scratch) +
      align_up(static_cast<std::size_t>(kPositions) * in_channels * chunk * sizeof(float)));
  for (long long first = 0; first < total; first += chunk) {
    const int tiles = static_cast<int>(std::min<long long>(chunk, total - first));
    winograd_transform_input(params, first, tiles, v, stream);
    // M_xi (OC x tiles) = U_xi (OC x IC) x V_xi (IC x tiles), xi = 0..35.
    gemm_strided_batched(handle, false, false, out_channels, tiles, in_channels, 1.0f, params.transformed_weights,
                         in_channels, static_cast<long long>(out_channels) * in_channels, v, tiles,
                         static_cast<long long>(in_channels) * tiles, 0.0f, m, tiles,
                         static_cast<long long>(out_channels) * tiles, kPositions, stream);
    winograd_transform_output(params, first, tiles, m, stream);
  }
}

}  // namespace predictor::cuda
