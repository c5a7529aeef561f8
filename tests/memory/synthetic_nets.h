#pragma once
// Live ranges of well-known CNNs, hand-built layer by layer with their real
// deploy-time tensor shapes (batch 1, float), the way a Caffe Net computes
// them: a blob is live from the step of the layer that writes it to the last
// step that reads or rewrites it (in-place ReLU/BatchNorm/Scale/Dropout), net
// outputs until the last step, net inputs from step 0. Test support only;
// header-only so that the test glob does not turn it into a test binary.

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "memory/live_range.h"

namespace predictor {
namespace memory {
namespace synthetic {

struct Shape {
  int channels, height, width;
  std::size_t bytes() const {
    return sizeof(float) * static_cast<std::size_t>(channels) * height * width;
  }
};

class NetBuilder {
 public:
  int input(const std::string& name, Shape shape) {
    blobs_.push_back(Blob{name, shape, 0, 0, true});
    return static_cast<int>(blobs_.size()) - 1;
  }

  // A layer reading `bottoms` and writing one new blob; returns that blob.
  int layer(const std::string& name, const std::vector<int>& bottoms, Shape top) {
    const int step = next_step(name);
    for (int b : bottoms) read(b, step);
    blobs_.push_back(Blob{name, top, step, step, false});
    return static_cast<int>(blobs_.size()) - 1;
  }

  // ReLU, BatchNorm, Scale, Dropout in Caffe deploy nets: top == bottom.
  void in_place(const std::string& name, int blob) { read(blob, next_step(name)); }

  Shape shape(int blob) const { return blobs_[blob].shape; }

  // Convolution followed by the in-place layers the model family uses.
  int conv(const std::string& name, int bottom, Shape top, bool bn = false, bool relu = true) {
    const int blob = layer(name, {bottom}, top);
    if (bn) {
      in_place(name + "/bn", blob);
      in_place(name + "/scale", blob);
    }
    if (relu) in_place(name + "/relu", blob);
    return blob;
  }

  int concat(const std::string& name, const std::vector<int>& bottoms) {
    Shape top = shape(bottoms.front());
    top.channels = 0;
    for (int b : bottoms) top.channels += shape(b).channels;
    return layer(name, bottoms, top);
  }

  std::vector<LiveRange> live_ranges() const {
    const int last_step = static_cast<int>(step_names_.size()) - 1;
    std::vector<LiveRange> ranges;
    for (const Blob& blob : blobs_) {
      const bool is_output = !blob.read_after_written;
      ranges.push_back(
          LiveRange{blob.shape.bytes(), blob.first, is_output ? last_step : blob.last, blob.name});
    }
    return ranges;
  }

  const std::vector<std::string>& step_names() const { return step_names_; }

 private:
  struct Blob {
    std::string name;
    Shape shape;
    int first, last;
    bool read_after_written;
  };

  int next_step(const std::string& name) {
    step_names_.push_back(name);
    return static_cast<int>(step_names_.size()) - 1;
  }
  void read(int blob, int step) {
    blobs_[blob].last = std::max(blobs_[blob].last, step);
    blobs_[blob].read_after_written = true;
  }

