// Reading the [net] and [yolo] sections of a darknet .cfg file (Detection.h).
//
// The syntax is darknet's (parser.c read_cfg): one `key=value` or `[section]`
// per line, whitespace anywhere ignored (darknet strips it all), lines whose
// first character is # or ; are comments. Beyond darknet, a comment may also
// end a line ("classes=3  # ours"), as edited files often have; darknet reads
// those through atoi/atof, which stop at the '#'.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "io/file_io.h"
#include "predictor/Detection.h"
#include "predictor/Error.h"
#include "predictor/Limits.h"

namespace predictor {

namespace {

// darknet's own defaults (parse_yolo): classes=20, num=1 (we infer num from
// anchors= instead: darknet with num absent reads one anchor and then
// overruns its bias array for any mask index above 0).
constexpr int kDarknetDefaultClasses = 20;

struct Option {
  std::string key;
  std::string value;
  int line = 0;
};

struct Section {
  std::string name;
  int line = 0;
  std::vector<Option> options;
};

class CfgParser {
 public:
  CfgParser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  YoloConfig Parse() {
    Split();
    YoloConfig config;
    bool have_net = false;
    const Section* first_yolo = nullptr;
    for (const Section& section : sections_) {
      if (section.name == "net" || section.name == "network") {
        if (have_net) Fail(section.line, "a second [" + section.name + "] section");
        have_net = true;
        ParseNet(section, &config);
      } else if (section.name == "region") {
        Fail(section.line, "[region] (YOLOv2) is not supported: only [yolo] heads (YOLOv3, YOLOv4)");
      } else if (section.name == "yolo") {
        ParseYolo(section, first_yolo, &config);
        if (first_yolo == nullptr) first_yolo = &section;
      }
    }
    if (first_yolo == nullptr) throw Error(source_ + ": no [yolo] section");
    return config;
  }

 private:
  [[noreturn]] void Fail(int line, const std::string& message) const {
    // The message quotes the file's text: control and non-ASCII bytes as
    // \xNN, so that a stray binary file prints one readable line.
    std::string printable;
    for (const char c : message) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte >= 0x20 && byte < 0x7f) {
        printable += c;
      } else {
        static const char kHex[] = "0123456789abcdef";
        printable += {'\\', 'x', kHex[byte >> 4], kHex[byte & 15]};
      }
    }
    throw Error(source_ + ":" + std::to_string(line) + ": " + printable);
  }
  [[noreturn]] void Fail(const Section& section, const Option& option, const std::string& message) const {
    Fail(option.line, "[" + section.name + "] " + option.key + ": " + message);
  }

  // The text as sections of options, comments and whitespace gone.
  void Split() {
    std::size_t pos = 0;
    int line_number = 0;
    // A UTF-8 byte order mark, as some editors write.
    if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;
    while (pos < text_.size()) {
      std::size_t end = text_.find('\n', pos);
      if (end == std::string::npos) end = text_.size();
      ++line_number;
      std::string line;
      for (std::size_t i = pos; i < end; ++i) {
        const char c = text_[i];
        if (c == '#' || c == ';') break;
        if (!std::isspace(static_cast<unsigned char>(c))) line += c;
      }
      pos = end + 1;
      if (line.empty()) continue;
      if (line[0] == '[') {
        if (line.back() != ']' || line.size() < 3) Fail(line_number, "malformed section header '" + line + "'");
        Section section;
        section.name = line.substr(1, line.size() - 2);
        section.line = line_number;
        sections_.push_back(std::move(section));
        continue;
      }
      const std::size_t eq = line.find('=');
      if (eq == std::string::npos) Fail(line_number, "expected key=value or [section], got '" + line + "'");
      if (eq == 0) Fail(line_number, "missing key before '=' in '" + line + "'");
      if (sections_.empty()) Fail(line_number, "'" + line + "' before any [section]");
      sections_.back().options.push_back({line.substr(0, eq), line.substr(eq + 1), line_number});
    }
  }

  // The option `key` of `section`, or null. Repeating a key we read is an
  // error: darknet would silently take the first.
  const Option* Find(const Section& section, const std::string& key) const {
    const Option* found = nullptr;
    for (const Option& option : section.options) {
      if (option.key != key) continue;
      if (found != nullptr) {
        Fail(section, option, "repeated (first on line " + std::to_string(found->line) + ")");
      }
      found = &option;
    }
    return found;
  }

  int ToInt(const Section& section, const Option& option, const std::string& text) const {
    int value = 0;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (first != last && *first == '+') ++first;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (text.empty() || ec != std::errc() || ptr != last) Fail(section, option, "bad integer '" + text + "'");
    return value;
  }

  float ToFloat(const Section& section, const Option& option, const std::string& text) const {
    float value = 0;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (first != last && *first == '+') ++first;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (text.empty() || ec != std::errc() || ptr != last || !std::isfinite(value)) {
      Fail(section, option, "bad number '" + text + "'");
    }
    return value;
  }

