// Einsum (opset 12+, one or more operands of one numeric type): the equation
// "t_1,...,t_n->out" names each operand dimension by a letter (a-z, A-Z) and
// at most one "..." per term standing for the leading unnamed dimensions
// (right-aligned across operands and broadcast numpy-style where one of them
// has size 1). Then
//   y[out letters] = sum over every other letter of prod_k x_k[t_k letters].
// A letter repeated within a term reads that operand's diagonal. Without
// "->" the output is "..." followed by the letters that occur exactly once,
// in ASCII order. Letters other than "..." dimensions must agree in size.
// Backward (every operand, float32/float64): dx_k is the same contraction of
// dy with the other operands, accumulated into x_k's layout (zero off a
// repeated letter's diagonal, summed over broadcast dimensions).
//
// Implementation: one generic strided loop over every combination of label
// values (its cost is the product of all label sizes, the FLOP count of the
// contraction); enough for the attention and batched-matmul forms exporters
// emit.
#include <algorithm>
#include <map>
#include <string>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

constexpr int kEllipsisBase = 1000;  // label ids of "..." dims: 1000, 1001, ...

struct Term {
  std::vector<int> labels;  // letters as their char code; "..." expanded later
  bool ellipsis = false;
  size_t ellipsis_at = 0;  // position of "..." among the letters
};

struct Plan {
  std::vector<int64_t> sizes;  // per label slot
  // Per operand: stride of each label slot (0 where absent or broadcast).
  std::vector<std::vector<int64_t>> in_strides;
  std::vector<int64_t> out_strides;
  Shape out_shape;
};

absl::StatusOr<Term> ParseTerm(const Node& node, const std::string& text) {
  Term t;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t.labels.push_back(c);
    } else if (c == '.' && text.compare(i, 3, "...") == 0 && !t.ellipsis) {
      t.ellipsis = true;
      t.ellipsis_at = t.labels.size();
      i += 2;
    } else {
      return NodeError(node, absl::StrCat("bad einsum term '", text, "'"));
    }
  }
  return t;
}

// Label ids of a term's dimensions, "..." expanded to `e` trailing ellipsis
// ids of the global `total` ones.
std::vector<int> Expand(const Term& t, int64_t e, int64_t total) {
  std::vector<int> ids;
  for (size_t i = 0; i <= t.labels.size(); ++i) {
    if (t.ellipsis && i == t.ellipsis_at) {
      for (int64_t j = total - e; j < total; ++j)
        ids.push_back(kEllipsisBase + static_cast<int>(j));
    }
    if (i < t.labels.size()) ids.push_back(t.labels[i]);
  }
  return ids;
}

