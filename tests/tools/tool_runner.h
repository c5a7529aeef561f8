#pragma once
// Running the `predictor` tool from tests as a separate process, the way
// users run it, and reading what it prints: shared by the tool's test files.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace predictor::testing {

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);
// A new directory under GoogleTest's TempDir(), named prefix_XXXXXX; "" on failure.
std::string make_temp_dir(const std::string& prefix);

// A JSON value, parsed strictly enough to tell that the tool's output is valid.
struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  double number = 0;
  bool boolean = false;
  std::string text;
  std::vector<Json> items;
  std::map<std::string, Json> members;
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : text_(text) {}
  // The whole text as one value (surrounding whitespace allowed); false on
  // any syntax error.
  bool Parse(Json* value);

 private:
  void Space();
  bool Eat(char c);
  bool Word(const char* word);
  bool String(std::string* out);
  bool Value(Json* value);

  const std::string& text_;
  std::size_t pos_ = 0;
};

struct ToolResult {
  bool exited = false;  // false: killed by a signal
  int exit_code = -1;
  std::string out, err;
};

// Runs the tool (PREDICTOR_TOOL_PATH) in `dir`, without a shell; its stdout
// and stderr go through files in `dir`.
ToolResult run_tool(const std::string& dir, const std::vector<std::string>& args);

// Success as the tool promises it: exit code 0, nothing on stderr.
void expect_tool_success(const ToolResult& result);
// Failure as the tool promises it: exit code 1 and exactly one stderr line
// "predictor: error: ..." containing every fragment.
void expect_tool_error(const ToolResult& result, const std::vector<std::string>& fragments);

}  // namespace predictor::testing
