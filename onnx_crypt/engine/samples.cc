#include "onnx_crypt/engine/samples.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace onnx_crypt {
namespace {

std::string ShapeText(const ValueInfo& info) {
  if (!info.has_shape) return "[?]";
  std::vector<std::string> dims;
  for (size_t i = 0; i < info.dims.size(); ++i) {
    if (info.dims[i] >= 0) {
      dims.push_back(absl::StrCat(info.dims[i]));
    } else {
      dims.push_back(i < info.dim_params.size() && !info.dim_params[i].empty()
                         ? info.dim_params[i]
                         : "?");
    }
  }
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

std::string Describe(const ValueInfo& info) {
  return absl::StrCat("graph input '", info.name, "' (", DTypeName(info.dtype),
                      ShapeText(info), ")");
}

}  // namespace

int64_t SampleCount(const Feeds& samples) {
  if (samples.empty()) return 0;
  const Tensor& t = samples.begin()->second;
  return t.rank() > 0 ? t.dim(0) : 0;
}

Feeds SliceSamples(const Feeds& samples, int64_t begin, int64_t end) {
  Feeds out;
  for (const auto& [name, t] : samples) {
    Shape shape = t.shape();
    const size_t row = shape[0] == 0 ? 0 : t.nbytes() / shape[0];
    shape[0] = end - begin;
    Tensor part(t.dtype(), shape);
    if (end > begin)
      std::memcpy(part.mutable_raw(), t.raw() + begin * row,
                  (end - begin) * row);
    out.emplace(name, std::move(part));
  }
  return out;
}

Feeds GatherSamples(const Feeds& samples, const std::vector<int64_t>& rows) {
  Feeds out;
  for (const auto& [name, t] : samples) {
    Shape shape = t.shape();
    const size_t row = shape[0] == 0 ? 0 : t.nbytes() / shape[0];
    shape[0] = static_cast<int64_t>(rows.size());
    Tensor part(t.dtype(), shape);
    for (size_t i = 0; i < rows.size(); ++i)
      std::memcpy(part.mutable_raw() + i * row, t.raw() + rows[i] * row, row);
    out.emplace(name, std::move(part));
  }
  return out;
}

absl::StatusOr<Feeds> BindSamples(const Graph& graph,
                                  const std::map<std::string, Tensor>& arrays,
                                  const std::vector<int64_t>& labels,
                                  const std::string& source) {
  if (graph.inputs.empty()) {
    return absl::InvalidArgumentError(
        "the model has no data input to feed samples to");
  }
  std::vector<std::string> held;
  for (const auto& [name, t] : arrays) held.push_back("'" + name + "'");
  Feeds feeds;
  std::string first_array;  // the array that set the row count
  int64_t rows = -1;
  for (const ValueInfo& input : graph.inputs) {
    auto it = arrays.find(input.name);
    if (it == arrays.end() && graph.inputs.size() == 1) {
      it = arrays.find("x");
      if (it == arrays.end() && arrays.size() == 1) it = arrays.begin();
    }
    if (it == arrays.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": no array for ", Describe(input), "; it holds ",
          held.empty() ? std::string("no input arrays")
                       : absl::StrJoin(held, ", "),
          graph.inputs.size() == 1
              ? absl::StrCat(" (a single-input model takes array 'x' or '",
                             input.name, "')")
              : std::string(" (one array per graph input, by input name)")));
    }
    const std::string& array = it->first;
    // A float16 / bfloat16 model computes in float32 (narrow_floats.h): its
    // inputs take arrays of the file's narrow type too, widened exactly.
    Tensor widened;
    const bool narrow = it->second.dtype() == DType::kFloat16 ||
                        it->second.dtype() == DType::kBFloat16;
    if (narrow && input.dtype == DType::kFloat32)
      widened = it->second.CastTo(DType::kFloat32);
    const Tensor& t = widened.defined() ? widened : it->second;
    const std::string what =
        absl::StrCat(source, ": array '", array, "' (", t.DebugString(),
                     ") for ", Describe(input));
    if (input.dtype != DType::kUndefined && t.dtype() != input.dtype) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": its dtype must be ", DTypeName(input.dtype),
                       " (numpy: .astype(np.", DTypeName(input.dtype), "))"));
    }
    if (t.rank() < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": it has no batch dimension"));
    }
    if (input.has_shape) {
      bool fits = static_cast<int64_t>(input.dims.size()) == t.rank();
      for (size_t d = 1; fits && d < input.dims.size(); ++d)
        fits = input.dims[d] < 0 || input.dims[d] == t.dim(d);
      if (!fits) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": its shape does not fit (batch first)"));
      }
    }
    if (t.dim(0) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": array '", array,
                                                     "' holds no samples (",
                                                     t.DebugString(), ")"));
    }
    if (rows >= 0 && t.dim(0) != rows) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": array '", array, "' has ", t.dim(0),
                       " rows but '", first_array, "' has ", rows,
                       "; every input needs one row per sample"));
    }
    if (rows < 0) {
      rows = t.dim(0);
      first_array = array;
    }
    feeds.emplace(input.name, t);
  }
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != rows) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": array 'y' must be 1-D with one label per row of '",
        first_array, "' (", rows, " rows); it has ", labels.size(), " labels"));
  }
  return feeds;
}

absl::StatusOr<Feeds> SingleInputSamples(const Graph& graph, Tensor x) {
  if (graph.inputs.size() != 1) {
    std::vector<std::string> names;
    for (const ValueInfo& in : graph.inputs)
      names.push_back("'" + in.name + "'");
    return absl::InvalidArgumentError(absl::StrCat(
        "the model has ", graph.inputs.size(), " data inputs (",
        absl::StrJoin(names, ", "),
        "); give one array per input, by name, instead of a single x"));
  }
  Feeds feeds;
  feeds.emplace(graph.inputs[0].name, std::move(x));
  return feeds;
}

}  // namespace onnx_crypt