absl::StatusOr<Plan> MakePlan(const Node& node, const TensorRefs& inputs) {
  if (!node.HasAttr("equation"))
    return NodeError(node, "attribute 'equation' is required");
  std::string eq;
  for (char c : node.GetString("equation", "")) {
    if (c != ' ') eq.push_back(c);
  }
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<Term> terms;
  size_t begin = 0;
  while (true) {
    const size_t comma = lhs.find(',', begin);
    OC_ASSIGN_OR_RETURN(Term t,
                        ParseTerm(node, lhs.substr(begin, comma - begin)));
    terms.push_back(std::move(t));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  if (terms.size() != inputs.size()) {
    return NodeError(
        node, absl::StrCat("equation '", eq, "' has ", terms.size(),
                           " operands, the node ", inputs.size(), " inputs"));
  }
  const DType dtype = inputs.empty() ? DType::kUndefined : inputs[0]->dtype();
  int64_t total_ellipsis = 0;
  std::vector<int64_t> ellipsis_rank(terms.size(), 0);
  for (size_t k = 0; k < terms.size(); ++k) {
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, k));
    const Tensor& x = *inputs[k];
    if (x.dtype() != dtype) {
      return NodeError(node, "operands must share one element type");
    }
    const int64_t named = static_cast<int64_t>(terms[k].labels.size());
    if (x.rank() < named || (!terms[k].ellipsis && x.rank() != named)) {
      return NodeError(node,
                       absl::StrCat("operand ", k, " ", x.DebugString(),
                                    " does not fit its term in '", eq, "'"));
    }
    ellipsis_rank[k] = x.rank() - named;
    total_ellipsis = std::max(total_ellipsis, ellipsis_rank[k]);
  }
  // Output labels.
  std::vector<int> out_ids;
  if (arrow != std::string::npos) {
    OC_ASSIGN_OR_RETURN(const Term out, ParseTerm(node, eq.substr(arrow + 2)));
    out_ids = Expand(out, out.ellipsis ? total_ellipsis : 0, total_ellipsis);
    for (size_t i = 0; i < out_ids.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (out_ids[i] == out_ids[j]) {
          return NodeError(node, "a letter repeats in the einsum output");
        }
      }
    }
  } else {
    std::map<int, int> count;
    for (const Term& t : terms) {
      for (int c : t.labels) ++count[c];
    }
    for (int64_t j = 0; j < total_ellipsis; ++j)
      out_ids.push_back(kEllipsisBase + static_cast<int>(j));
    for (const auto& [c, n] : count) {  // std::map: ASCII order
      if (n == 1) out_ids.push_back(c);
    }
  }
  // Label slots: output labels first, then the summed ones.
  std::vector<int> slots = out_ids;
  std::vector<std::vector<int>> term_ids(terms.size());
  for (size_t k = 0; k < terms.size(); ++k) {
    term_ids[k] = Expand(terms[k], ellipsis_rank[k], total_ellipsis);
    for (int id : term_ids[k]) {
      if (std::find(slots.begin(), slots.end(), id) == slots.end())
        slots.push_back(id);
    }
  }
  auto slot_of = [&](int id) {
    return static_cast<size_t>(std::find(slots.begin(), slots.end(), id) -
                               slots.begin());
  };
  Plan p;
  p.sizes.assign(slots.size(), -1);
  for (size_t k = 0; k < terms.size(); ++k) {
    const Tensor& x = *inputs[k];
    for (size_t d = 0; d < term_ids[k].size(); ++d) {
      const int id = term_ids[k][d];
      int64_t& size = p.sizes[slot_of(id)];
      const int64_t n = x.dim(static_cast<int64_t>(d));
      if (size < 0 || (id >= kEllipsisBase && size == 1)) {
        size = n;
      } else if (n != size && !(id >= kEllipsisBase && n == 1)) {
        return NodeError(node, absl::StrCat("dimension sizes ", size, " and ",
                                            n, " disagree in '", eq, "'"));
      }
    }
  }
  for (size_t s = 0; s < slots.size(); ++s) {
    if (p.sizes[s] < 0) {
      return NodeError(node, absl::StrCat("output label of '", eq,
                                          "' occurs in no operand"));
    }
  }
  p.in_strides.assign(terms.size(), std::vector<int64_t>(slots.size(), 0));
  for (size_t k = 0; k < terms.size(); ++k) {
    const Tensor& x = *inputs[k];
    const std::vector<int64_t> strides = RowMajorStrides(x.shape());
    for (size_t d = 0; d < term_ids[k].size(); ++d) {
      const size_t s = slot_of(term_ids[k][d]);
      if (x.dim(static_cast<int64_t>(d)) == p.sizes[s]) {
        p.in_strides[k][s] += strides[d];
      }  // else a broadcast size-1 dimension: stride 0
    }
  }
  p.out_strides.assign(slots.size(), 0);
  for (size_t i = 0; i < out_ids.size(); ++i) p.out_shape.push_back(p.sizes[i]);
  const std::vector<int64_t> ostrides = RowMajorStrides(p.out_shape);
  for (size_t i = 0; i < out_ids.size(); ++i) p.out_strides[i] = ostrides[i];
  return p;
}