  // Comma-separated items; one trailing comma is tolerated.
  static std::vector<std::string> Items(const std::string& value) {
    std::vector<std::string> items;
    std::size_t pos = 0;
    for (;;) {
      const std::size_t comma = value.find(',', pos);
      items.push_back(value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (items.size() > 1 && items.back().empty()) items.pop_back();
    return items;
  }

  int PositiveInt(const Section& section, const Option& option) const {
    const int value = ToInt(section, option, option.value);
    if (value <= 0) Fail(section, option, "must be positive, got " + option.value);
    return value;
  }

  void ParseNet(const Section& section, YoloConfig* config) const {
    const Option* width = Find(section, "width");
    const Option* height = Find(section, "height");
    if (width == nullptr || height == nullptr) {
      Fail(section.line, "[" + section.name + "] has no " + (width == nullptr ? "width" : "height") + "=");
    }
    config->input.width = PositiveInt(section, *width);
    config->input.height = PositiveInt(section, *height);
    // AlexeyAB's darknet: [net] letter_box=1 letterboxes, 0 (its default)
    // warps. Absent, we keep pjreddie's darknet, which always letterboxes.
    if (const Option* letter_box = Find(section, "letter_box")) {
      const int value = ToInt(section, *letter_box, letter_box->value);
      if (value != 0 && value != 1) Fail(section, *letter_box, "must be 0 or 1, got " + letter_box->value);
      config->letterbox = value == 1;
    }
  }

  void ParseYolo(const Section& section, const Section* first, YoloConfig* config) const {
    if (const Option* new_coords = Find(section, "new_coords")) {
      if (ToInt(section, *new_coords, new_coords->value) != 0) {
        Fail(section, *new_coords, "new_coords=1 (Scaled-YOLOv4 decoding) is not supported");
      }
    }

    int classes = kDarknetDefaultClasses;
    const Option* classes_option = Find(section, "classes");
    if (classes_option != nullptr) classes = PositiveInt(section, *classes_option);

    const Option* anchors_option = Find(section, "anchors");
    if (anchors_option == nullptr) Fail(section.line, "[yolo] has no anchors=");
    std::vector<float> anchors;
    for (const std::string& item : Items(anchors_option->value)) {
      const float anchor = ToFloat(section, *anchors_option, item);
      if (anchor <= 0) Fail(section, *anchors_option, "anchor " + item + " is not a positive size");
      anchors.push_back(anchor);
    }
    if (anchors.size() % 2 != 0) {
      Fail(section, *anchors_option, std::to_string(anchors.size()) + " values; expected width,height pairs");
    }
    const int num_anchors = static_cast<int>(anchors.size() / 2);
    if (const Option* num = Find(section, "num")) {
      const int value = PositiveInt(section, *num);
      if (value != num_anchors) {
        Fail(section, *num, "num=" + num->value + " but anchors= (line " + std::to_string(anchors_option->line) +
                                 ") has " + std::to_string(anchors.size()) + " values, " +
                                 std::to_string(num_anchors) + " pairs");
      }
    }

    YoloHead head;
    if (const Option* mask = Find(section, "mask")) {
      for (const std::string& item : Items(mask->value)) {
        const int index = ToInt(section, *mask, item);
        if (index < 0 || index >= num_anchors) {
          Fail(section, *mask,
               "index " + item + " out of range: anchors= has " + std::to_string(num_anchors) + " pairs");
        }
        head.mask.push_back(index);
      }
    } else {
      // darknet: no mask= means every anchor.
      for (int i = 0; i < num_anchors; ++i) head.mask.push_back(i);
    }
    if (const Option* scale = Find(section, "scale_x_y")) {
      head.scale_x_y = ToFloat(section, *scale, scale->value);
      if (head.scale_x_y <= 0) Fail(section, *scale, "must be positive, got " + scale->value);
    }

    if (first == nullptr) {
      config->classes = classes;
      config->anchors = anchors;
    } else {
      // decode_yolo has one anchor list and one class count for all heads.
      const std::string first_line = " (the [yolo] on line " + std::to_string(first->line) + " has ";
      if (anchors != config->anchors) {
        Fail(section, *anchors_option, "differs from the first [yolo]'s" + first_line + "other anchors)");
      }
      if (classes != config->classes) {
        const std::string message = "classes=" + std::to_string(classes) + " differs from the first [yolo]'s" +
                                    first_line + "classes=" + std::to_string(config->classes) + ")";
        if (classes_option != nullptr) Fail(section, *classes_option, message);
        Fail(section.line, "[yolo] " + message);
      }
    }
    config->heads.push_back(std::move(head));
  }

  const std::string& text_;
  const std::string& source_;
  std::vector<Section> sections_;
};

}  // namespace

YoloConfig parse_darknet_yolo_config(const std::string& text, const std::string& source) {
  return CfgParser(text, source).Parse();
}

YoloConfig read_darknet_yolo_config(const std::string& path) {
  // A .cfg is text of a few KB: the prototxt's bound is ample.
  const std::string text = read_file(path, kMaxPrototxtBytes);
  if (text.find('\0') != std::string::npos) throw Error(path + ": binary data, not a darknet .cfg (text)");
  return parse_darknet_yolo_config(text, path);
}

}  // namespace predictor
