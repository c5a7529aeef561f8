#pragma once
// A minimal streaming JSON writer for machine-readable output (bench --json):
// compact, with commas placed automatically and strings escaped.

#include <ostream>
#include <string>
#include <vector>

namespace predictor::tool {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  // Inside an object: the key of the next value.
  void Key(const std::string& key);

  void String(const std::string& value);
  // Non-finite numbers, which JSON cannot express, are written as null.
  void Number(double value);
  void Integer(long long value);
  void Bool(bool value);
  void Null();

 private:
  void BeforeValue();
  void Open(char bracket);
  void Close(char bracket);

  std::ostream& out_;
  std::vector<bool> has_items_;  // per open object/array: whether a value was written
  bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included.
std::string json_quote(const std::string& text);

}  // namespace predictor::tool