// target[off_t] += prod_f factor_f[off_f] over every combination of slot
// values, where off = sum_s index_s * strides_s.
template <typename T>
void Contract(const std::vector<int64_t>& sizes,
              const std::vector<const T*>& factors,
              const std::vector<const std::vector<int64_t>*>& factor_strides,
              T* target, const std::vector<int64_t>& target_strides) {
  const size_t nslots = sizes.size();
  for (int64_t n : sizes) {
    if (n == 0) return;
  }
  const size_t nf = factors.size();
  std::vector<int64_t> off(nf, 0);
  int64_t toff = 0;
  if (nslots == 0) {
    T prod = 1;
    for (size_t f = 0; f < nf; ++f) prod *= factors[f][0];
    target[0] += prod;
    return;
  }
  const size_t last = nslots - 1;
  const int64_t inner = sizes[last];
  std::vector<int64_t> inner_stride(nf);
  for (size_t f = 0; f < nf; ++f) inner_stride[f] = (*factor_strides[f])[last];
  const int64_t tinner = target_strides[last];
  std::vector<int64_t> index(nslots, 0);
  while (true) {
    // Innermost slot as a tight loop.
    if (nf == 1) {
      const T* a = factors[0] + off[0];
      for (int64_t i = 0; i < inner; ++i)
        target[toff + i * tinner] += a[i * inner_stride[0]];
    } else if (nf == 2) {
      const T* a = factors[0] + off[0];
      const T* b = factors[1] + off[1];
      if (tinner == 0) {
        T sum = 0;
        for (int64_t i = 0; i < inner; ++i)
          sum += a[i * inner_stride[0]] * b[i * inner_stride[1]];
        target[toff] += sum;
      } else {
        for (int64_t i = 0; i < inner; ++i)
          target[toff + i * tinner] +=
              a[i * inner_stride[0]] * b[i * inner_stride[1]];
      }
    } else {
      for (int64_t i = 0; i < inner; ++i) {
        T prod = 1;
        for (size_t f = 0; f < nf; ++f)
          prod *= factors[f][off[f] + i * inner_stride[f]];
        target[toff + i * tinner] += prod;
      }
    }
    // Advance the outer slots (odometer).
    int64_t s = static_cast<int64_t>(last) - 1;
    for (; s >= 0; --s) {
      ++index[s];
      for (size_t f = 0; f < nf; ++f) off[f] += (*factor_strides[f])[s];
      toff += target_strides[s];
      if (index[s] < sizes[s]) break;
      for (size_t f = 0; f < nf; ++f)
        off[f] -= index[s] * (*factor_strides[f])[s];
      toff -= index[s] * target_strides[s];
      index[s] = 0;
    }
    if (s < 0) break;
  }
}

template <typename T>
Tensor RunForward(const Plan& p, const TensorRefs& inputs) {
  Tensor y(DTypeOf<T>::value, p.out_shape);
  std::vector<const T*> factors;
  std::vector<const std::vector<int64_t>*> strides;
  for (size_t k = 0; k < inputs.size(); ++k) {
    factors.push_back(inputs[k]->data<T>());
    strides.push_back(&p.in_strides[k]);
  }
  Contract<T>(p.sizes, factors, strides, y.mutable_data<T>(), p.out_strides);
  return y;
}

absl::Status EinsumForward(const Node& node, const TensorRefs& inputs,
                           std::vector<Tensor>& outputs,
                           std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const absl::Status size_ok = CheckTensorSize(inputs[0]->dtype(), p.out_shape);
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  switch (inputs[0]->dtype()) {
    case DType::kFloat32:
      outputs[0] = RunForward<float>(p, inputs);
      break;
    case DType::kFloat64:
      outputs[0] = RunForward<double>(p, inputs);
      break;
    case DType::kInt32:
      outputs[0] = RunForward<int32_t>(p, inputs);
      break;
    case DType::kInt64:
      outputs[0] = RunForward<int64_t>(p, inputs);
      break;
    default:
      return NodeError(node, absl::StrCat("unsupported element type ",
                                          DTypeName(inputs[0]->dtype())));
  }
  return absl::OkStatus();
}

absl::Status EinsumBackward(const Node& node, const TensorRefs& inputs,
                            const TensorRefs& outputs,
                            const TensorRefs& grad_outputs,
                            const OpContext* ctx,
                            const std::vector<bool>& need_grad,
                            std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  OC_DISPATCH_FLOAT(inputs[0]->dtype(), node, {
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (k >= need_grad.size() || !need_grad[k]) continue;
      Tensor dx(inputs[k]->dtype(), inputs[k]->shape());
      std::vector<const T*> factors = {dy.data<T>()};
      std::vector<const std::vector<int64_t>*> strides = {&p.out_strides};
      for (size_t j = 0; j < inputs.size(); ++j) {
        if (j == k) continue;
        factors.push_back(inputs[j]->data<T>());
        strides.push_back(&p.in_strides[j]);
      }
      Contract<T>(p.sizes, factors, strides, dx.mutable_data<T>(),
                  p.in_strides[k]);
      grad_inputs[k] = std::move(dx);
    }
  });
  return absl::OkStatus();
}

}  // namespace

void AddEinsumOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Einsum";
  def.since_version = 12;
  def.forward = EinsumForward;
  def.backward = EinsumBackward;
  def.differentiable_inputs = OpDef::kEveryInput;  // variadic: every operand
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
