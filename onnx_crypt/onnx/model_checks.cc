#include "onnx_crypt/onnx/model_checks.h"

#include <onnx/checker.h>

#include <climits>
#include <cstdint>
#include <exception>
#include <set>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/onnx/infer_shapes.h"

namespace onnx_crypt {

namespace {

// The domain the checker view moves newer-opset nodes into (see
// MakeCheckerView).
constexpr char kStandInDomain[] = "onnx_crypt.newer_opset";

// The checker view: what libonnx (1.12: default-domain opsets up to 17, IR
// version 8) can check of a model made for newer ONNX. A node at an opset
// libonnx does not know would be checked against the latest schema it knows,
// which may be another op's shape (ReduceMean-18 takes `axes` as an input,
// Split-18 has num_outputs) or none at all (Gelu-20): every node of such a
// domain is moved into a stand-in domain, which the checker does not look up,
// and a newer IR version is clamped. Everything else is still checked: the
// graph's structure, names defined before use, initializers, types, other
// domains' nodes. The engine's kernels check the nodes they run; unsupported
// nodes are named by the loader's callers.
bool NeedsCheckerView(const onnx::ModelProto& model) {
  return model.ir_version() > onnx::IR_VERSION ||
         !DomainsNewerThanLibonnx(model).empty();
}

void MakeCheckerView(onnx::ModelProto* model) {
  const std::set<std::string> newer = DomainsNewerThanLibonnx(*model);
  if (model->ir_version() > onnx::IR_VERSION)
    model->set_ir_version(onnx::IR_VERSION);
  if (newer.empty() || !model->has_graph()) return;
  onnx::OperatorSetIdProto* stand_in = model->add_opset_import();
  stand_in->set_domain(kStandInDomain);
  stand_in->set_version(1);
  for (onnx::NodeProto& node : *model->mutable_graph()->mutable_node()) {
    if (newer.count(node.domain())) node.set_domain(kStandInDomain);
  }
}

}  // namespace

absl::Status RunChecker(const onnx::ModelProto& model) {
  try {
    if (NeedsCheckerView(model)) {
      onnx::ModelProto view = model;
      MakeCheckerView(&view);
      onnx::checker::check_model(view);
    } else {
      onnx::checker::check_model(model);
    }
  } catch (const onnx::checker::ValidationError& e) {
    return absl::InvalidArgumentError(absl::StrCat("onnx checker: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("onnx checker failed: ", e.what()));
  } catch (...) {
    return absl::InvalidArgumentError(
        "onnx checker failed with an unknown exception");
  }
  return absl::OkStatus();
}

std::string DescribeProtoNode(const onnx::NodeProto& node) {
  std::string label = node.name();
  if (label.empty() && node.output_size() > 0)
    label = absl::StrCat("<output ", node.output(0), ">");
  return absl::StrCat(node.domain().empty() || node.domain() == "ai.onnx"
                          ? ""
                          : node.domain() + ".",
                      node.op_type(), " node '", label, "'");
}

// libonnx's shape inference for the sliding-window ops divides by strides and
// trusts kernel_shape, dilations and pads: a stride of 0 kills the process
// with SIGFPE, and huge values overflow. The ONNX spec requires strides,
// dilations and kernel_shape >= 1 and pads >= 0 for these ops, so refusing
// anything else before inference runs changes nothing for a valid model. The
// upper bound (2^31 - 1) keeps libonnx's own arithmetic on them in range.
absl::Status CheckWindowAttributes(const onnx::GraphProto& graph) {
  static const std::set<std::string>* const kWindowOps =
      new std::set<std::string>{"Conv",    "ConvInteger", "QLinearConv",
                                "MaxPool", "AveragePool", "LpPool"};
  constexpr int64_t kMaxWindowValue = INT32_MAX;
  for (const onnx::NodeProto& node : graph.node()) {
    for (const onnx::AttributeProto& attr : node.attribute()) {
      if (attr.has_g()) OC_RETURN_IF_ERROR(CheckWindowAttributes(attr.g()));
      for (const onnx::GraphProto& g : attr.graphs())
        OC_RETURN_IF_ERROR(CheckWindowAttributes(g));
    }
    const bool default_domain =
        node.domain().empty() || node.domain() == "ai.onnx";
    if (!default_domain || !kWindowOps->count(node.op_type())) continue;
    for (const onnx::AttributeProto& attr : node.attribute()) {
      const std::string& name = attr.name();
      int64_t min_value;
      if (name == "strides" || name == "dilations" || name == "kernel_shape") {
        min_value = 1;
      } else if (name == "pads") {
        min_value = 0;
      } else if (name == "group") {
        if (attr.i() < 1 || attr.i() > kMaxWindowValue) {
          return absl::InvalidArgumentError(
              absl::StrCat(DescribeProtoNode(node), ": attribute group is ",
                           attr.i(), ", must be >= 1"));
        }
        continue;
      } else {
        continue;
      }
      for (int64_t v : attr.ints()) {
        if (v < min_value || v > kMaxWindowValue) {
          return absl::InvalidArgumentError(absl::StrCat(
              DescribeProtoNode(node), ": attribute ", name, " has value ", v,
              " (each must be in [", min_value, ", ", kMaxWindowValue, "])"));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace onnx_crypt
