"""Tests of the model tools. Run from the repository root:

    python -m unittest discover -s models/tests

The VGG test needs `python models/prepare_vgg.py` to have run (it is skipped otherwise); the
others need only numpy, jax, onnx, onnxruntime and pillow.
"""
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(MODELS)
sys.path.insert(0, MODELS)
import prepare_vgg  # noqa: E402
import transformer_net  # noqa: E402

VGG_ONNX = os.path.join(MODELS, "vgg16_features.onnx")
CACHE = os.path.join(REPO, ".cache")


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def synthetic_rgb(h, w, seed=0):
    """A seeded RGB 0..255 image with smooth structure and noise (not just flat noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(7 * xx), np.cos(5 * yy), np.sin(3 * (xx + yy))]) * 100 + 127
    return np.clip(base + rng.normal(0, 20, (3, h, w)), 0, 255).astype(np.float32)[None]


@unittest.skipUnless(os.path.exists(VGG_ONNX), "run models/prepare_vgg.py first")
class VggFeatures(unittest.TestCase):
    def test_structure(self):
        import onnx
        m = onnx.load(VGG_ONNX)
        ops = [n.op_type for n in m.graph.node]
        expected = ["Sub"]
        for k in range(1, 14):
            expected += ["Conv", "Relu"] + (["MaxPool"] if k in (2, 4, 7, 10) else [])
        self.assertEqual(ops, expected)
        self.assertEqual([o.name for o in m.graph.output], [f"conv_{k}" for k in range(1, 14)])
        dims = m.graph.input[0].type.tensor_type.shape.dim
        self.assertEqual([d.dim_value or d.dim_param for d in dims], [1, 3, "H", "W"])
        self.assertEqual((m.ir_version, m.opset_import[0].version), (8, 17))

    def test_matches_source_keras_vgg(self):
        """Our conv_k (RGB 0..255 in) == the source model's blockX_convY ReLU output (Keras
        preprocessing: BGR minus Caffe means, NHWC), at every one of the 13 layers."""
        import onnx
        import onnxruntime as ort
        src = prepare_vgg.load_source_model(CACHE)
        relus = [n.output[0] for n in src.graph.node if n.op_type == "Relu"][:13]
        self.assertTrue(all(name in r for name, r in zip(prepare_vgg.VGG16_NAMES, relus)))
        # Expose the ReLU outputs; drop the classifier head's output.
        del src.graph.output[:]
        src.graph.output.extend(onnx.helper.make_empty_tensor_value_info(r) for r in relus)
        src_sess = ort.InferenceSession(src.SerializeToString())
        ours = ort.InferenceSession(VGG_ONNX)

        rgb = synthetic_rgb(240, 240, seed=1)          # the source model is fixed at 240x240
        bgr_centered = rgb[:, ::-1] - np.array([103.939, 116.779, 123.68], np.float32)[None, :, None, None]
        nhwc = np.ascontiguousarray(bgr_centered.transpose(0, 2, 3, 1))
        want = src_sess.run(relus, {src.graph.input[0].name: nhwc})
        got = ours.run([f"conv_{k}" for k in range(1, 14)], {"image": rgb})
        for k, (g, w) in enumerate(zip(got, want), start=1):
            self.assertEqual(g.shape, w.shape, f"conv_{k}")
            self.assertLess(rel_err(g, w), 1e-4, f"conv_{k}")


class TransformerNet(unittest.TestCase):
    def test_onnx_matches_jax_reference(self):
        import jax
        import onnxruntime as ort
        params = transformer_net.init_params(seed=3)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.onnx")
            transformer_net.export_onnx(params, path)
            sess = ort.InferenceSession(path)
            for shape in [(1, 3, 36, 52), (2, 3, 37, 51)]:   # 37x51: sides not multiples of 4
                x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
                got = sess.run(["output"], {"input": x})[0]
                want = np.asarray(jax.jit(transformer_net.forward)(params, x))
                self.assertEqual(got.shape, shape)
                self.assertLess(rel_err(got, want), 1e-4)

    def test_export_is_deterministic(self):
        params = transformer_net.init_params(seed=1)
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "a.onnx"), os.path.join(d, "b.onnx")
            transformer_net.export_onnx(params, a)
            transformer_net.export_onnx(transformer_net.init_params(seed=1), b)
            self.assertEqual(Path(a).read_bytes(), Path(b).read_bytes())


class Training(unittest.TestCase):
    def test_two_iterations_on_cpu_and_export(self):
        """train.py end to end on two tiny photos: trains, checkpoints, exports an ONNX with
        dynamic H/W that onnxruntime runs, and writes previews through it."""
        import onnxruntime as ort
        from PIL import Image
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "photos")
            os.makedirs(data)
            for i, (w, h) in enumerate([(80, 60), (60, 90)]):
                Image.fromarray(synthetic_rgb(h, w, seed=i)[0].transpose(1, 2, 0).astype(np.uint8)).save(
                    os.path.join(data, f"p{i}.jpg"))
            style = os.path.join(d, "style.png")
            Image.fromarray(synthetic_rgb(40, 50, seed=9)[0].transpose(1, 2, 0).astype(np.uint8)).save(style)
            # A random 10-conv "VGG" in the extract-vgg format keeps this test independent of
            # prepare_vgg.py; the training code cannot tell the difference.
            rng = np.random.default_rng(0)
            vgg, cin = {"mean": np.full((1, 3, 1, 1), 120, np.float32)}, 3
            for k, cout in enumerate([8, 8, 16, 16, 16, 16, 16, 16, 16, 16], start=1):
                vgg[f"conv_{k}.weight"] = rng.normal(0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3)).astype(np.float32)
                vgg[f"conv_{k}.bias"] = np.zeros(cout, np.float32)
                cin = cout
            np.savez(os.path.join(d, "vgg.npz"), **vgg)
            out = os.path.join(d, "m.onnx")
            cmd = [sys.executable, os.path.join(MODELS, "train.py"), "train", "--data", data, "--style", style,
                   "--vgg", os.path.join(d, "vgg.npz"), "--iters", "2", "--crop", "32", "--photo-size", "48",
                   "--batch", "2", "--style-size", "48", "--run-dir", os.path.join(d, "run"), "--export", out,
                   "--preview", os.path.join(d, "prev"), "--preview-images", style, "--preview-size", "40"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for f in ["run/params.npz", "run/losses.csv", "run/summary.json", "prev/contact_sheet.jpg"]:
                self.assertTrue(os.path.exists(os.path.join(d, f)), f)
            self.assertEqual(len(Path(d, "run/losses.csv").read_text().splitlines()), 3)
            sess = ort.InferenceSession(out)
            for shape in [(1, 3, 24, 40), (2, 3, 50, 30)]:
                y = sess.run(["output"], {"input": np.full(shape, 100, np.float32)})[0]
                self.assertEqual(y.shape, shape)
                self.assertTrue(np.isfinite(y).all())


class Fixtures(unittest.TestCase):
    def test_fixtures_are_up_to_date(self):
        """tests/data/make_fixtures.py reproduces the committed fixtures byte for byte."""
        data = os.path.join(REPO, "tests", "data")
        names = ["invert.onnx", "identity.onnx", "invert_224.onnx", "small_conv.onnx",
                 "transformer_net.onnx", "bad_nhwc.onnx", "bad_two_inputs.onnx"]
        if not all(os.path.exists(os.path.join(data, n)) for n in names):
            self.skipTest("fixtures not generated")
        before = {n: Path(data, n).read_bytes() for n in names}
        with tempfile.TemporaryDirectory() as d:
            # Run a copy of the generator in a scratch folder so the committed files stay untouched.
            src = Path(data, "make_fixtures.py").read_text()
            script = Path(d, "make_fixtures.py")
            script.write_text(src.replace('os.path.join(HERE, "..", "..", "models")', repr(MODELS)))
            subprocess.run([sys.executable, script], check=True, capture_output=True)
            for n in names:
                self.assertEqual(Path(d, n).read_bytes(), before[n], n)


if __name__ == "__main__":
    unittest.main()
