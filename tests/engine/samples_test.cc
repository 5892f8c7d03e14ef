// BindSamples: a data file's arrays bound to a graph's inputs by name, with
// errors that name the file, the array and the input.
#include "onnx_crypt/engine/samples.h"

#include "gtest/gtest.h"

namespace onnx_crypt {
namespace {

ValueInfo Input(const std::string& name, DType dtype, Shape dims) {
  ValueInfo v;
  v.name = name;
  v.dtype = dtype;
  v.dims = std::move(dims);
  v.has_shape = true;
  return v;
}

Graph TwoInputs() {
  Graph g;
  g.inputs = {Input("input_ids", DType::kInt64, {-1, 4}),
              Input("attention_mask", DType::kInt64, {-1, 4})};
  return g;
}

Graph OneInput() {
  Graph g;
  g.inputs = {Input("input", DType::kFloat32, {-1, 1, 2, 2})};
  return g;
}

Tensor Ints(int64_t rows) {
  std::vector<int64_t> v(static_cast<size_t>(rows * 4));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i);
  return Tensor::FromVector<int64_t>({rows, 4}, v);
}

void ExpectError(const absl::StatusOr<Feeds>& r,
                 const std::vector<std::string>& needles) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  for (const std::string& n : needles)
    EXPECT_NE(r.status().message().find(n), std::string::npos)
        << "'" << n << "' not in: " << r.status();
}

TEST(SamplesTest, BindsEveryInputByName) {
  std::map<std::string, Tensor> arrays = {
      {"input_ids", Ints(3)}, {"attention_mask", Ints(3)}, {"unused", Ints(1)}};
  absl::StatusOr<Feeds> f =
      BindSamples(TwoInputs(), arrays, {0, 1, 0}, "d.npz");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->size(), 2u);
  EXPECT_EQ(SampleCount(*f), 3);
  EXPECT_EQ(f->at("attention_mask").span<int64_t>()[5], 5);
}

TEST(SamplesTest, SingleInputTakesItsNameOrXOrTheOnlyArray) {
  const Tensor x(DType::kFloat32, {5, 1, 2, 2});
  for (const std::string& name : {"input", "x", "images"}) {
    absl::StatusOr<Feeds> f = BindSamples(OneInput(), {{name, x}}, {}, "d.npz");
    ASSERT_TRUE(f.ok()) << name << ": " << f.status();
    EXPECT_EQ(f->count("input"), 1u);
  }
  // Two arrays, neither named after the input nor x: which one is unclear.
  ExpectError(BindSamples(OneInput(), {{"a", x}, {"b", x}}, {}, "d.npz"),
              {"d.npz", "no array for graph input 'input'", "'a', 'b'"});
}

TEST(SamplesTest, ErrorsNameTheFileArrayAndInput) {
  ExpectError(BindSamples(TwoInputs(), {{"input_ids", Ints(3)}}, {}, "d.npz"),
              {"d.npz", "graph input 'attention_mask' (int64[?, 4])",
               "'input_ids'", "by input name"});
  ExpectError(BindSamples(TwoInputs(),
                          {{"input_ids", Ints(3)},
                           {"attention_mask", Ints(3).CastTo(DType::kInt32)}},
                          {}, "d.npz"),
              {"d.npz", "array 'attention_mask'", "dtype must be int64"});
  ExpectError(BindSamples(TwoInputs(),
                          {{"input_ids", Ints(3)}, {"attention_mask", Ints(2)}},
                          {}, "d.npz"),
              {"d.npz", "has 2 rows", "has 3"});
  ExpectError(
      BindSamples(OneInput(), {{"x", Tensor(DType::kFloat32, {5, 1, 3, 3})}},
                  {}, "d.npz"),
      {"d.npz", "array 'x'", "graph input 'input'", "shape"});
  ExpectError(
      BindSamples(OneInput(), {{"x", Tensor::Scalar<float>(1)}}, {}, "d.npz"),
      {"d.npz", "array 'x'", "no batch dimension"});
  ExpectError(
      BindSamples(OneInput(), {{"x", Tensor(DType::kFloat32, {0, 1, 2, 2})}},
                  {}, "d.npz"),
      {"d.npz", "array 'x'", "holds no samples"});
  ExpectError(
      BindSamples(OneInput(), {{"x", Tensor(DType::kFloat64, {2, 1, 2, 2})}},
                  {}, "d.npz"),
      {"d.npz", "array 'x'", "dtype must be float32"});
  ExpectError(
      BindSamples(OneInput(), {{"x", Tensor(DType::kFloat32, {2, 1, 2, 2})}},
                  {1, 2, 3}, "d.npz"),
      {"d.npz", "array 'y'", "one label per row", "3 labels"});
}

TEST(SamplesTest, SliceAndGatherEveryArray) {
  const Feeds f = {{"a", Ints(4)}, {"b", Ints(4)}};
  const Feeds s = SliceSamples(f, 1, 3);
  EXPECT_EQ(SampleCount(s), 2);
  EXPECT_EQ(s.at("b").span<int64_t>()[0], 4);
  const Feeds g = GatherSamples(f, {3, 0});
  EXPECT_EQ(g.at("a").span<int64_t>()[0], 12);
  EXPECT_EQ(g.at("a").span<int64_t>()[4], 0);
}

}  // namespace
}  // namespace onnx_crypt
