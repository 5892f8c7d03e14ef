#include "tools/cli/json.h"

#include <cassert>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace onnx_crypt::cli {

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void JsonWriter::BeforeValue() {
  if (has_value_.empty()) {
    assert(out_.empty() && "a JSON document holds one value");
    return;
  }
  if (is_object_.back()) {
    assert(after_key_ && "a value in an object needs a Key()");
    after_key_ = false;
    return;
  }
  if (has_value_.back()) out_ += ',';
  has_value_.back() = true;
}

JsonWriter& JsonWriter::Open(char bracket, bool object) {
  BeforeValue();
  out_ += bracket;
  has_value_.push_back(false);
  is_object_.push_back(object);
  return *this;
}

JsonWriter& JsonWriter::Close(char bracket, bool object) {
  assert(!is_object_.empty() && is_object_.back() == object && !after_key_);
  out_ += bracket;
  has_value_.pop_back();
  is_object_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::BeginObject() { return Open('{', true); }
JsonWriter& JsonWriter::EndObject() { return Close('}', true); }
JsonWriter& JsonWriter::BeginArray() { return Open('[', false); }
JsonWriter& JsonWriter::EndArray() { return Close(']', false); }

JsonWriter& JsonWriter::Key(absl::string_view key) {
  assert(!is_object_.empty() && is_object_.back() && !after_key_);
  if (has_value_.back()) out_ += ',';
  has_value_.back() = true;
  out_ += JsonQuote(key);
  out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(absl::string_view value) {
  return Raw(JsonQuote(value));
}

JsonWriter& JsonWriter::Int(int64_t value) { return Raw(absl::StrCat(value)); }

JsonWriter& JsonWriter::Uint(uint64_t value) {
  return Raw(absl::StrCat(value));
}

JsonWriter& JsonWriter::Fixed(double value, int decimals) {
  if (!std::isfinite(value)) return Null();
  return Raw(absl::StrFormat("%.*f", decimals, value));
}

JsonWriter& JsonWriter::Double(double value) {
  if (!std::isfinite(value)) return Null();
  // The shortest precision that round-trips.
  for (int precision = 1; precision < 17; ++precision) {
    const std::string s = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(s.c_str(), nullptr) == value) return Raw(s);
  }
  return Raw(absl::StrFormat("%.17g", value));
}

JsonWriter& JsonWriter::Bool(bool value) {
  return Raw(value ? "true" : "false");
}

JsonWriter& JsonWriter::Null() { return Raw("null"); }

JsonWriter& JsonWriter::Raw(absl::string_view json) {
  BeforeValue();
  absl::StrAppend(&out_, json);
  return *this;
}

}  // namespace onnx_crypt::cli
