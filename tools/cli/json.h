// A small JSON writer for the CLI's --json lines: objects and arrays built in
// order, with commas placed for the caller, strings escaped, numbers formatted
// and non-finite numbers written as null.
//
// Written by hand rather than taken from a JSON library because the CLI needs
// a few fixed-format one-line objects (the number of decimals of each field is
// part of the output format) and nothing else; no dependency is worth that.
//
// Misuse (a value in an object without a key, an unbalanced End, str() on an
// unfinished document) is a programming error; it is caught by assertions in
// debug builds only. Not thread-safe.
#ifndef ONNX_CRYPT_TOOLS_CLI_JSON_H_
#define ONNX_CRYPT_TOOLS_CLI_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace onnx_crypt::cli {

// `s` as a JSON string literal, quotes included: " and \ escaped, control
// characters as \b \f \n \r \t or \u00XX; every other byte (UTF-8 included)
// passes through unchanged.
std::string JsonQuote(absl::string_view s);

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The key of the next value; only inside an object.
  JsonWriter& Key(absl::string_view key);

  JsonWriter& String(absl::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  // Fixed-point with `decimals` digits after the point ("%.*f"); NaN and
  // infinities (which JSON cannot hold) are null.
  JsonWriter& Fixed(double value, int decimals);
  // The shortest form that reads back as the same double ("%.17g" at most);
  // non-finite values are null.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // A value that is already JSON text (for example the attack report's
  // pre-encoded fields); written as given.
  JsonWriter& Raw(absl::string_view json);

  // Key(key) followed by the value.
  JsonWriter& Field(absl::string_view key, absl::string_view value) {
    return Key(key).String(value);
  }
  JsonWriter& Field(absl::string_view key, const char* value) {
    return Key(key).String(value);
  }
  JsonWriter& Field(absl::string_view key, int64_t value) {
    return Key(key).Int(value);
  }
  JsonWriter& Field(absl::string_view key, int value) {
    return Key(key).Int(value);
  }
  JsonWriter& Field(absl::string_view key, bool value) {
    return Key(key).Bool(value);
  }
  JsonWriter& Field(absl::string_view key, double value, int decimals) {
    return Key(key).Fixed(value, decimals);
  }

  // The document so far; complete once every Begin has its End.
  const std::string& str() const { return out_; }

 private:
  // Writes the separator a new value needs at this point.
  void BeforeValue();
  JsonWriter& Open(char bracket, bool object);
  JsonWriter& Close(char bracket, bool object);

  std::string out_;
  // One entry per open object/array: whether it already holds a value.
  std::vector<bool> has_value_;
  std::vector<bool> is_object_;
  bool after_key_ = false;
};

}  // namespace onnx_crypt::cli

#endif  // ONNX_CRYPT_TOOLS_CLI_JSON_H_
