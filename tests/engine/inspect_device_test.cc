// InspectModel with a device (what `onnx-crypt info --device D` prints): the
// nodes that would not run on the device's own kernels, planned without the
// device. A model with Erf (an op with a CPU kernel but no CUDA kernel).
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"
#include "onnx_crypt/api.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

// x float[N, 3] -> Erf -> Relu -> y
std::string WriteErfModel() {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("erf");
  for (const char* io : {"x", "y"}) {
    onnx::ValueInfoProto* v = io[0] == 'x' ? g->add_input() : g->add_output();
    v->set_name(io);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    tt->mutable_shape()->add_dim()->set_dim_value(3);
  }
  onnx::NodeProto* erf = g->add_node();
  erf->set_op_type("Erf");
  erf->set_name("erf");
  erf->add_input("x");
  erf->add_output("e");
  onnx::NodeProto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->set_name("relu");
  relu->add_input("e");
  relu->add_output("y");
  const std::string path =
      (fs::temp_directory_path() / "oc_inspect_device_erf.onnx").string();
  std::ofstream out(path, std::ios::binary);
  model.SerializeToOstream(&out);
  return path;
}

TEST(InspectDeviceTest, CpuRunsEveryNodeOnItsKernels) {
  const std::string path = WriteErfModel();
  absl::StatusOr<ModelInfo> info = InspectModel(path, "cpu");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->device, "cpu");
  EXPECT_TRUE(info->off_kernel.empty());
  absl::StatusOr<ModelInfo> plain = InspectModel(path);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->device.empty());
}

TEST(InspectDeviceTest, CudaListsTheCpuFallback) {
  const std::string path = WriteErfModel();
  absl::StatusOr<ModelInfo> info = InspectModel(path, "cuda");
#if defined(ONNX_CRYPT_HAVE_CUDA)
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->off_kernel.size(), 1u);
  EXPECT_EQ(info->off_kernel[0].node, "Erf-13 node 'erf'");
  EXPECT_EQ(info->off_kernel[0].placement, "cpu fallback");
#else
  EXPECT_EQ(info.status().code(), absl::StatusCode::kFailedPrecondition);
#endif
}

TEST(InspectDeviceTest, UnknownDeviceIsInvalidArgument) {
  absl::StatusOr<ModelInfo> info = InspectModel(WriteErfModel(), "tpu");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace onnx_crypt
