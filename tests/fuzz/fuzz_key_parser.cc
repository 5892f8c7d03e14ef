// libFuzzer harness: the key parser and ApplyKey against a bundled locked
// model.
//
// Input: one mode byte, then
//   even: the bytes of a key file, given to DecodeKey as they are;
//   odd:  a LockKey payload, which the harness wraps in a KeyFile with the
//         right magic, version and checksum first, so that mutations reach
//         the payload's parser and ValidateKey instead of stopping at the
//         checksum.
// A key that decodes is described (DescribeKey, with values, as `onnx-crypt
// key --values` prints it) and applied to the locked model (ApplyKey): any
// status is a correct outcome; a crash, a sanitizer report or a leak is a
// finding, and so is a failed ApplyKey that changed the model (its contract
// says it leaves the model as it was). A key that applies is one the model
// accepts; the harness then reloads the locked model for the next input.
//
// The locked model: $ONNX_CRYPT_FUZZ_LOCKED_MODEL, or the one
// tools/make_fuzz_corpus.py writes (lenet5 locked with the bundled owner
// samples; the seeds are its keys). Run: tools/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/lock/model_lock.h"
#include "onnx_crypt/onnx/model.h"

#ifndef OC_FUZZ_DEFAULT_LOCKED_MODEL
#define OC_FUZZ_DEFAULT_LOCKED_MODEL ""
#endif

namespace onnx_crypt {
namespace {

struct LockedModel {
  std::string bytes;
  std::unique_ptr<OnnxModel> model;
  std::string sha256;  // of the locked model's initializers

  void Reload() {
    absl::StatusOr<OnnxModel> m = OnnxModel::LoadFromBytes(bytes);
    if (!m.ok()) {
      fprintf(stderr, "fuzz_key_parser: the locked model does not load: %s\n",
              m.status().ToString().c_str());
      abort();
    }
    model = std::make_unique<OnnxModel>(*std::move(m));
    absl::StatusOr<Graph> graph = model->ToGraph();
    if (!graph.ok()) abort();
    sha256 = GraphInitializersSha256(*graph);
  }
};

LockedModel& Locked() {
  static LockedModel* const locked = [] {
    const char* env = getenv("ONNX_CRYPT_FUZZ_LOCKED_MODEL");
    const std::string path = env && *env
                                 ? std::string(env)
                                 : std::string(OC_FUZZ_DEFAULT_LOCKED_MODEL);
    absl::StatusOr<std::string> bytes = ReadFile(path);
    if (!bytes.ok()) {
      fprintf(stderr,
              "fuzz_key_parser: no locked model (%s); set "
              "ONNX_CRYPT_FUZZ_LOCKED_MODEL or run tools/make_fuzz_corpus.py\n",
              bytes.status().ToString().c_str());
      abort();
    }
    auto* l = new LockedModel{*std::move(bytes), nullptr};
    l->Reload();
    return l;
  }();
  return *locked;
}

void FuzzKey(const uint8_t* data, size_t size) {
  if (size < 1) return;
  std::string key_bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    keyfile::KeyFile file;
    file.set_magic(kKeyMagic);
    file.set_format_version(kKeyFormatVersion);
    file.set_payload_sha256(Sha256(key_bytes));
    file.set_payload(std::move(key_bytes));
    key_bytes = file.SerializeAsString();
  }
  absl::StatusOr<keyfile::LockKey> key = DecodeKey(key_bytes);
  if (!key.ok()) return;
  (void)DescribeKey(key_bytes, /*show_values=*/true);
  LockedModel& locked = Locked();
  if (ApplyKey(*locked.model, *key).ok()) {
    locked.Reload();
    return;
  }
  // ApplyKey's contract: on any error the model is left unchanged.
  absl::StatusOr<Graph> graph = locked.model->ToGraph();
  if (!graph.ok() || GraphInitializersSha256(*graph) != locked.sha256) {
    fprintf(stderr, "fuzz_key_parser: a failed ApplyKey changed the model\n");
    abort();
  }
}

}  // namespace
}  // namespace onnx_crypt

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 etc. is expected
  onnx_crypt::Locked();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onnx_crypt::FuzzKey(data, size);
  return 0;
}
