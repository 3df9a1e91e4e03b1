"""Tests of the model tools. Run from the repository root:

    python -m unittest discover -s models/tests

The VGG tests need `python models/prepare_vgg.py` to have run (they are skipped otherwise); the
others need only numpy, jax, onnx, onnxruntime and pillow, and the training test also needs a built
vstyle (`cargo build`: target/debug/vstyle or target/release/vstyle; it fails without one).
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
import evaluate  # noqa: E402
import prepare_vgg  # noqa: E402
import transformer_net  # noqa: E402

VGG_ONNX = os.path.join(MODELS, "vgg16_features.onnx")
CACHE = os.path.join(REPO, ".cache")


def vstyle_binary():
    """The newest of target/debug/vstyle and target/release/vstyle, or None."""
    exe = ".exe" if os.name == "nt" else ""
    found = [p for p in (os.path.join(REPO, "target", kind, "vstyle" + exe) for kind in ("debug", "release"))
             if os.path.isfile(p)]
    return max(found, key=os.path.getmtime) if found else None


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

            # vstyle itself loads and runs the exported model (30 px: not a multiple of 4).
            binary = vstyle_binary()
            if binary is None:
                self.fail("no vstyle binary at target/debug/vstyle or target/release/vstyle: "
                          "run `cargo build` (or `cargo test`) first")
            png_in, png_out = os.path.join(d, "tiny.png"), os.path.join(d, "tiny_styled.png")
            Image.fromarray(synthetic_rgb(30, 44, seed=5)[0].transpose(1, 2, 0).astype(np.uint8)).save(png_in)
            r = subprocess.run([binary, png_in, "--model", out, "-o", png_out, "--device", "cpu"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, f"{binary} failed:\n{r.stdout}{r.stderr}")
            self.assertTrue(os.path.exists(png_out), f"{binary} wrote no {png_out}")
            with Image.open(png_out) as im:
                self.assertEqual(im.size, (44, 30))


class EvaluateLosses(unittest.TestCase):
    """evaluate.py's Gram matrix and losses against values worked out by hand."""

    F = np.array([[[1.0, 2.0]], [[3.0, 4.0]]])        # C=2, H=1, W=2

    def test_gram(self):
        # F.F^T = [[1+4, 3+8], [3+8, 9+16]] = [[5, 11], [11, 25]], divided by C.H.W = 4.
        want = np.array([[1.25, 2.75], [2.75, 6.25]])
        np.testing.assert_allclose(evaluate.gram(self.F), want)
        np.testing.assert_allclose(evaluate.gram(self.F[None]), want)     # [1,C,H,W] too
        np.testing.assert_allclose(evaluate.gram(np.ones((3, 4, 5))), np.ones((3, 3)) * 20 / 60)

    def test_style_losses(self):
        g1, a1 = evaluate.gram(self.F), np.array([[1.0, 2.0], [2.0, 6.0]])
        # G - A = [[.25, .75], [.75, .25]]: squares sum to 1.25, mean 0.3125; |A|^2 = 45.
        g2, a2 = np.array([[2.0]]), np.array([[1.0]])                     # second layer: 1 and 1
        self.assertAlmostEqual(evaluate.style_loss([g1], [a1]), 0.3125)
        self.assertAlmostEqual(evaluate.style_loss([g1, g2], [a1, a2]), 1.3125)
        self.assertAlmostEqual(evaluate.relative_style_loss([g1], [a1]), 1.25 / 45)
        self.assertAlmostEqual(evaluate.relative_style_loss([g1, g2], [a1, a2]), 1.25 / 45 + 1)
        self.assertEqual(evaluate.style_loss([a1, a2], [a1, a2]), 0.0)

    def test_content_losses(self):
        out, inp = np.array([[[1.0, 2.0, 3.0]]]), np.array([[[1.0, 0.0, 3.0]]])
        self.assertAlmostEqual(evaluate.content_loss(out, inp), 4 / 3)
        self.assertAlmostEqual(evaluate.relative_content_loss(out, inp), 4 / 10)

    @unittest.skipUnless(os.path.exists(VGG_ONNX), "run models/prepare_vgg.py first")
    def test_identity_network_end_to_end(self):
        """An identity 'style network': output == input, so content loss 0 and ratios 1."""
        import onnx
        from onnx import TensorProto, helper
        from PIL import Image
        with tempfile.TemporaryDirectory() as d:
            dims = ["N", 3, "H", "W"]
            graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "identity",
                                      [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
                                      [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)])
            model = os.path.join(d, "identity.onnx")
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), model)
            paths = []
            for i, (w, h) in enumerate([(40, 30), (30, 40), (36, 36)]):
                paths.append(os.path.join(d, f"p{i}.png"))
                Image.fromarray(synthetic_rgb(h, w, seed=i)[0].transpose(1, 2, 0).astype(np.uint8)).save(paths[-1])
            rows = evaluate.evaluate(model, paths[2], paths[:2], VGG_ONNX, size=40, style_size=36,
                                     style_layers=[1, 2, 3, 4, 5], content_layer=4)
            self.assertEqual([r["size"] for r in rows], ["40x30", "30x40"])
            for r in rows:
                self.assertEqual(r["content"], 0.0)
                self.assertEqual((r["s_in"], r["r_in"]), (r["s_out"], r["r_out"]))
                self.assertGreater(r["s_in"], 0)
            self.assertIn("| **mean** |", evaluate.table(rows, [1, 2, 3, 4, 5], 4))


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
