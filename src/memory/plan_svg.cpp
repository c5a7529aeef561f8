#include "memory/plan_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>

namespace predictor {
namespace memory {
namespace {

constexpr double kWidth = 1600;
constexpr double kLeft = 90;
constexpr double kRight = 30;
constexpr double kTop = 70;
constexpr double kPlotHeight = 560;
constexpr double kBottom = 120;
constexpr double kMiB = 1024.0 * 1024.0;

double mebibytes(std::size_t bytes) { return static_cast<double>(bytes) / kMiB; }

std::string number(double value, int decimals = 2) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string shorten(const std::string& text, std::size_t max_chars) {
  if (text.size() <= max_chars) return text;
  return text.substr(0, max_chars - 3) + "...";
}

// Stable across platforms and runs (std::hash is neither), so a request keeps
// its colour from one drawing to the next.
std::uint32_t fnv1a(const std::string& text) {
  std::uint32_t hash = 2166136261u;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return hash;
}

std::string colour_for(const std::string& key) {
  const std::uint32_t hash = fnv1a(key);
  const int hue = static_cast<int>(hash % 360);
  const int lightness = 45 + 10 * static_cast<int>((hash >> 16) % 3);
  return "hsl(" + std::to_string(hue) + ",65%," + std::to_string(lightness) + "%)";
}

// 1, 2 or 5 times a power of ten, giving at most ~8 ticks over `range`.
double tick_step(double range) {
  if (range <= 0) return 1;
  const double raw = range / 8;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double factor : {1.0, 2.0, 5.0, 10.0}) {
    if (factor * power >= raw) return factor * power;
  }
  return 10 * power;
}

}  // namespace

std::string render_plan_svg(const std::vector<LiveRange>& requests, const MemoryPlan& plan,
                            const std::vector<std::string>& step_names, const std::string& title) {
  const MemoryStats stats = compute_stats(requests, plan);

  // Step domain: every request, plus every named step.
  long long min_step = 0;
  long long max_step = static_cast<long long>(step_names.size()) - 1;
  if (step_names.empty() && !requests.empty()) {
    min_step = requests.front().first_use;
    max_step = requests.front().last_use;
  }
  max_step = std::max(max_step, min_step);  // no steps at all: draw one
  for (const LiveRange& request : requests) {
    min_step = std::min<long long>(min_step, request.first_use);
    max_step = std::max<long long>(max_step, request.last_use);
  }
  const long long num_steps = max_step - min_step + 1;
  const double plot_width = kWidth - kLeft - kRight;
  const double column = plot_width / static_cast<double>(num_steps);
  const double height = kTop + kPlotHeight + kBottom;
  const double plot_bottom = kTop + kPlotHeight;

  // Buffers are stacked bottom-up in index order.
  std::vector<std::size_t> buffer_base(plan.buffer_bytes.size(), 0);
  std::size_t stacked = 0;
  for (std::size_t b = 0; b < plan.buffer_bytes.size(); ++b) {
    buffer_base[b] = stacked;
    stacked += plan.buffer_bytes[b];
  }
  const double top_bytes =
      static_cast<double>(std::max({stacked, stats.lower_bound_bytes, std::size_t{1}}));
  const double scale = kPlotHeight / top_bytes;
  auto x_of = [&](long long step) { return kLeft + static_cast<double>(step - min_step) * column; };
  auto y_of = [&](double bytes) { return plot_bottom - bytes * scale; };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(kWidth, 0) << "\" height=\""
      << number(height, 0) << "\" viewBox=\"0 0 " << number(kWidth, 0) << ' ' << number(height, 0)
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg << "<rect x=\"0\" y=\"0\" width=\"" << number(kWidth, 0) << "\" height=\""
      << number(height, 0) << "\" fill=\"white\"/>\n";

  // Heading: title, then the figures that matter.
  const bool one_arena = plan.buffer_bytes.size() == 1;
  svg << "<text x=\"" << number(kLeft, 0)
      << "\" y=\"24\" font-size=\"16\" "
         "font-weight=\"bold\">"
      << xml_escape(title) << "</text>\n";
  const double ratio =
      stats.lower_bound_bytes == 0
          ? 1.0
          : static_cast<double>(stats.planned_bytes) / static_cast<double>(stats.lower_bound_bytes);
  svg << "<text x=\"" << number(kLeft, 0) << "\" y=\"48\" font-size=\"12\">"
      << xml_escape(plan.strategy) << " | " << stats.num_requests << " requests | "
      << stats.num_buffers << (stats.num_buffers == 1 ? " buffer" : " buffers") << " | naive "
      << number(mebibytes(stats.naive_bytes)) << " MiB | planned "
      << number(mebibytes(stats.planned_bytes)) << " MiB | lower bound "
      << number(mebibytes(stats.lower_bound_bytes)) << " MiB | planned/bound " << number(ratio, 3)
      << "</text>\n";

  // Storage axis: grid lines and MiB ticks.
  const double tick = tick_step(top_bytes / kMiB);
  svg << "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n";
  for (double mib = 0; mib * kMiB <= top_bytes + 1e-9; mib += tick) {
    const double y = y_of(mib * kMiB);
    svg << "<line x1=\"" << number(kLeft) << "\" y1=\"" << number(y) << "\" x2=\""
        << number(kWidth - kRight) << "\" y2=\"" << number(y) << "\"/>\n";
  }
  svg << "</g>\n<g text-anchor=\"end\">\n";
  for (double mib = 0; mib * kMiB <= top_bytes + 1e-9; mib += tick) {
    svg << "<text x=\"" << number(kLeft - 6) << "\" y=\"" << number(y_of(mib * kMiB) + 4) << "\">"
        << number(mib, tick < 1 ? 1 : 0) << "</text>\n";
  }
  svg << "</g>\n";
  svg << "<text transform=\"translate(24," << number(kTop + kPlotHeight / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">"
      << (one_arena ? "offset in arena (MiB)" : "shared buffers, stacked (MiB)") << "</text>\n";

  // Buffer bands, so a request's slot and its unused headroom are visible.
  if (!one_arena) {
    svg << "<g>\n";
    for (std::size_t b = 0; b < plan.buffer_bytes.size(); ++b) {
      const double y = y_of(static_cast<double>(buffer_base[b] + plan.buffer_bytes[b]));
      const double h = static_cast<double>(plan.buffer_bytes[b]) * scale;
      svg << "<rect x=\"" << number(kLeft) << "\" y=\"" << number(y) << "\" width=\""
          << number(plot_width) << "\" height=\"" << number(h) << "\" fill=\""
          << (b % 2 == 0 ? "#f3f3f3" : "#fbfbfb")
          << "\" stroke=\"#d0d0d0\" stroke-width=\"0.3\"/>\n";
      if (h >= 11) {
        svg << "<text x=\"" << number(kWidth - kRight - 4) << "\" y=\""
            << number(y + std::min(h, 12.0) - 2)
            << "\" text-anchor=\"end\" font-size=\"9\" fill=\"#888\">buffer " << b << "</text>\n";
      }
    }
    svg << "</g>\n";
  }

  // One block per request.
  svg << "<g stroke=\"white\" stroke-width=\"0.3\">\n";
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const LiveRange& request = requests[i];
    const std::size_t bytes = align_bytes(request.bytes);
    const Placement placement = i < plan.placements.size() ? plan.placements[i] : Placement{};
    const std::size_t base =
        placement.buffer >= 0 && static_cast<std::size_t>(placement.buffer) < buffer_base.size()
            ? buffer_base[static_cast<std::size_t>(placement.buffer)]
            : 0;
    const double x = x_of(request.first_use);
    const double w = static_cast<double>(request.last_use - request.first_use + 1) * column;
    const double h = std::max(static_cast<double>(bytes) * scale, 0.5);
    const double y = y_of(static_cast<double>(base + placement.offset + bytes));
    const std::string label = request.name.empty() ? "#" + std::to_string(i) : request.name;
    svg << "<rect x=\"" << number(x) << "\" y=\"" << number(y) << "\" width=\"" << number(w)
        << "\" height=\"" << number(h) << "\" fill=\"" << colour_for(label) << "\"><title>"
        << xml_escape(label) << ": " << request.bytes << " bytes (" << number(mebibytes(bytes), 3)
        << " MiB aligned), buffer " << placement.buffer << " offset " << placement.offset
        << ", steps " << request.first_use << "-" << request.last_use << "</title></rect>\n";
    const std::string shown = shorten(label, 24);
    if (w >= 6.5 * static_cast<double>(shown.size()) + 6 && h >= 13) {
      svg << "<text x=\"" << number(x + 3) << "\" y=\"" << number(y + h / 2 + 4)
          << "\" font-size=\"10\" stroke=\"none\" fill=\"black\">" << xml_escape(shown)
          << "</text>\n";
    }
  }
  svg << "</g>\n";

  // Bytes live at each step: where it touches the dashed line, the bound is
  // reached. A difference array keeps this linear in steps + requests.
  std::vector<long long> delta(static_cast<std::size_t>(num_steps) + 1, 0);
  for (const LiveRange& request : requests) {
    const auto bytes = static_cast<long long>(align_bytes(request.bytes));
    delta[static_cast<std::size_t>(request.first_use - min_step)] += bytes;
    delta[static_cast<std::size_t>(request.last_use - min_step) + 1] -= bytes;
  }
  svg << "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"1\" "
         "stroke-opacity=\"0.6\" points=\"";
  long long live = 0;
  for (long long s = 0; s < num_steps; ++s) {
    live += delta[static_cast<std::size_t>(s)];
    const double y = y_of(static_cast<double>(live));
    svg << number(x_of(min_step + s)) << ',' << number(y) << ' ' << number(x_of(min_step + s + 1))
        << ',' << number(y) << ' ';
  }
  svg << "\"/>\n";
  const double bound_y = y_of(static_cast<double>(stats.lower_bound_bytes));
  svg << "<line x1=\"" << number(kLeft) << "\" y1=\"" << number(bound_y) << "\" x2=\""
      << number(kWidth - kRight) << "\" y2=\"" << number(bound_y)
      << "\" stroke=\"#c00\" stroke-width=\"1\" stroke-dasharray=\"6,4\"/>\n";
  svg << "<text x=\"" << number(kLeft + 4) << "\" y=\"" << number(bound_y - 3)
      << "\" fill=\"#c00\" font-size=\"10\">lower bound (peak live bytes, black line)</text>\n";

  // Plot frame and step axis; labels thinned so they stay ~14px apart.
  svg << "<rect x=\"" << number(kLeft) << "\" y=\"" << number(kTop) << "\" width=\""
      << number(plot_width) << "\" height=\"" << number(kPlotHeight)
      << "\" fill=\"none\" stroke=\"#444\" stroke-width=\"1\"/>\n";
  const long long label_every =
      std::max<long long>(1, static_cast<long long>(std::ceil(14.0 / column)));
  svg << "<g font-size=\"9\" text-anchor=\"end\">\n";
  for (long long step = min_step; step <= max_step; step += label_every) {
    const double x = x_of(step) + column / 2;
    const bool named = step >= 0 && step < static_cast<long long>(step_names.size());
    const std::string text =
        named ? shorten(step_names[static_cast<std::size_t>(step)], 22) : std::to_string(step);
    svg << "<text transform=\"translate(" << number(x + 3) << ',' << number(plot_bottom + 8)
        << ") rotate(-60)\">" << xml_escape(text) << "</text>\n";
  }
  svg << "</g>\n";
  svg << "<text x=\"" << number(kLeft + plot_width / 2) << "\" y=\"" << number(height - 8)
      << "\" text-anchor=\"middle\">execution step (layer), " << num_steps << " steps</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace memory
}  // namespace predictor
