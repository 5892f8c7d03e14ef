"""ConvTranspose and LayerNormalization on the CPU engine against PyTorch.

Each case is a small torch module (the op under test, then Flatten so that the output is
[batch, features] as `onnx-crypt eval` takes it) with seeded random weights, exported by
torch.onnx.export (ConvTranspose at opset 13, LayerNormalization at opset 17, the exporter's own
form). `onnx-crypt eval --dump-outputs` runs it on random inputs; its outputs agree with torch's
float32 forward pass within rtol 1e-4 / atol 1e-5."""
import os
import subprocess
import tempfile
import unittest

import numpy as np
import onnx
import torch

ROOT = os.environ.get("ONNX_CRYPT_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))


def conv_transpose_cases():
    nn = torch.nn
    return {
        "2d_stride2_pad1_outpad1_groups2_bias": (
            nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
            (3, 4, 5, 4)),
        "2d_stride23_pad01_dilation2_nobias": (
            nn.ConvTranspose2d(3, 2, (2, 3), stride=(2, 3), padding=(0, 1), dilation=2,
                               bias=False),
            (2, 3, 4, 3)),
        "2d_kernel4_stride2_pad1": (  # the usual GAN / U-Net upsampling layer
            nn.ConvTranspose2d(5, 3, 4, stride=2, padding=1), (2, 5, 6, 6)),
        "1d_stride3_depthwise": (
            nn.ConvTranspose1d(4, 4, 3, stride=3, groups=4), (2, 4, 7)),
        "3d_stride2_pad1": (
            nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1, output_padding=(1, 0, 1)),
            (2, 2, 3, 2, 3)),
    }


def layer_norm_cases():
    nn = torch.nn
    return {
        "last_dim": (nn.LayerNorm(8), (4, 5, 8)),
        "last_two_dims_eps1e-3": (nn.LayerNorm((5, 8), eps=1e-3), (4, 5, 8)),
        # (elementwise_affine=False is left out: torch 1.13 exports it with an empty Scale
        # input, which its own checker refuses.)
        "4d_last_three_dims": (nn.LayerNorm((2, 3, 4)), (3, 2, 2, 3, 4)),
        "2d_input": (nn.LayerNorm(7), (5, 7)),
    }


class TorchNn2Test(unittest.TestCase):
    def run_case(self, name, module, shape, opset, op_type, seed):
        torch.manual_seed(seed)
        with torch.no_grad():
            for p in module.parameters():  # non-trivial scale and bias too
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() == 1 else 0.0))
        model = torch.nn.Sequential(module, torch.nn.Flatten()).eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            want = model(x).numpy()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.onnx")
            torch.onnx.export(model, x, path, opset_version=opset, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
            ops = [n.op_type for n in onnx.load(path).graph.node]
            self.assertIn(op_type, ops, f"{name}: exporter did not emit {op_type}: {ops}")
            data = os.path.join(tmp, "x.npz")
            np.savez(data, x=x.numpy().astype(np.float32))
            dump = os.path.join(tmp, "out.npz")
            run = subprocess.run([CLI, "eval", path, "--data", data, "--dump-outputs", dump],
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, f"{name}: {run.stderr}")
            got = np.load(dump)["out"]
        self.assertEqual(got.shape, want.shape, name)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)
        return float(np.abs(got - want).max())

    def test_conv_transpose_matches_torch(self):
        for i, (name, (module, shape)) in enumerate(conv_transpose_cases().items()):
            with self.subTest(case=name):
                diff = self.run_case(name, module, shape, 13, "ConvTranspose", 10 + i)
                print(f"ConvTranspose/{name}: max |diff| {diff:.2e}")

    def test_layer_normalization_matches_torch(self):
        for i, (name, (module, shape)) in enumerate(layer_norm_cases().items()):
            with self.subTest(case=name):
                diff = self.run_case(name, module, shape, 17, "LayerNormalization", 20 + i)
                print(f"LayerNormalization/{name}: max |diff| {diff:.2e}")


if __name__ == "__main__":
    unittest.main()
