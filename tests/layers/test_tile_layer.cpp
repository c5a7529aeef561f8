// Tile layer: axis, tiles and errors.
#include <gtest/gtest.h>

#include "common/test_utils.h"
#include "predictor/LayerRegistry.h"

namespace predictor {
namespace {

using testing::blobs_near;
using testing::layer_param;
using testing::random_blob;
using testing::run_layer;
using testing::run_layer_fails_naming;
using testing::to_vector;

// Reference: top index (o, t * dim + a, i) holds bottom (o, a, i).
std::vector<float> reference_tile(const Blob& in, int axis, int tiles) {
  const std::size_t outer = in.count(0, axis), block = in.count(axis);
  const auto data = to_vector(in);
  std::vector<float> out;
  for (std::size_t o = 0; o < outer; ++o) {
    for (int t = 0; t < tiles; ++t) {
      for (std::size_t i = 0; i < block; ++i) out.push_back(data[o * block + i]);
    }
  }
  return out;
}

TEST(TileLayer, Axes) {
  auto in = random_blob({2, 3, 4}, 1);
  auto run = run_layer(R"(name: "tile" type: "Tile" tile_param { tiles: 3 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 9, 4}, reference_tile(*in, 1, 3)));
  run = run_layer(R"(name: "tile" type: "Tile" tile_param { axis: -1 tiles: 2 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 8}, reference_tile(*in, 2, 2)));
  run = run_layer(R"(name: "tile" type: "Tile" tile_param { axis: 0 tiles: 4 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {8, 3, 4}, reference_tile(*in, 0, 4)));
  run = run_layer(R"(name: "tile" type: "Tile" tile_param { tiles: 1 })", {in.get()});
  EXPECT_TRUE(blobs_near(*run.tops[0], {2, 3, 4}, to_vector(*in)));
}

TEST(TileLayer, Wiring) {
  const auto layer =
      LayerRegistry::global().create(layer_param(R"(name: "tile" type: "Tile" tile_param { tiles: 2 })"));
  EXPECT_EQ(layer->max_bottoms(), 1);
  EXPECT_EQ(layer->max_tops(), 1);
  EXPECT_FALSE(layer->allows_in_place());
}

TEST(TileLayer, Errors) {
  auto in = random_blob({2, 3, 4}, 2), big = random_blob({1, 1 << 16}, 3);
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "none" type: "Tile")", {in.get()}, "tile_param.tiles"));
  EXPECT_TRUE(
      run_layer_fails_naming(R"(name: "zero" type: "Tile" tile_param { tiles: 0 })", {in.get()}, "tile_param.tiles"));
  EXPECT_TRUE(
      run_layer_fails_naming(R"(name: "neg" type: "Tile" tile_param { tiles: -2 })", {in.get()}, "tile_param.tiles"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "axis" type: "Tile" tile_param { axis: 3 tiles: 2 })", {in.get()},
                                     "tile_param.axis"));
  EXPECT_TRUE(run_layer_fails_naming(R"(name: "huge" type: "Tile" tile_param { tiles: 65536 })", {big.get()},
                                     "tile_param.tiles"));
}

}  // namespace
}  // namespace predictor
