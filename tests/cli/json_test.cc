// The CLI's JSON writer: escaping, number formatting (non-finite as null),
// commas and nesting.
#include "tools/cli/json.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace onnx_crypt::cli {
namespace {

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote(""), R"("")");
  EXPECT_EQ(JsonQuote("plain"), R"("plain")");
  EXPECT_EQ(JsonQuote("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(JsonQuote("C:\\models\\a.onnx"), R"("C:\\models\\a.onnx")");
  EXPECT_EQ(JsonQuote("a\nb\tc\rd\be\ff"), R"("a\nb\tc\rd\be\ff")");
  EXPECT_EQ(JsonQuote(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(JsonQuote(std::string("nul\0byte", 8)), R"("nul\u0000byte")");
  // DEL and everything from 0x80 up (UTF-8, or not) pass through unchanged.
  EXPECT_EQ(JsonQuote("\x7f"), "\"\x7f\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 \xe2\x9c\x93"),
            "\"caf\xc3\xa9 \xe2\x9c\x93\"");
  EXPECT_EQ(JsonQuote("\xff\xfe"), "\"\xff\xfe\"");
}

TEST(JsonWriterTest, Numbers) {
  auto one = [](auto&& write) {
    JsonWriter json;
    json.BeginArray();
    write(json);
    json.EndArray();
    return json.str();
  };
  EXPECT_EQ(one([](JsonWriter& j) { j.Int(0).Int(-42).Int(INT64_MIN); }),
            "[0,-42,-9223372036854775808]");
  EXPECT_EQ(one([](JsonWriter& j) { j.Uint(UINT64_MAX); }),
            "[18446744073709551615]");
  EXPECT_EQ(one([](JsonWriter& j) {
              j.Fixed(0.5, 6).Fixed(1.0 / 3, 4).Fixed(-2, 0).Fixed(1e-9, 8);
            }),
            "[0.500000,0.3333,-2,0.00000000]");
  EXPECT_EQ(one([](JsonWriter& j) {
              j.Double(0.1).Double(1.0 / 3).Double(1e300).Double(-0.25);
            }),
            "[0.1,0.3333333333333333,1e+300,-0.25]");
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(
      one([&](JsonWriter& j) {
        j.Fixed(inf, 4).Fixed(-inf, 4).Fixed(nan, 4).Double(nan).Double(inf);
      }),
      "[null,null,null,null,null]");
  EXPECT_EQ(one([](JsonWriter& j) { j.Bool(true).Bool(false).Null(); }),
            "[true,false,null]");
}

TEST(JsonWriterTest, ObjectsArraysAndNesting) {
  JsonWriter empty;
  empty.BeginObject().EndObject();
  EXPECT_EQ(empty.str(), "{}");

  JsonWriter json;
  json.BeginObject()
      .Field("name", "lenet\"5\"")
      .Field("count", 3)
      .Field("ratio", 0.25, 2)
      .Field("ok", true)
      .Key("ops")
      .BeginObject()
      .Field("Conv", 2)
      .Field("Relu", int64_t{4})
      .EndObject()
      .Key("list")
      .BeginArray()
      .BeginObject()
      .Field("a", 1)
      .EndObject()
      .BeginArray()
      .EndArray()
      .String("x")
      .EndArray()
      .Key("raw")
      .Raw("[1,2]")
      .Key("nothing")
      .Null()
      .EndObject();
  EXPECT_EQ(json.str(),
            R"({"name":"lenet\"5\"","count":3,"ratio":0.25,"ok":true,)"
            R"("ops":{"Conv":2,"Relu":4},"list":[{"a":1},[],"x"],)"
            R"("raw":[1,2],"nothing":null})");
}

TEST(JsonWriterTest, KeysAreEscapedToo) {
  JsonWriter json;
  json.BeginObject().Field("a\"b\\c\n", "v").EndObject();
  EXPECT_EQ(json.str(), R"({"a\"b\\c\n":"v"})");
}

}  // namespace
}  // namespace onnx_crypt::cli
