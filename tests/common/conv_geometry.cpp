#include "common/conv_geometry.h"

#include <vector>

namespace predictor::testing {

cpu::ConvGeometry conv_geometry(const ConvSpec& c, bool transposed, bool force_nd) {
  cpu::ConvGeometry g;
  g.in_channels = c.in_channels;
  g.out_channels = c.out_channels;
  g.group = c.group;
  g.force_nd = force_nd;
  g.patches.num_axes = static_cast<int>(c.image.size());
  g.patches.channels = transposed ? c.out_channels : c.in_channels;
  const std::vector<int> out = transposed ? deconv_output_dims(c) : conv_output_dims(c);
  for (int a = 0; a < g.patches.num_axes; ++a) {
    g.patches.image[a] = transposed ? out[a] : c.image[a];
    g.patches.grid[a] = transposed ? c.image[a] : out[a];
    g.patches.kernel[a] = c.kernel[a];
    g.patches.pad[a] = c.pad[a];
    g.patches.stride[a] = c.stride[a];
    g.patches.dilation[a] = c.dilation[a];
  }
  return g;
}

}  // namespace predictor::testing
