// Tile: repeats the bottom `tiles` times along `axis` (each block of the
// axes from `axis` on is repeated whole).
#include <climits>
#include <cstdint>

#include "predictor/CaffeProto.h"
#include "kernels/cpu/copy.h"
#include "layers/builtin_layers.h"

#if PREDICTOR_HAVE_CUDA
#include "kernels/cuda/copy.h"
#include "layers/cuda_context.h"
#endif

namespace predictor {

namespace {

class TileLayer : public Layer {
 public:
  explicit TileLayer(const caffe::LayerParameter& param) : Layer(param) {
    const caffe::TileParameter& tile = param.tile_param();
    if (!tile.has_tiles()) fail("tile_param.tiles", "must be given");
    if (tile.tiles() < 1) fail("tile_param.tiles", "must be positive, not " + std::to_string(tile.tiles()));
  }

  void reshape(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& in = *bottom[0];
    const int tiles = param().tile_param().tiles();
    axis_ = canonical_axis(in, param().tile_param().axis(), "tile_param.axis");
    if (static_cast<std::int64_t>(in.shape(axis_)) * tiles > INT_MAX ||
        static_cast<std::int64_t>(in.count()) * tiles > INT_MAX) {
      fail("tile_param.tiles", std::to_string(tiles) + " tiles of a bottom of shape " + in.shape_string() +
                                   " are too large (more than 2^31 - 1)");
    }
    std::vector<int> top_shape = in.shape();
    top_shape[axis_] *= tiles;
    top[0]->Reshape(top_shape);
  }

  void forward_cpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext&) override {
    const Blob& in = *bottom[0];
    cpu::tile(in.count(0, axis_), in.count(axis_), static_cast<std::size_t>(param().tile_param().tiles()),
              in.cpu_data(), top[0]->mutable_cpu_data());
  }

#if PREDICTOR_HAVE_CUDA
  bool supports_gpu() const override { return true; }

  void forward_gpu(const std::vector<const Blob*>& bottom, const std::vector<Blob*>& top,
                   const ForwardContext& context) override {
    const Blob& in = *bottom[0];
    cuda::tile(in.count(0, axis_), in.count(axis_), static_cast<std::size_t>(param().tile_param().tiles()),
               in.gpu_data(), top[0]->mutable_gpu_data(), cuda_stream(context));
  }
#endif

 private:
  int axis_ = 1;
};

}  // namespace

std::unique_ptr<Layer> make_tile_layer(const caffe::LayerParameter& param) {
  return std::make_unique<TileLayer>(param);
}

}  // namespace predictor
