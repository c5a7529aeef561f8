#include "kernels/cpu/epilogue.h"

namespace predictor::cpu {

namespace {

// The activations as function objects, so that each loop below is compiled
// (and vectorised) for one of them.
struct Identity {
  float operator()(float x) const { return x; }
};

struct ReLU {
  float negative_slope;
  float operator()(float x) const { return leaky_relu(x, negative_slope); }
};

struct Clip {
  float min, max;
  float operator()(float x) const { return clip(x, min, max); }
};

template <typename F>
void with_activation(const Activation& activation, F&& f) {
  switch (activation.kind) {
    case Activation::Kind::kNone:
      f(Identity{});
      return;
    case Activation::Kind::kReLU:
      f(ReLU{activation.negative_slope});
      return;
    case Activation::Kind::kClip:
      f(Clip{activation.min, activation.max});
      return;
  }
}

}  // namespace

void apply_channel_epilogue(const Epilogue& epilogue, int channels, std::size_t width, const float* in,
                            std::size_t in_ld, float* out, std::size_t out_ld) {
  if (in == out && epilogue.bias == nullptr && epilogue.residual == nullptr && epilogue.activation.none()) return;
  with_activation(epilogue.activation, [&](auto op) {
    for (int c = 0; c < channels; ++c) {
      const float* src = in + c * in_ld;
      float* dst = out + c * out_ld;
      // Without a bias nothing is added: x + 0 would turn -0 into +0.
      if (epilogue.residual != nullptr) {
        const float* res = epilogue.residual + c * out_ld;
        if (epilogue.bias != nullptr) {
          const float b = epilogue.bias[c];
          for (std::size_t s = 0; s < width; ++s) dst[s] = op((src[s] + b) + res[s]);
        } else {
          for (std::size_t s = 0; s < width; ++s) dst[s] = op(src[s] + res[s]);
        }
      } else if (epilogue.bias != nullptr) {
        const float b = epilogue.bias[c];
        for (std::size_t s = 0; s < width; ++s) dst[s] = op(src[s] + b);
      } else {
        for (std::size_t s = 0; s < width; ++s) dst[s] = op(src[s]);
      }
    }
  });
}

void apply_row_epilogue(const Epilogue& epilogue, int m, int n, float* c) {
  if (epilogue.bias == nullptr && epilogue.residual == nullptr && epilogue.activation.none()) return;
  with_activation(epilogue.activation, [&](auto op) {
    for (int i = 0; i < m; ++i) {
      float* row = c + static_cast<std::size_t>(i) * n;
      const float* res = epilogue.residual ? epilogue.residual + static_cast<std::size_t>(i) * n : nullptr;
      for (int j = 0; j < n; ++j) {
        float x = row[j];
        if (epilogue.bias != nullptr) x += epilogue.bias[j];
        if (res != nullptr) x += res[j];
        row[j] = op(x);
      }
    }
  });
}

void apply_gemm_epilogue(const GemmEpilogue& epilogue, int m, int n, float* c, int ldc) {
  if (epilogue.none()) return;
  with_activation(epilogue.activation, [&](auto op) {
    for (int i = 0; i < m; ++i) {
      float* row = c + static_cast<std::size_t>(i) * ldc;
      const float* residual =
          epilogue.residual ? epilogue.residual + static_cast<std::size_t>(i) * epilogue.residual_ld : nullptr;
      for (int j = 0; j < n; ++j) {
        float x = row[j];
        if (epilogue.row_bias) x += epilogue.row_bias[i];
        if (epilogue.column_bias) x += epilogue.column_bias[j];
        if (residual) x += residual[j];
        row[j] = op(x);
      }
    }
  });
}

}  // namespace predictor::cpu
