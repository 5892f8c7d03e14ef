# libonnx (Debian libonnx-dev 1.12) and the Protobuf it is built with (libprotobuf-dev 3.21,
# protoc from protobuf-compiler). Imported targets: onnx, onnx_proto, protobuf::libprotobuf,
# protobuf::protoc. Version notes: third_party/README.md.
find_package(ONNX REQUIRED CONFIG)
find_package(Protobuf REQUIRED)