  std::vector<Blob> blobs_;
  std::vector<std::string> step_names_;
};

inline Shape at(int channels, int size) { return Shape{channels, size, size}; }

struct SyntheticNet {
  std::string name;
  std::vector<LiveRange> ranges;
  std::vector<std::string> step_names;
};

inline SyntheticNet finish(const std::string& name, const NetBuilder& net) {
  return SyntheticNet{name, net.live_ranges(), net.step_names()};
}

inline SyntheticNet alexnet() {
  NetBuilder n;
  int x = n.input("data", at(3, 227));
  x = n.conv("conv1", x, at(96, 55));
  x = n.layer("norm1", {x}, at(96, 55));
  x = n.layer("pool1", {x}, at(96, 27));
  x = n.conv("conv2", x, at(256, 27));
  x = n.layer("norm2", {x}, at(256, 27));
  x = n.layer("pool2", {x}, at(256, 13));
  x = n.conv("conv3", x, at(384, 13));
  x = n.conv("conv4", x, at(384, 13));
  x = n.conv("conv5", x, at(256, 13));
  x = n.layer("pool5", {x}, at(256, 6));
  x = n.conv("fc6", x, at(4096, 1));
  n.in_place("drop6", x);
  x = n.conv("fc7", x, at(4096, 1));
  n.in_place("drop7", x);
  x = n.layer("fc8", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("AlexNet", n);
}

inline SyntheticNet vgg16() {
  NetBuilder n;
  int x = n.input("data", at(3, 224));
  const int widths[] = {64, 128, 256, 512, 512};
  const int convs[] = {2, 2, 3, 3, 3};
  int size = 224;
  for (int stage = 0; stage < 5; ++stage) {
    for (int c = 0; c < convs[stage]; ++c) {
      x = n.conv("conv" + std::to_string(stage + 1) + "_" + std::to_string(c + 1), x,
                 at(widths[stage], size));
    }
    size /= 2;
    x = n.layer("pool" + std::to_string(stage + 1), {x}, at(widths[stage], size));
  }
  x = n.conv("fc6", x, at(4096, 1));
  x = n.conv("fc7", x, at(4096, 1));
  x = n.layer("fc8", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("VGG-16", n);
}

// GoogLeNet (BVLC deploy): inception modules as in the prototxt, in its
// layer order (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool, pool proj).
inline SyntheticNet googlenet() {
  NetBuilder n;
  auto inception = [&](const std::string& p, int x, int size, int c1, int r3, int c3, int r5,
                       int c5, int cp) {
    const int b1 = n.conv(p + "/1x1", x, at(c1, size));
    int b3 = n.conv(p + "/3x3_reduce", x, at(r3, size));
    b3 = n.conv(p + "/3x3", b3, at(c3, size));
    int b5 = n.conv(p + "/5x5_reduce", x, at(r5, size));
    b5 = n.conv(p + "/5x5", b5, at(c5, size));
    int bp = n.layer(p + "/pool", {x}, n.shape(x));
    bp = n.conv(p + "/pool_proj", bp, at(cp, size));
    return n.concat(p + "/output", {b1, b3, b5, bp});
  };
  int x = n.input("data", at(3, 224));
  x = n.conv("conv1/7x7_s2", x, at(64, 112));
  x = n.layer("pool1/3x3_s2", {x}, at(64, 56));
  x = n.layer("pool1/norm1", {x}, at(64, 56));
  x = n.conv("conv2/3x3_reduce", x, at(64, 56));
  x = n.conv("conv2/3x3", x, at(192, 56));
  x = n.layer("conv2/norm2", {x}, at(192, 56));
  x = n.layer("pool2/3x3_s2", {x}, at(192, 28));
  x = inception("inception_3a", x, 28, 64, 96, 128, 16, 32, 32);
  x = inception("inception_3b", x, 28, 128, 128, 192, 32, 96, 64);
  x = n.layer("pool3/3x3_s2", {x}, at(480, 14));
  x = inception("inception_4a", x, 14, 192, 96, 208, 16, 48, 64);
  x = inception("inception_4b", x, 14, 160, 112, 224, 24, 64, 64);
  x = inception("inception_4c", x, 14, 128, 128, 256, 24, 64, 64);
  x = inception("inception_4d", x, 14, 112, 144, 288, 32, 64, 64);
  x = inception("inception_4e", x, 14, 256, 160, 320, 32, 128, 128);
  x = n.layer("pool4/3x3_s2", {x}, at(832, 7));
  x = inception("inception_5a", x, 7, 256, 160, 320, 32, 128, 128);
  x = inception("inception_5b", x, 7, 384, 192, 384, 48, 128, 128);
  x = n.layer("pool5/7x7_s1", {x}, at(1024, 1));
  n.in_place("pool5/drop_7x7_s1", x);
  x = n.layer("loss3/classifier", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("GoogLeNet", n);
}

// ResNet (KaimingHe deploy prototxts): BatchNorm and Scale in place,
// projection shortcut on the first block of each stage, stride on branch2a.
inline SyntheticNet resnet(int depth) {
  const std::vector<int> blocks = depth == 50    ? std::vector<int>{3, 4, 6, 3}
                                  : depth == 101 ? std::vector<int>{3, 4, 23, 3}
                                                 : std::vector<int>{3, 8, 36, 3};
  NetBuilder n;
  int x = n.input("data", at(3, 224));
  x = n.conv("conv1", x, at(64, 112), true);
  x = n.layer("pool1", {x}, at(64, 56));
  int size = 56;
  for (int stage = 0; stage < 4; ++stage) {
    const int width = 64 << stage;
    if (stage > 0) size /= 2;
    for (int block = 0; block < blocks[stage]; ++block) {
      const std::string p = "res" + std::to_string(stage + 2) +
                            (block < 26 ? std::string(1, static_cast<char>('a' + block))
                                        : "b" + std::to_string(block));
      int shortcut = x;
      if (block == 0) {
        shortcut = n.conv(p + "_branch1", x, at(4 * width, size), true, false);
      }
      int y = n.conv(p + "_branch2a", x, at(width, size), true);
      y = n.conv(p + "_branch2b", y, at(width, size), true);
      y = n.conv(p + "_branch2c", y, at(4 * width, size), true, false);
      x = n.layer(p, {shortcut, y}, at(4 * width, size));
      n.in_place(p + "_relu", x);
    }
  }
  x = n.layer("pool5", {x}, at(2048, 1));
  x = n.layer("fc1000", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("ResNet-" + std::to_string(depth), n);
}

// Inception-v3 (299x299), conv = Convolution + BatchNorm + Scale + ReLU.
inline SyntheticNet inception_v3() {
  NetBuilder n;
  auto conv = [&](const std::string& name, int x, int c, int size) {
    return n.conv(name, x, at(c, size), true);
  };
  int x = n.input("data", at(3, 299));
  x = conv("conv1_3x3_s2", x, 32, 149);
  x = conv("conv2_3x3_s1", x, 32, 147);
  x = conv("conv3_3x3_s1", x, 64, 147);
  x = n.layer("pool1_3x3_s2", {x}, at(64, 73));
  x = conv("conv4_3x3_reduce", x, 80, 73);
  x = conv("conv4_3x3", x, 192, 71);
  x = n.layer("pool2_3x3_s2", {x}, at(192, 35));
  const int pool_features[] = {32, 64, 64};
  for (int i = 0; i < 3; ++i) {
    const std::string p = "inception_a" + std::to_string(i + 1);
    const int b1 = conv(p + "_1x1", x, 64, 35);
    int b5 = conv(p + "_5x5_reduce", x, 48, 35);
    b5 = conv(p + "_5x5", b5, 64, 35);
    int b3 = conv(p + "_3x3_reduce", x, 64, 35);
    b3 = conv(p + "_3x3_1", b3, 96, 35);
    b3 = conv(p + "_3x3_2", b3, 96, 35);
    int bp = n.layer(p + "_pool", {x}, n.shape(x));
    bp = conv(p + "_pool_proj", bp, pool_features[i], 35);
    x = n.concat(p + "_output", {b1, b5, b3, bp});
  }
  {
    const int b3 = conv("reduction_a_3x3", x, 384, 17);
    int bd = conv("reduction_a_3x3_2_reduce", x, 64, 35);
    bd = conv("reduction_a_3x3_2", bd, 96, 35);
    bd = conv("reduction_a_3x3_3", bd, 96, 17);
    const int bp = n.layer("reduction_a_pool", {x}, at(288, 17));
    x = n.concat("reduction_a_concat", {b3, bd, bp});
  }
  const int c7[] = {128, 160, 160, 192};
  for (int i = 0; i < 4; ++i) {
    const std::string p = "inception_b" + std::to_string(i + 1);
    const int b1 = conv(p + "_1x1", x, 192, 17);
    int b7 = conv(p + "_1x7_reduce", x, c7[i], 17);
    b7 = conv(p + "_1x7", b7, c7[i], 17);
    b7 = conv(p + "_7x1", b7, 192, 17);
    int bd = conv(p + "_7x1_reduce", x, c7[i], 17);
    bd = conv(p + "_7x1_2", bd, c7[i], 17);
    bd = conv(p + "_1x7_2", bd, c7[i], 17);
    bd = conv(p + "_7x1_3", bd, c7[i], 17);
    bd = conv(p + "_1x7_3", bd, 192, 17);
    int bp = n.layer(p + "_pool", {x}, n.shape(x));
    bp = conv(p + "_pool_proj", bp, 192, 17);
    x = n.concat(p + "_output", {b1, b7, bd, bp});
  }
  {
    int b3 = conv("reduction_b_3x3_reduce", x, 192, 17);
    b3 = conv("reduction_b_3x3", b3, 320, 8);
    int b7 = conv("reduction_b_1x7_reduce", x, 192, 17);
    b7 = conv("reduction_b_1x7", b7, 192, 17);
    b7 = conv("reduction_b_7x1", b7, 192, 17);
    b7 = conv("reduction_b_3x3_2", b7, 192, 8);
    const int bp = n.layer("reduction_b_pool", {x}, at(768, 8));
    x = n.concat("reduction_b_concat", {b3, b7, bp});
  }
  for (int i = 0; i < 2; ++i) {
    const std::string p = "inception_c" + std::to_string(i + 1);
    const int b1 = conv(p + "_1x1", x, 320, 8);
    const int r3 = conv(p + "_1x3_reduce", x, 384, 8);
    const int b3a = conv(p + "_1x3", r3, 384, 8);
    const int b3b = conv(p + "_3x1", r3, 384, 8);
    int rd = conv(p + "_3x3_reduce", x, 448, 8);
    rd = conv(p + "_3x3", rd, 384, 8);
    const int bda = conv(p + "_1x3_2", rd, 384, 8);
    const int bdb = conv(p + "_3x1_2", rd, 384, 8);
    int bp = n.layer(p + "_pool", {x}, n.shape(x));
    bp = conv(p + "_pool_proj", bp, 192, 8);
    x = n.concat(p + "_output", {b1, b3a, b3b, bda, bdb, bp});
  }
  x = n.layer("pool_8x8_s1", {x}, at(2048, 1));
  n.in_place("pool_8x8_s1_drop", x);
  x = n.layer("classifier", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("Inception-v3", n);
}

// Inception-v4 (299x299): stem, 4 x A, reduction A, 7 x B, reduction B, 3 x C.
inline SyntheticNet inception_v4() {
  NetBuilder n;
  auto conv = [&](const std::string& name, int x, int c, int size) {
    return n.conv(name, x, at(c, size), true);
  };
  int x = n.input("data", at(3, 299));
  x = conv("conv1_3x3_s2", x, 32, 149);
  x = conv("conv2_3x3_s1", x, 32, 147);
  x = conv("conv3_3x3_s1", x, 64, 147);
  {
    const int pool = n.layer("stem1_pool", {x}, at(64, 73));
    const int c = conv("stem1_3x3_s2", x, 96, 73);
    x = n.concat("stem1_concat", {pool, c});
    int a = conv("stem2_3x3_reduce", x, 64, 73);
    a = conv("stem2_3x3", a, 96, 71);
    int b = conv("stem2_1x7_reduce", x, 64, 73);
    b = conv("stem2_1x7", b, 64, 73);
    b = conv("stem2_7x1", b, 64, 73);
    b = conv("stem2_3x3_2", b, 96, 71);
    x = n.concat("stem2_concat", {a, b});
    const int c3 = conv("stem3_3x3_s2", x, 192, 35);
    const int p3 = n.layer("stem3_pool", {x}, at(192, 35));
    x = n.concat("stem3_concat", {c3, p3});
  }
  for (int i = 0; i < 4; ++i) {
    const std::string p = "inception_a" + std::to_string(i + 1);
    const int b1 = conv(p + "_1x1_2", x, 96, 35);
    int b3 = conv(p + "_3x3_reduce", x, 64, 35);
    b3 = conv(p + "_3x3", b3, 96, 35);
    int bd = conv(p + "_3x3_2_reduce", x, 64, 35);
    bd = conv(p + "_3x3_2", bd, 96, 35);
    bd = conv(p + "_3x3_3", bd, 96, 35);
    int bp = n.layer(p + "_pool_ave", {x}, n.shape(x));
    bp = conv(p + "_1x1", bp, 96, 35);
    x = n.concat(p + "_concat", {b1, b3, bd, bp});
  }
  {
    const int b3 = conv("reduction_a_3x3", x, 384, 17);
    int bd = conv("reduction_a_3x3_2_reduce", x, 192, 35);
    bd = conv("reduction_a_3x3_2", bd, 224, 35);
    bd = conv("reduction_a_3x3_3", bd, 256, 17);
    const int bp = n.layer("reduction_a_pool", {x}, at(384, 17));
    x = n.concat("reduction_a_concat", {b3, bd, bp});
  }
  for (int i = 0; i < 7; ++i) {
    const std::string p = "inception_b" + std::to_string(i + 1);
    const int b1 = conv(p + "_1x1_2", x, 384, 17);
    int b7 = conv(p + "_1x7_reduce", x, 192, 17);
    b7 = conv(p + "_1x7", b7, 224, 17);
    b7 = conv(p + "_7x1", b7, 256, 17);
    int bd = conv(p + "_7x1_2_reduce", x, 192, 17);
    bd = conv(p + "_7x1_2", bd, 192, 17);
    bd = conv(p + "_1x7_2", bd, 224, 17);
    bd = conv(p + "_7x1_3", bd, 224, 17);
    bd = conv(p + "_1x7_3", bd, 256, 17);
    int bp = n.layer(p + "_pool_ave", {x}, n.shape(x));
    bp = conv(p + "_1x1", bp, 128, 17);
    x = n.concat(p + "_concat", {b1, b7, bd, bp});
  }
  {
    int b3 = conv("reduction_b_3x3_reduce", x, 192, 17);
    b3 = conv("reduction_b_3x3", b3, 192, 8);
    int b7 = conv("reduction_b_1x7_reduce", x, 256, 17);
    b7 = conv("reduction_b_1x7", b7, 256, 17);
    b7 = conv("reduction_b_7x1", b7, 320, 17);
    b7 = conv("reduction_b_3x3_2", b7, 320, 8);
    const int bp = n.layer("reduction_b_pool", {x}, at(1024, 8));
    x = n.concat("reduction_b_concat", {b3, b7, bp});
  }
  for (int i = 0; i < 3; ++i) {
    const std::string p = "inception_c" + std::to_string(i + 1);
    const int b1 = conv(p + "_1x1_2", x, 256, 8);
    const int r3 = conv(p + "_1x1_3", x, 384, 8);
    const int b3a = conv(p + "_1x3", r3, 256, 8);
    const int b3b = conv(p + "_3x1", r3, 256, 8);
    int rd = conv(p + "_1x1_4", x, 384, 8);
    rd = conv(p + "_3x1_2", rd, 448, 8);
    rd = conv(p + "_1x3_2", rd, 512, 8);
    const int bda = conv(p + "_1x3_3", rd, 256, 8);
    const int bdb = conv(p + "_3x1_3", rd, 256, 8);
    int bp = n.layer(p + "_pool_ave", {x}, n.shape(x));
    bp = conv(p + "_1x1", bp, 256, 8);
    x = n.concat(p + "_concat", {b1, b3a, b3b, bda, bdb, bp});
  }
  x = n.layer("pool_8x8_s1", {x}, at(1536, 1));
  n.in_place("pool_8x8_s1_drop", x);
  x = n.layer("classifier", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("Inception-v4", n);
}

// DenseNet-121 (shicai/DenseNet-Caffe layout): the BatchNorm in front of each
// dense layer writes a new blob because the concatenated input stays needed.
inline SyntheticNet densenet121() {
  NetBuilder n;
  int x = n.input("data", at(3, 224));
  x = n.conv("conv1", x, at(64, 112), true);
  x = n.layer("pool1", {x}, at(64, 56));
  const int layers[] = {6, 12, 24, 16};
  int size = 56;
  for (int block = 0; block < 4; ++block) {
    for (int l = 0; l < layers[block]; ++l) {
      const std::string p = "conv" + std::to_string(block + 2) + "_" + std::to_string(l + 1);
      const int bn = n.layer(p + "/x1/bn", {x}, n.shape(x));
      n.in_place(p + "/x1/scale", bn);
      n.in_place(p + "/relu1", bn);
      const int x1 = n.conv(p + "/x1", bn, at(128, size), true);
      const int x2 = n.conv(p + "/x2", x1, at(32, size), false, false);
      x = n.concat("concat_" + std::to_string(block + 2) + "_" + std::to_string(l + 1), {x, x2});
    }
    const std::string p = "conv" + std::to_string(block + 2) + "_blk";
    const int bn = n.layer(p + "/bn", {x}, n.shape(x));
    n.in_place(p + "/scale", bn);
    n.in_place(p + "/relu", bn);
    if (block == 3) {
      x = n.layer("pool5", {bn}, at(n.shape(bn).channels, 1));
      break;
    }
    const int t = n.conv(p, bn, at(n.shape(x).channels / 2, size), false, false);
    size /= 2;
    x = n.layer("pool" + std::to_string(block + 2), {t}, at(n.shape(t).channels, size));
  }
  x = n.layer("fc6", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("DenseNet-121", n);
}

// MobileNet v1 (224, width 1.0): depthwise + pointwise, BN/Scale/ReLU in place.
inline SyntheticNet mobilenet_v1() {
  NetBuilder n;
  int x = n.input("data", at(3, 224));
  x = n.conv("conv1", x, at(32, 112), true);
  struct Step {
    int out;
    bool stride2;
  };
  const Step steps[] = {{64, false},  {128, true},  {128, false}, {256, true},  {256, false},
                        {512, true},  {512, false}, {512, false}, {512, false}, {512, false},
                        {512, false}, {1024, true}, {1024, false}};
  int size = 112;
  for (int i = 0; i < 13; ++i) {
    const std::string p = "conv" + std::to_string(i + 2);
    if (steps[i].stride2) size /= 2;
    x = n.conv(p + "_dw", x, at(n.shape(x).channels, size), true);
    x = n.conv(p + "_pw", x, at(steps[i].out, size), true);
  }
  x = n.layer("pool6", {x}, at(1024, 1));
  x = n.layer("fc7", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("MobileNet-v1", n);
}

// SqueezeNet v1.1: fire modules (squeeze 1x1, expand 1x1 and 3x3, concat).
inline SyntheticNet squeezenet11() {
  NetBuilder n;
  auto fire = [&](const std::string& p, int x, int size, int s, int e) {
    const int sq = n.conv(p + "/squeeze1x1", x, at(s, size));
    const int e1 = n.conv(p + "/expand1x1", sq, at(e, size));
    const int e3 = n.conv(p + "/expand3x3", sq, at(e, size));
    return n.concat(p + "/concat", {e1, e3});
  };
  int x = n.input("data", at(3, 227));
  x = n.conv("conv1", x, at(64, 113));
  x = n.layer("pool1", {x}, at(64, 56));
  x = fire("fire2", x, 56, 16, 64);
  x = fire("fire3", x, 56, 16, 64);
  x = n.layer("pool3", {x}, at(128, 28));
  x = fire("fire4", x, 28, 32, 128);
  x = fire("fire5", x, 28, 32, 128);
  x = n.layer("pool5", {x}, at(256, 14));
  x = fire("fire6", x, 14, 48, 192);
  x = fire("fire7", x, 14, 48, 192);
  x = fire("fire8", x, 14, 64, 256);
  x = fire("fire9", x, 14, 64, 256);
  n.in_place("drop9", x);
  x = n.conv("conv10", x, at(1000, 14));
  x = n.layer("pool10", {x}, at(1000, 1));
  n.layer("prob", {x}, at(1000, 1));
  return finish("SqueezeNet-v1.1", n);
}

inline std::vector<SyntheticNet> all_nets() {
  return {alexnet(),      vgg16(),        googlenet(),   resnet(50),     resnet(152),
          inception_v3(), inception_v4(), densenet121(), mobilenet_v1(), squeezenet11()};
}

}  // namespace synthetic
}  // namespace memory
}  // namespace predictor
