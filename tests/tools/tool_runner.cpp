#include "tool_runner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace predictor::testing {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string make_temp_dir(const std::string& prefix) {
  std::string pattern = ::testing::TempDir() + prefix + "_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return "";
  return pattern;
}

// --- JsonParser ----------------------------------------------------------------

bool JsonParser::Parse(Json* value) {
  if (!Value(value)) return false;
  Space();
  return pos_ == text_.size();
}

void JsonParser::Space() {
  while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
}
bool JsonParser::Eat(char c) {
  Space();
  if (pos_ < text_.size() && text_[pos_] == c) {
    ++pos_;
    return true;
  }
  return false;
}
bool JsonParser::Word(const char* word) {
  const std::size_t n = std::strlen(word);
  if (text_.compare(pos_, n, word) != 0) return false;
  pos_ += n;
  return true;
}
bool JsonParser::String(std::string* out) {
  if (!Eat('"')) return false;
  while (pos_ < text_.size() && text_[pos_] != '"') {
    char c = text_[pos_++];
    if (static_cast<unsigned char>(c) < 0x20) return false;
    if (c == '\\') {
      if (pos_ >= text_.size()) return false;
      const char escape = text_[pos_++];
      const std::string simple = "\"\\/bfnrt";
      if (escape == 'u') {
        if (pos_ + 4 > text_.size()) return false;
        c = static_cast<char>(std::stoi(text_.substr(pos_, 4), nullptr, 16));
        pos_ += 4;
      } else if (simple.find(escape) != std::string::npos) {
        c = "\"\\/\b\f\n\r\t"[simple.find(escape)];
      } else {
        return false;
      }
    }
    *out += c;
  }
  return Eat('"');
}
bool JsonParser::Value(Json* value) {
  Space();
  if (pos_ >= text_.size()) return false;
  const char c = text_[pos_];
  if (c == '{') {
    value->type = Json::kObject;
    ++pos_;
    if (Eat('}')) return true;
    do {
      std::string key;
      Json member;
      if (!String(&key) || !Eat(':') || !Value(&member)) return false;
      value->members[key] = member;
    } while (Eat(','));
    return Eat('}');
  }
  if (c == '[') {
    value->type = Json::kArray;
    ++pos_;
    if (Eat(']')) return true;
    do {
      value->items.emplace_back();
      if (!Value(&value->items.back())) return false;
    } while (Eat(','));
    return Eat(']');
  }
  if (c == '"') {
    value->type = Json::kString;
    return String(&value->text);
  }
  if (Word("true") || Word("false")) {
    value->type = Json::kBool;
    value->boolean = c == 't';
    return true;
  }
  if (Word("null")) return true;
  value->type = Json::kNumber;
  const char* start = text_.c_str() + pos_;
  char* end = nullptr;
  value->number = std::strtod(start, &end);
  if (end == start) return false;
  pos_ += end - start;
  return true;
}

// --- the tool ----------------------------------------------------------------

ToolResult run_tool(const std::string& dir, const std::vector<std::string>& args) {
  const std::string out_path = dir + "/.stdout", err_path = dir + "/.stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || chdir(dir.c_str()) != 0) _exit(127);
    std::vector<char*> argv = {const_cast<char*>(PREDICTOR_TOOL_PATH)};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(PREDICTOR_TOOL_PATH, argv.data());
    _exit(127);
  }
  ToolResult result;
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return result;
  result.exited = WIFEXITED(status);
  if (result.exited) result.exit_code = WEXITSTATUS(status);
  result.out = read_text(out_path);
  result.err = read_text(err_path);
  return result;
}

void expect_tool_success(const ToolResult& result) {
  EXPECT_TRUE(result.exited) << "killed by a signal";
  EXPECT_EQ(result.exit_code, 0) << "stderr: " << result.err;
  EXPECT_EQ(result.err, "");
}

void expect_tool_error(const ToolResult& result, const std::vector<std::string>& fragments) {
  ASSERT_TRUE(result.exited) << "killed by a signal; stderr: " << result.err;
  EXPECT_EQ(result.exit_code, 1) << "stderr: " << result.err;
  EXPECT_EQ(result.err.rfind("predictor: error: ", 0), 0u) << result.err;
  ASSERT_FALSE(result.err.empty());
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "not exactly one line: " << result.err;
  for (const std::string& fragment : fragments) {
    EXPECT_NE(result.err.find(fragment), std::string::npos) << "no '" << fragment << "' in: " << result.err;
  }
}

}  // namespace predictor::testing
