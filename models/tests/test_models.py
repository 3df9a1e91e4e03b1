"""Tests of the model tools. Run from the repository root:

    python -m unittest discover -s models/tests

The VGG tests need `python models/prepare_vgg.py` to have run (they are skipped otherwise); the
others need only numpy, jax, onnx, onnxruntime and pillow, and the training tests also need a built
vstyle (`cargo build`: target/debug/vstyle or target/release/vstyle; they fail without one; the
multi-style one runs it with --style-name and --style-mix).
"""
import json
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
import quantize  # noqa: E402
import transformer_net  # noqa: E402

VGG_ONNX = os.path.join(MODELS, "vgg16_features.onnx")
CACHE = os.path.join(REPO, ".cache")


def vstyle_binary():
    """The newest of target/debug/vstyle and target/release/vstyle, or None."""
    exe = ".exe" if os.name == "nt" else ""
    found = [p for p in (os.path.join(REPO, "target", kind, "vstyle" + exe) for kind in ("debug", "release"))
             if os.path.isfile(p)]
    return max(found, key=os.path.getmtime) if found else None


def save_png(path, img):
    """Write a [1,3,H,W] 0..255 array as an image file."""
    from PIL import Image
    Image.fromarray(img[0].transpose(1, 2, 0).astype(np.uint8)).save(path)


def make_training_inputs(d):
    """Two tiny photos (d/photos), a style image (d/style.png) and a random 10-conv "VGG" in the
    extract-vgg format (d/vgg.npz). The random VGG keeps the training tests independent of
    prepare_vgg.py; the training code cannot tell the difference."""
    data = os.path.join(d, "photos")
    os.makedirs(data)
    for i, (w, h) in enumerate([(80, 60), (60, 90)]):
        save_png(os.path.join(data, f"p{i}.jpg"), synthetic_rgb(h, w, seed=i))
    save_png(os.path.join(d, "style.png"), synthetic_rgb(40, 50, seed=9))
    rng = np.random.default_rng(0)
    vgg, cin = {"mean": np.full((1, 3, 1, 1), 120, np.float32)}, 3
    for k, cout in enumerate([8, 8, 16, 16, 16, 16, 16, 16, 16, 16], start=1):
        vgg[f"conv_{k}.weight"] = rng.normal(0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3)).astype(np.float32)
        vgg[f"conv_{k}.bias"] = np.zeros(cout, np.float32)
        cin = cout
    np.savez(os.path.join(d, "vgg.npz"), **vgg)
    return data, os.path.join(d, "style.png"), os.path.join(d, "vgg.npz")


TINY_TRAINING = ["--iters", "2", "--crop", "32", "--photo-size", "48", "--batch", "2", "--style-size", "48"]


def multi_style_params(seed, n_styles):
    """A multi-style net whose IN tables have seeded random, distinct rows (the init's are all equal)."""
    params = transformer_net.init_params(seed=seed, n_styles=n_styles)
    rng = np.random.default_rng(seed + 100)
    for k, v in params.items():
        if v.ndim == 2:
            params[k] = (v + rng.normal(0, 0.3, v.shape)).astype(np.float32)
    return params


def onnx_io(path):
    import onnx
    m = onnx.load(path)
    dims = lambda v: [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]
    return {v.name: dims(v) for v in m.graph.input}, {v.name: dims(v) for v in m.graph.output}


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


class MultiStyleNet(unittest.TestCase):
    """Conditional instance norm: IN tables [S, C], style weights per image."""

    def test_init_shapes_and_convs(self):
        single, multi = transformer_net.init_params(seed=4), transformer_net.init_params(seed=4, n_styles=5)
        self.assertEqual(sorted(single), sorted(multi))
        self.assertIsNone(transformer_net.n_styles(single))
        self.assertEqual(transformer_net.n_styles(multi), 5)
        for k, v in single.items():
            if k.rsplit(".", 1)[0] in transformer_net.norm_names():
                self.assertEqual(multi[k].shape, (5,) + v.shape, k)
                np.testing.assert_array_equal(multi[k], np.broadcast_to(v, multi[k].shape))
            else:
                np.testing.assert_array_equal(multi[k], v, k)      # same seeded convs
            self.assertEqual(multi[k].dtype, np.float32)

    def test_onnx_matches_jax_one_hot_and_mix(self):
        import jax
        import onnxruntime as ort
        params = multi_style_params(seed=3, n_styles=3)
        x = np.random.default_rng(0).uniform(0, 255, (2, 3, 37, 51)).astype(np.float32)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.onnx")
            transformer_net.export_onnx(params, path, styles=["a", "b", "c"])
            inputs, outputs = onnx_io(path)
            self.assertEqual(inputs, {"input": ["N", 3, "H", "W"], "style": [3]})
            self.assertEqual(outputs, {"output": ["N", 3, "H", "W"]})
            sess = ort.InferenceSession(path)
            fwd = jax.jit(transformer_net.forward)
            outs = []
            for w in ([0, 1, 0], [0.2, 0.5, 0.3]):
                w = np.array(w, np.float32)
                got = sess.run(["output"], {"input": x, "style": w})[0]
                want = np.asarray(fwd(params, x, np.tile(w, (2, 1))))
                self.assertEqual(got.shape, x.shape)
                self.assertLess(rel_err(got, want), 1e-4)
                outs.append(got)
            self.assertGreater(np.abs(outs[0] - outs[1]).max(), 1.0)     # the weights matter
        # Per-image weights in JAX: each image as if run alone.
        w = np.array([[1, 0, 0], [0, 0, 1]], np.float32)
        both = np.asarray(fwd(params, x, w))
        for i in range(2):
            self.assertLess(rel_err(both[i:i + 1], np.asarray(fwd(params, x[i:i + 1], w[i:i + 1]))), 1e-5)

    def test_identical_rows_and_single_style_equivalence(self):
        import onnxruntime as ort
        single = multi_style_params(seed=5, n_styles=1)
        single = {k: (v[0] if v.ndim == 2 else v) for k, v in single.items()}     # one random row
        x = synthetic_rgb(36, 44, seed=2)
        with tempfile.TemporaryDirectory() as d:
            p1, p3, ps = (os.path.join(d, n) for n in ("one.onnx", "three.onnx", "single.onnx"))
            transformer_net.export_onnx(single, ps)
            want = ort.InferenceSession(ps).run(["output"], {"input": x})[0]
            # S = 1, weight 1: the single-style network's numbers.
            transformer_net.export_onnx({k: (v[None] if v.ndim == 1 and k.rsplit(".", 1)[0] in
                                             transformer_net.norm_names() else v) for k, v in single.items()}, p1)
            got = ort.InferenceSession(p1).run(["output"], {"input": x, "style": np.ones(1, np.float32)})[0]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)
            # Three identical rows: every style and any mix give the same image.
            three = {k: (np.stack([v] * 3) if k.rsplit(".", 1)[0] in transformer_net.norm_names() else v)
                     for k, v in single.items()}
            transformer_net.export_onnx(three, p3)
            sess = ort.InferenceSession(p3)
            for w in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [0.25, 0.25, 0.5]):
                got = sess.run(["output"], {"input": x, "style": np.array(w, np.float32)})[0]
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-3, err_msg=str(w))

    def test_metadata_and_deterministic_export(self):
        import onnx
        params = multi_style_params(seed=1, n_styles=2)
        styles = [{"name": "starry_night", "title": "The Starry Night", "artist": "Vincent van Gogh",
                   "year": "1889", "source": "starry_night.jpg", "credit": "Vincent van Gogh, The Starry Night (1889), public domain"},
                  {"credit": "c", "name": "b"}]
        with tempfile.TemporaryDirectory() as d:
            a, b, s = (os.path.join(d, n) for n in ("a.onnx", "b.onnx", "s.onnx"))
            transformer_net.export_onnx(params, a, styles=styles, metadata={"vstyle.trained_by": "test"})
            transformer_net.export_onnx(multi_style_params(seed=1, n_styles=2), b, styles=styles,
                                        metadata={"vstyle.trained_by": "test"})
            self.assertEqual(Path(a).read_bytes(), Path(b).read_bytes())
            m = onnx.load(a)
            self.assertEqual((m.ir_version, m.opset_import[0].version), (8, 17))
            self.assertIn("InstanceNormalization", {n.op_type for n in m.graph.node})
            props = [(p.key, p.value) for p in m.metadata_props]
            self.assertEqual([k for k, _ in props],
                             ["vstyle.styles", "vstyle.value_range", "vstyle.arch", "vstyle.trained_by"])
            self.assertEqual(json.loads(props[0][1]), styles[:1] + [{"name": "b", "credit": "c"}])
            self.assertEqual(list(json.loads(props[0][1])[0]), ["name", "title", "artist", "year", "source", "credit"])
            self.assertEqual(props[1][1], "0..255")
            # A single-style export gets the same metadata when given styles.
            transformer_net.export_onnx(transformer_net.init_params(seed=1), s, styles=["the_scream"])
            self.assertEqual(transformer_net.read_styles(s), [{"name": "the_scream"}])
            with self.assertRaises(ValueError):      # one entry per style
                transformer_net.export_onnx(params, s, styles=["only_one"])
            with self.assertRaises(ValueError):      # names are unique
                transformer_net.export_onnx(params, s, styles=["x", "x"])


class Training(unittest.TestCase):
    def test_two_iterations_on_cpu_and_export(self):
        """train.py end to end on two tiny photos: trains, checkpoints, exports an ONNX with
        dynamic H/W that onnxruntime runs, and writes previews through it."""
        import onnxruntime as ort
        from PIL import Image
        with tempfile.TemporaryDirectory() as d:
            data, style, vgg = make_training_inputs(d)
            out = os.path.join(d, "m.onnx")
            cmd = [sys.executable, os.path.join(MODELS, "train.py"), "train", "--data", data, "--style", style,
                   "--vgg", vgg] + TINY_TRAINING + ["--run-dir", os.path.join(d, "run"), "--export", out,
                   "--preview", os.path.join(d, "prev"), "--preview-images", style, "--preview-size", "40"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for f in ["run/params.npz", "run/losses.csv", "run/summary.json", "prev/contact_sheet.jpg"]:
                self.assertTrue(os.path.exists(os.path.join(d, f)), f)
            self.assertEqual(len(Path(d, "run/losses.csv").read_text().splitlines()), 3)
            self.assertEqual(Path(d, "run/losses.csv").read_text().splitlines()[0],
                             "iter,seconds,it_per_s,total,content,style,tv,w_content,w_style,w_tv")
            self.assertEqual(transformer_net.read_styles(out), [{"name": "style", "source": "style.png"}])
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
            save_png(png_in, synthetic_rgb(30, 44, seed=5))
            r = subprocess.run([binary, png_in, "--model", out, "-o", png_out, "--device", "cpu"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, f"{binary} failed:\n{r.stdout}{r.stderr}")
            self.assertTrue(os.path.exists(png_out), f"{binary} wrote no {png_out}")
            with Image.open(png_out) as im:
                self.assertEqual(im.size, (44, 30))

    def test_multi_style_two_iterations_export_and_vstyle(self):
        """A 2-style network: train.py trains it (2 iterations), exports it with the `style` input
        and the styles' metadata (names and credits from a catalogue, or the file name), extends
        it by a third style with --add-style; then vstyle runs it with each style and a mix."""
        import onnxruntime as ort
        from onnx import numpy_helper
        import onnx
        from PIL import Image
        with tempfile.TemporaryDirectory() as d:
            data, style_a, vgg = make_training_inputs(d)
            style_b, style_c = os.path.join(d, "Other-Style.png"), os.path.join(d, "third.png")
            save_png(style_b, synthetic_rgb(44, 36, seed=11))
            save_png(style_c, synthetic_rgb(40, 40, seed=12))
            catalog = os.path.join(d, "cat.json")
            Path(catalog).write_text(json.dumps({"paintings": [
                {"name": "first", "file": "style.png", "title": "First", "artist": "Someone", "year": "1900",
                 "credit": "Someone, First (1900), public domain", "default": True}]}))
            out = os.path.join(d, "two.onnx")
            train = [sys.executable, os.path.join(MODELS, "train.py"), "train", "--data", data, "--vgg", vgg]
            cmd = train + ["--style", style_a, style_b, "--catalog", catalog] + TINY_TRAINING + [
                "--log-every", "1", "--run-dir", os.path.join(d, "run"), "--export", out,
                "--preview", os.path.join(d, "prev"), "--preview-images", style_a, "--preview-size", "40"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for f in ["run/params.npz", "run/losses.csv", "run/style_losses.csv", "run/styles.json",
                      "prev/contact_sheet.jpg", "prev/style_first.jpg", "prev/style_other_style.jpg"]:
                self.assertTrue(os.path.exists(os.path.join(d, f)), f)
            self.assertEqual(Path(d, "run/losses.csv").read_text().splitlines()[0],
                             "iter,seconds,it_per_s,total,content,style,tv,w_content,w_style,w_tv")
            self.assertEqual(Path(d, "run/style_losses.csv").read_text().splitlines()[0], "iter,first,other_style")
            inputs, outputs = onnx_io(out)
            self.assertEqual(inputs, {"input": ["N", 3, "H", "W"], "style": [2]})
            self.assertEqual(outputs, {"output": ["N", 3, "H", "W"]})
            meta = transformer_net.read_metadata(out)
            self.assertEqual(meta["vstyle.value_range"], "0..255")
            self.assertEqual(json.loads(meta["vstyle.styles"]), [
                {"name": "first", "title": "First", "artist": "Someone", "year": "1900", "source": "style.png",
                 "credit": "Someone, First (1900), public domain"},
                {"name": "other_style", "source": "Other-Style.png"}])
            sess = ort.InferenceSession(out)
            x = np.full((2, 3, 30, 22), 100, np.float32)
            for w in ([1, 0], [0, 1], [0.5, 0.5]):
                y = sess.run(["output"], {"input": x, "style": np.array(w, np.float32)})[0]
                self.assertEqual(y.shape, x.shape)
                self.assertTrue(np.isfinite(y).all())

            # --add-style: a third row, trained alone; the convs and the first two rows stay.
            three = os.path.join(d, "three.onnx")
            r = subprocess.run(train + ["--add-style", style_c, "--init", out] + TINY_TRAINING +
                               ["--run-dir", os.path.join(d, "run3"), "--export", three],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual([s["name"] for s in transformer_net.read_styles(three)], ["first", "other_style", "third"])
            before = {t.name: numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}
            after = {t.name: numpy_helper.to_array(t) for t in onnx.load(three).graph.initializer}
            for k, v in before.items():
                if k.rsplit(".", 1)[0] in transformer_net.norm_names():
                    self.assertEqual(after[k].shape, (3,) + v.shape[1:], k)
                    np.testing.assert_array_equal(after[k][:2], v, k)
                else:
                    np.testing.assert_array_equal(after[k], v, k)
            self.assertGreater(np.abs(after["in1.scale"][2] - before["in1.scale"].mean(0)).max(), 0)

            # vstyle picks a style by name, or mixes them. The trained network runs with each; and a
            # network with clearly different rows (after 2 iterations the trained rows are still
            # nearly equal, so they cannot show that the right row was fed) gives what vstyle gives
            # for a single-style network holding those weights' mix of the rows.
            binary = vstyle_binary()
            if binary is None:
                self.fail("no vstyle binary at target/debug/vstyle or target/release/vstyle: "
                          "run `cargo build` (or `cargo test`) first")
            params = multi_style_params(seed=7, n_styles=2)
            params["conv4.weight"] *= 30             # untrained, the last conv is too weak to show the rows
            distinct = os.path.join(d, "distinct.onnx")
            transformer_net.export_onnx(params, distinct, styles=["first", "other_style"])
            png_in = os.path.join(d, "tiny.png")
            save_png(png_in, synthetic_rgb(30, 44, seed=5))

            def run_vstyle(model, flags, png_out):
                r = subprocess.run([binary, png_in, "--model", model, "-o", png_out, "--device", "cpu"] + flags,
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 0, f"{binary} --model {os.path.basename(model)} {' '.join(flags)} "
                                                  f"failed:\n{r.stdout}{r.stderr}")
                with Image.open(png_out) as im:
                    self.assertEqual(im.size, (44, 30))
                    return np.asarray(im.convert("RGB"), np.float32)

            cases = [("first", ["--style-name", "first"], [1, 0]),
                     ("other", ["--style-name", "other_style"], [0, 1]),
                     ("mix", ["--style-mix", "first=0.5,other_style=0.5"], [0.5, 0.5])]
            for label, flags, _ in cases:
                run_vstyle(out, flags, os.path.join(d, f"trained_{label}.png"))
            got, want = {}, {}
            for label, flags, w in cases:
                got[label] = run_vstyle(distinct, flags, os.path.join(d, f"distinct_{label}.png"))
                single = os.path.join(d, f"single_{label}.onnx")
                transformer_net.export_onnx({k: (np.array(w, np.float32) @ v if v.ndim == 2 else v)
                                             for k, v in params.items()}, single)
                want[label] = run_vstyle(single, [], os.path.join(d, f"single_{label}.png"))
                self.assertLessEqual(np.abs(got[label] - want[label]).max(), 1.0, label)   # 8-bit rounding
            self.assertGreater(np.abs(want["first"] - want["other"]).max(), 10)      # the rows do differ


class LightArch(unittest.TestCase):
    """--arch light: the real-time CPU network (depthwise-separable residual blocks, sub-pixel
    output), single- and multi-style, through JAX, ONNX, train.py, quantize.py and vstyle."""

    def test_onnx_matches_jax_and_metadata(self):
        import jax
        import onnx
        import onnxruntime as ort
        self.assertLess(transformer_net.n_parameters("light"), transformer_net.n_parameters("standard") / 10)
        with tempfile.TemporaryDirectory() as d:
            for S in (None, 3):
                params = transformer_net.init_params(seed=3, n_styles=S, arch="light")
                self.assertEqual(transformer_net.arch_of(params), "light")
                if S:
                    params = {k: (v + np.random.default_rng(1).normal(0, 0.3, v.shape)).astype(np.float32)
                              if v.ndim == 2 else v for k, v in params.items()}
                params["conv3.weight"] *= 30       # an output with contrast
                path = os.path.join(d, f"light{S}.onnx")
                transformer_net.export_onnx(params, path)
                meta = transformer_net.read_metadata(path)
                self.assertEqual(meta["vstyle.arch"], "light")       # always recorded for non-standard
                ops = {n.op_type for n in onnx.load(path).graph.node}
                self.assertTrue({"DepthToSpace", "InstanceNormalization"} <= ops)
                groups = [a.i for n in onnx.load(path).graph.node for a in n.attribute if a.name == "group"]
                self.assertEqual(groups, [64] * 10)                  # the residual blocks' depthwise convs
                sess = ort.InferenceSession(path)
                for shape in [(1, 3, 36, 52), (2, 3, 37, 51), (1, 3, 9, 14)]:   # odd sides, tiny
                    x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
                    feeds, w = {"input": x}, None
                    if S:
                        w = np.array([0.2, 0.5, 0.3], np.float32)
                        feeds["style"] = w
                    got = sess.run(["output"], feeds)[0]
                    want = np.asarray(jax.jit(transformer_net.forward)(params, x, w))
                    self.assertEqual(got.shape, shape)
                    self.assertLess(rel_err(got, want), 1e-4)
            # Trained exports of the standard network say so too; a bare one stays as it was.
            transformer_net.export_onnx(transformer_net.init_params(seed=1), os.path.join(d, "s.onnx"), styles=["s"])
            self.assertEqual(transformer_net.read_metadata(os.path.join(d, "s.onnx"))["vstyle.arch"], "standard")

    def test_subpixel_init_has_no_checkerboard(self):
        """ICNR: the untrained sub-pixel output is the same for the four pixels of each 2x2 block."""
        import jax
        params = transformer_net.init_params(seed=2, arch="light")
        params["conv3.weight"] *= 30
        y = np.asarray(jax.jit(transformer_net.forward)(params, synthetic_rgb(32, 48, seed=3)))
        np.testing.assert_allclose(y[:, :, 0::2, 0::2], y[:, :, 1::2, 1::2], atol=1e-3)
        np.testing.assert_allclose(y[:, :, 0::2, 0::2], y[:, :, 0::2, 1::2], atol=1e-3)
        self.assertGreater(float(y.std()), 1.0)

    def test_train_quantize_and_vstyle(self):
        """train.py --arch light, single- and two-style (2 iterations): exports with `vstyle.arch`;
        --init continues it without --arch and refuses another arch; quantize.py makes an int8
        copy that keeps the metadata; vstyle runs the float and the int8 model."""
        import onnxruntime as ort
        from PIL import Image
        binary = vstyle_binary()
        if binary is None:
            self.fail("no vstyle binary at target/debug/vstyle or target/release/vstyle: "
                      "run `cargo build` (or `cargo test`) first")
        with tempfile.TemporaryDirectory() as d:
            data, style_a, vgg = make_training_inputs(d)
            style_b = os.path.join(d, "other.png")
            save_png(style_b, synthetic_rgb(44, 36, seed=11))
            train = [sys.executable, os.path.join(MODELS, "train.py"), "train", "--data", data, "--vgg", vgg]
            png_in = os.path.join(d, "tiny.png")
            save_png(png_in, synthetic_rgb(30, 43, seed=5))       # odd width
            calib = write_calibration_photos(os.path.join(d, "calib"), 2)
            for name, styles, flags in [("single", [style_a], []),
                                        ("multi", [style_a, style_b], ["--style-name", "other"])]:
                out = os.path.join(d, f"{name}.onnx")
                r = subprocess.run(train + ["--style", *styles, "--arch", "light"] + TINY_TRAINING +
                                   ["--run-dir", os.path.join(d, name), "--export", out],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("arch: light", r.stdout)
                meta = transformer_net.read_metadata(out)
                self.assertEqual(meta["vstyle.arch"], "light")
                self.assertEqual(len(json.loads(meta["vstyle.styles"])), len(styles))
                feeds = {"input": np.full((1, 3, 26, 34), 100, np.float32)}
                if name == "multi":
                    feeds["style"] = np.array([0, 1], np.float32)
                y = ort.InferenceSession(out).run(["output"], feeds)[0]
                self.assertEqual(y.shape, (1, 3, 26, 34))
                self.assertTrue(np.isfinite(y).all())

                int8 = os.path.join(d, f"{name}.int8.onnx")
                quantize.quantize(out, int8, calib, count=2, size="40..48")
                self.assertEqual(transformer_net.read_metadata(int8)["vstyle.arch"], "light")
                for precision in ("fp32", "int8"):
                    png_out = os.path.join(d, f"{name}_{precision}.png")
                    r = subprocess.run([binary, png_in, "--model", out, "-o", png_out, "--device", "cpu",
                                        "--precision", precision] + flags,
                                       capture_output=True, text=True, timeout=120)
                    self.assertEqual(r.returncode, 0, f"{binary} failed:\n{r.stdout}{r.stderr}")
                    with Image.open(png_out) as im:
                        self.assertEqual(im.size, (43, 30))

            # --init: the arch comes from the file; asking for another is refused.
            single = os.path.join(d, "single.onnx")
            r = subprocess.run(train + ["--style", style_a, "--init", single] + TINY_TRAINING +
                               ["--run-dir", os.path.join(d, "again"), "--export", os.path.join(d, "again.onnx")],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(transformer_net.read_metadata(os.path.join(d, "again.onnx"))["vstyle.arch"], "light")
            r = subprocess.run(train + ["--style", style_a, "--init", single, "--arch", "standard"] + TINY_TRAINING +
                               ["--run-dir", os.path.join(d, "bad")], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("light architecture", r.stderr)


class TemporalTerm(unittest.TestCase):
    """train.py --temporal-weight: the random warp, and a tiny end-to-end run."""

    def test_warp_identity_and_translation(self):
        import jax
        import jax.numpy as jnp
        import train
        x = jnp.asarray(np.concatenate([synthetic_rgb(16, 20, seed=1), synthetic_rgb(16, 20, seed=2)]))
        coords = train.random_warp_coords(jax.random.key(0), 2, 16, 20, 0.0)
        y, inside = train.warp(x, coords)
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), atol=1e-4)
        self.assertTrue(bool((inside == 1).all()))
        # shift (2, 3): output (r, c) = input (r + 2, c + 3); the last 2 rows / 3 columns fall outside.
        coords = jnp.broadcast_to(train.warp_coords(16, 20, shift=(2.0, 3.0)), (2, 2, 16, 20))
        y, inside = train.warp(x, coords)
        np.testing.assert_allclose(np.asarray(y)[:, :, :-2, :-3], np.asarray(x)[:, :, 2:, 3:], atol=1e-4)
        self.assertTrue(bool((inside[:, :, :-2, :-3] == 1).all()))
        self.assertEqual(float(inside[:, :, -2:].max()), 0.0)
        self.assertEqual(float(inside[:, :, :, -3:].max()), 0.0)
        # A random warp of magnitude 2 moves pixels, but by a few pixels only.
        coords = train.random_warp_coords(jax.random.key(1), 2, 16, 20, 2.0)
        d = np.abs(np.asarray(coords) - np.asarray(train.warp_coords(16, 20))[None])
        self.assertGreater(d.max(), 0.1)
        self.assertLess(d.max(), 8.0)

    def test_two_iterations_with_temporal_weight(self):
        """Single- and multi-style runs with the term: the CSV gets `temporal` and `w_temporal`
        (finite), the export is an ordinary network (without the flag the columns are absent: see
        Training.test_two_iterations_on_cpu_and_export)."""
        import csv
        import onnxruntime as ort
        with tempfile.TemporaryDirectory() as d:
            data, style, vgg = make_training_inputs(d)
            for name, styles in [("single", [style]), ("multi", [style, os.path.join(data, "p0.jpg")])]:
                out = os.path.join(d, name + ".onnx")
                run = os.path.join(d, name)
                cmd = [sys.executable, os.path.join(MODELS, "train.py"), "train", "--data", data,
                       "--style", *styles, "--vgg", vgg] + TINY_TRAINING + [
                       "--temporal-weight", "10", "--run-dir", run, "--export", out]
                r = subprocess.run(cmd, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                with open(os.path.join(run, "losses.csv"), newline="") as f:
                    rows = list(csv.DictReader(f))
                self.assertEqual(len(rows), 2)
                for row in rows:
                    t, wt = float(row["temporal"]), float(row["w_temporal"])
                    self.assertTrue(np.isfinite(t) and np.isfinite(wt) and t >= 0, row)
                    self.assertAlmostEqual(wt, 10 * t, delta=1e-6 * max(1.0, wt))
                summary = json.loads(Path(run, "summary.json").read_text())
                self.assertTrue(np.isfinite(summary["final_temporal"]))
                sess = ort.InferenceSession(out)
                feeds = {"input": np.full((1, 3, 24, 28), 100, np.float32)}
                if name == "multi":
                    feeds["style"] = np.array([1, 0], np.float32)
                self.assertEqual(sess.run(["output"], feeds)[0].shape, (1, 3, 24, 28))


class Resume(unittest.TestCase):
    """train.py --resume continues a run exactly as if it had not stopped."""

    def train(self, *args, expect=0):
        cmd = [sys.executable, os.path.join(MODELS, "train.py"), "train", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, expect, r.stdout + r.stderr)
        return r

    def test_four_iterations_equal_two_plus_two(self):
        """A multi-style run with the temporal term (every random draw of the trainer: crops,
        flips, styles, warps, noise) trained 4 iterations in one go and 2 + 2 with a resume in
        between ends with the same parameters, Adam moments and random key, and the CSV logs
        continue without repeats."""
        with tempfile.TemporaryDirectory() as d:
            data, style, vgg = make_training_inputs(d)
            common = ["--data", data, "--style", style, os.path.join(data, "p0.jpg"), "--vgg", vgg,
                      "--crop", "32", "--photo-size", "48", "--batch", "2", "--style-size", "48",
                      "--temporal-weight", "10", "--log-every", "1", "--seed", "3"]
            one, two = os.path.join(d, "one"), os.path.join(d, "two")
            self.train(*common, "--iters", "4", "--run-dir", one)
            self.train(*common, "--iters", "2", "--run-dir", two)
            r = self.train("--resume", two, "--iters", "4")
            self.assertIn("resume: from iteration 2", r.stdout)
            with np.load(os.path.join(one, "state.npz")) as a, np.load(os.path.join(two, "state.npz")) as b:
                self.assertEqual(sorted(a.files), sorted(b.files))
                self.assertEqual(int(a["it"]), 4)
                self.assertEqual(int(b["it"]), 4)
                for k in a.files:
                    if k != "seconds":
                        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
            for f in ["losses.csv", "style_losses.csv"]:
                rows = Path(two, f).read_text().splitlines()
                self.assertEqual([r.split(",")[0] for r in rows[1:]], ["1", "2", "3", "4"], f)
            log = Path(two, "train.log").read_text()
            self.assertEqual(log.count("resume: from iteration 2"), 1)
            self.assertEqual(len(Path(two, "command.txt").read_text().splitlines()), 2)
            # A resumed run keeps its settings: changing one that alters the training is refused.
            r = self.train("--resume", two, "--iters", "6", "--style-weight", "3", expect=1)
            self.assertIn("--style-weight", r.stderr)
            # The temporal weight may change part-way: logged, and kept by later resumes.
            r = self.train("--resume", two, "--iters", "5", "--temporal-weight", "40")
            self.assertIn("recipe change: --temporal-weight 10.0 -> 40.0", r.stdout)
            self.assertEqual(json.loads(Path(two, "args.json").read_text())["temporal_weight"], 40.0)
            r = self.train("--resume", two, "--iters", "6")
            self.assertNotIn("recipe change", r.stdout)
            self.assertIn('"temporal_weight": 40.0', r.stdout)
            # So may the per-style scales; a style the run does not have is refused before
            # args.json takes it.
            r = self.train("--resume", two, "--iters", "7", "--style-scale", "nope=2", expect=1)
            self.assertIn("no style named 'nope'", r.stderr)
            self.assertIsNone(json.loads(Path(two, "args.json").read_text())["style_scale"])
            r = self.train("--resume", two, "--iters", "7", "--style-scale", "p0=2")
            self.assertIn("recipe change: --style-scale None -> ['p0=2']", r.stdout)
            self.assertIn("style scales: style 1  p0 2", r.stdout)
            self.assertEqual(json.loads(Path(two, "args.json").read_text())["style_scale"], ["p0=2"])
            # And the learning rate (an annealing phase): at 0 the parameters stay where they are.
            before = dict(np.load(os.path.join(two, "state.npz")))
            r = self.train("--resume", two, "--iters", "8", "--lr", "0")
            self.assertIn("recipe change: --lr 0.001 -> 0.0", r.stdout)
            self.assertEqual(json.loads(Path(two, "args.json").read_text())["lr"], 0.0)
            with np.load(os.path.join(two, "state.npz")) as after:
                self.assertEqual(int(after["it"]), 8)
                for k in (k for k in after.files if k.startswith("p.")):
                    np.testing.assert_array_equal(after[k], before[k], err_msg=k)

    def test_style_scale_multiplies_that_styles_term(self):
        """--style-scale: each image's style term is multiplied by its style's factor, nothing else."""
        import argparse
        import jax.numpy as jnp
        import train
        with tempfile.TemporaryDirectory() as d:
            _, _, vgg_path = make_training_inputs(d)
            vgg = {k: jnp.asarray(v) for k, v in train.load_vgg(vgg_path).items()}
        a = argparse.Namespace(style_layers=[2, 4], content_layer=4, style_norm="mean", temporal_weight=0.0,
                               content_weight=1.0, style_weight=5.0, tv_weight=1e-6)
        rng = np.random.default_rng(0)
        grams = {2: jnp.asarray(rng.random((2, 8, 8), np.float32)), 4: jnp.asarray(rng.random((2, 16, 16), np.float32))}
        params = {k: jnp.asarray(v) for k, v in transformer_net.init_params(0, n_styles=2, arch="light").items()}
        x = jnp.asarray(np.concatenate([synthetic_rgb(32, 32, seed=1), synthetic_rgb(32, 32, seed=2)]))
        _, plain = train.make_step(a, vgg, grams, 2)
        _, scaled = train.make_step(a, vgg, grams, 2, np.array([1.0, 3.0], np.float32))
        for idx, factor in (([0, 0], 1.0), ([1, 1], 3.0), ([0, 1], None)):
            t1, ((c1, s1, tv1), per1) = plain(params, {}, x, jnp.array(idx))
            t2, ((c2, s2, tv2), per2) = scaled(params, {}, x, jnp.array(idx))
            np.testing.assert_allclose(np.asarray(per2), np.asarray(per1), rtol=1e-6)
            self.assertEqual((float(c1), float(tv1)), (float(c2), float(tv2)))
            want = factor * float(s1) if factor else float((per1[0] + 3 * per1[1]) / 2)
            self.assertAlmostEqual(float(s2) / want, 1.0, places=5)
            np.testing.assert_allclose(float(t2) - float(t1), 5 * (float(s2) - float(s1)), atol=1e-5 * float(t1))

    def test_sigterm_writes_a_checkpoint_that_resumes(self):
        """SIGTERM ends a run at the next step with a resumable checkpoint (state.npz)."""
        import signal
        import time
        with tempfile.TemporaryDirectory() as d:
            data, style, vgg = make_training_inputs(d)
            run = os.path.join(d, "run")
            cmd = [sys.executable, os.path.join(MODELS, "train.py"), "train", "--data", data, "--style", style,
                   "--vgg", vgg, "--crop", "32", "--photo-size", "48", "--batch", "2", "--style-size", "48",
                   "--iters", "100000", "--log-every", "1", "--run-dir", run]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            deadline = time.time() + 300
            while time.time() < deadline:   # wait until it is training: a few rows in its CSV
                csv_path = os.path.join(run, "losses.csv")
                if os.path.exists(csv_path) and len(Path(csv_path).read_text().splitlines()) > 3:
                    break
                time.sleep(0.2)
            p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 128 + signal.SIGTERM, out)
            self.assertIn("stopped by SIGTERM", out)
            with np.load(os.path.join(run, "state.npz")) as z:
                stopped_at = int(z["it"])
            self.assertGreaterEqual(stopped_at, 3)
            self.assertFalse([f for f in os.listdir(run) if "partial" in f])
            r = self.train("--resume", run, "--iters", str(stopped_at + 1))
            self.assertIn(f"resume: from iteration {stopped_at}", r.stdout)
            with np.load(os.path.join(run, "state.npz")) as z:
                self.assertEqual(int(z["it"]), stopped_at + 1)


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


    @unittest.skipUnless(os.path.exists(VGG_ONNX), "run models/prepare_vgg.py first")
    def test_multi_style_network(self):
        """--style-name feeds one style's row (same figures as a single-style network holding that
        row); --all-styles gives one row per style, each against its own painting."""
        with tempfile.TemporaryDirectory() as d:
            params = multi_style_params(seed=8, n_styles=2)
            multi, single = os.path.join(d, "multi.onnx"), os.path.join(d, "single.onnx")
            transformer_net.export_onnx(params, multi, styles=[{"name": "a", "source": "a.png"}, "b"])
            transformer_net.export_onnx({k: (v[1] if v.ndim == 2 else v) for k, v in params.items()}, single)
            styles = os.path.join(d, "styles")
            os.makedirs(styles)
            for i, n in enumerate(["a.png", "bee.png"]):
                save_png(os.path.join(styles, n), synthetic_rgb(36, 30, seed=20 + i))
            catalog = os.path.join(d, "cat.json")
            Path(catalog).write_text(json.dumps({"paintings": [{"name": "b", "file": "bee.png"}]}))
            photos = []
            for i in range(2):
                photos.append(os.path.join(d, f"p{i}.png"))
                save_png(photos[-1], synthetic_rgb(30, 40, seed=i))
            kw = dict(vgg_path=VGG_ONNX, size=40, style_size=36, style_layers=[1, 2, 3], content_layer=4)
            bee = os.path.join(styles, "bee.png")
            by_name = evaluate.evaluate(multi, bee, photos, style_name="b", **kw)
            self.assertEqual(by_name, evaluate.evaluate(single, bee, photos, **kw))
            with self.assertRaises(SystemExit):               # a multi-style network needs a style
                evaluate.evaluate(multi, bee, photos, **kw)
            rows = evaluate.evaluate_all_styles(multi, catalog, styles, photos, **kw)
            self.assertEqual([(r["style"], r["painting"], r["photos"]) for r in rows], [("a", "a.png", 2), ("b", "bee.png", 2)])
            self.assertAlmostEqual(rows[1]["s_out"], np.mean([r["s_out"] for r in by_name]))
            self.assertNotEqual(rows[0]["s_out"], rows[1]["s_out"])
            self.assertIn("| b | bee.png | 2 |", evaluate.styles_table(rows, [1, 2, 3], 4))


def write_calibration_photos(folder, n=4):
    """`n` small seeded photos of different sizes in `folder` (created)."""
    os.makedirs(folder)
    for i in range(n):
        save_png(os.path.join(folder, f"c{i}.png"), synthetic_rgb(60 + 8 * i, 80 - 6 * i, seed=20 + i))
    return folder


def snr_db(got, want):
    """Signal-to-noise ratio (dB) of `got` against `want`: var(want) / mean((got - want)^2).
    Unlike PSNR it does not grow with the output's distance from the peak, so it fails when the
    int8 network loses the float network's picture."""
    return float(10 * np.log10(np.var(want) / np.mean((got - want) ** 2)))


def psnr_db(got, want):
    """PSNR (dB, peak 255) of `got` against `want`, both clamped to 0..255 (as vstyle and
    benches/int8.py do)."""
    mse = np.mean((np.clip(got, 0, 255).astype(np.float64) - np.clip(want, 0, 255)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


class Int8Quantize(unittest.TestCase):
    """models/quantize.py on small models: QDQ int8 with calibration, metadata kept, any size."""

    def test_multi_style_int8_model(self):
        import onnx
        import onnxruntime as ort
        params = multi_style_params(seed=3, n_styles=2)
        params["conv4.weight"] *= 30        # an output with contrast (the init's is near-flat grey)
        for norm in transformer_net.norm_names():     # style b: 2x wider activations than style a,
            params[f"{norm}.scale"][1] *= 2           # so calibrating on style a alone clips style b
        with tempfile.TemporaryDirectory() as d:
            fp32, int8 = os.path.join(d, "m.onnx"), os.path.join(d, "m.int8.onnx")
            transformer_net.export_onnx(params, fp32, styles=["a", {"name": "b", "title": "B"}],
                                        metadata={"vstyle.trained_by": "test"})
            calib = write_calibration_photos(os.path.join(d, "calib"))
            recipe = quantize.quantize(fp32, int8, calib, count=4, size="48..64")

            self.assertEqual(onnx_io(int8), onnx_io(fp32))        # input [N,3,H,W] + style [2]
            meta, meta_fp32 = transformer_net.read_metadata(int8), transformer_net.read_metadata(fp32)
            self.assertEqual({k: meta[k] for k in meta_fp32}, meta_fp32)      # vstyle.styles etc. kept
            self.assertEqual(meta["vstyle.precision"], "int8")
            self.assertEqual(json.loads(meta["vstyle.quantization"]), recipe)
            self.assertEqual((recipe["float"], recipe["blocked"]), (["conv1"], ["conv4"]))
            self.assertEqual(recipe["calibration"]["photos"], 4)

            m = onnx.load(int8)
            ops = [n.op_type for n in m.graph.node]
            self.assertGreaterEqual(ops.count("QuantizeLinear"), 14)       # every conv but conv1
            self.assertEqual(ops.count("Conv"), 16)
            weights = {i.name: i.data_type for i in m.graph.initializer}
            self.assertEqual(weights["conv1.weight"], onnx.TensorProto.FLOAT)
            self.assertEqual(weights["res3.conv1.weight_quantized"], onnx.TensorProto.INT8)
            # Reflect pads and upsamplings run on the uint8 tensors: QuantizeLinear comes first.
            producer = {o: n.op_type for n in m.graph.node for o in n.output}
            pads = [n for n in m.graph.node if n.op_type == "Pad" and n.name != "conv1.pad"]
            self.assertTrue(pads and all(producer[n.input[0]] in ("QuantizeLinear", "Resize", "Pad")
                                         for n in pads), [(n.name, producer[n.input[0]]) for n in pads])

            # 39.1-41.4 dB where the CPU has VNNI; without it, ONNX Runtime's u8s8 kernels can
            # saturate their 16-bit partial sums (a documented limit of the AVX2 path), which cost
            # style b, whose activations are twice as wide, 34.7 dB on such a CPU.
            flags = Path("/proc/cpuinfo").read_text() if os.path.exists("/proc/cpuinfo") else ""
            floor = 35 if ("avx512_vnni" in flags or "avx_vnni" in flags) else 33
            f, q = ort.InferenceSession(fp32), ort.InferenceSession(int8)
            for h, w in [(37, 53), (61, 45)]:              # odd sizes, not multiples of 4
                x = synthetic_rgb(h, w, seed=h)
                for s in range(2):
                    one_hot = np.eye(2, dtype=np.float32)
                    want = f.run(None, {"input": x, "style": one_hot[s]})[0]
                    got = q.run(None, {"input": x, "style": one_hot[s]})[0]
                    other = f.run(None, {"input": x, "style": one_hot[1 - s]})[0]
                    self.assertEqual(got.shape, x.shape)
                    self.assertGreater(snr_db(got, want), 10, (h, w, s))     # 13.7-18.3 dB here
                    self.assertGreater(psnr_db(got, want), floor, (h, w, s))
                    self.assertLess(snr_db(other, want), 3, (h, w, s))       # the measure can fail

    def test_rewrites_are_exact(self):
        """The blocked conv computes the conv's sums; moving QuantizeLinear before the pads and
        upsamplings changes no output value."""
        import onnx
        import onnxruntime as ort
        with tempfile.TemporaryDirectory() as d:
            fp32, blocked = os.path.join(d, "t.onnx"), os.path.join(d, "b.onnx")
            params = transformer_net.init_params(seed=7)
            params["conv4.weight"] *= 30
            transformer_net.export_onnx(params, fp32)
            m = onnx.load(fp32)
            quantize.blocked_conv(m, "conv4")
            onnx.save(m, blocked)
            self.assertIn("SpaceToDepth", {n.op_type for n in m.graph.node})
            f, b = ort.InferenceSession(fp32), ort.InferenceSession(blocked)
            for h, w in [(37, 53), (40, 41), (12, 9)]:
                x = synthetic_rgb(h, w, seed=w)
                want, got = f.run(None, {"input": x})[0], b.run(None, {"input": x})[0]
                self.assertEqual(got.shape, want.shape)
                self.assertLess(rel_err(got, want), 1e-5, (h, w))

            late, early = os.path.join(d, "late.onnx"), os.path.join(d, "early.onnx")
            calib = write_calibration_photos(os.path.join(d, "calib"), 2)
            quantize.quantize(fp32, late, calib, count=2, size="48", early=False)
            m = onnx.load(late)
            self.assertEqual(quantize.quantize_early(m), 15)   # one per quantised conv (conv1 is float)
            onnx.save(m, early)
            a, b = ort.InferenceSession(late), ort.InferenceSession(early)
            x = synthetic_rgb(45, 38, seed=4)
            np.testing.assert_array_equal(a.run(None, {"input": x})[0], b.run(None, {"input": x})[0])

    def test_calibration_images_and_reader(self):
        with tempfile.TemporaryDirectory() as d:
            photos = quantize.list_photos(write_calibration_photos(os.path.join(d, "c"), 3))
            a = quantize.calibration_images(photos, 5, (40, 64), seed=1)
            b = quantize.calibration_images(photos, 5, (40, 64), seed=1)
            c = quantize.calibration_images(photos, 5, (40, 64), seed=2)
        self.assertEqual(len(a), 5)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)                      # seeded
        self.assertFalse(all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c)))
        for x in a:
            self.assertEqual((x.dtype, x.shape[:2]), (np.float32, (1, 3)))
            self.assertTrue(40 <= max(x.shape[2:]) <= 64 + 3 and x.shape[2] % 4 == 0 and x.shape[3] % 4 == 0,
                            x.shape)
            self.assertTrue(0 <= x.min() and x.max() <= 255)
        reader = quantize.PhotoReader(a, "input", "style", 2)
        self.assertEqual(len(reader), 5)
        feeds = list(iter(reader.get_next, None))
        self.assertEqual([int(f["style"].argmax()) for f in feeds], [0, 1, 0, 1, 0])   # every style
        reader.set_range(1, 3)
        self.assertEqual(len(list(iter(reader.get_next, None))), 2)

    def test_cli_on_small_conv(self):
        """The command line on tests/data/small_conv.onnx (unnamed nodes, convs with built-in
        padding, so not blocked): writes a runnable int8 model; refuses a recipe that quantises
        nothing and unknown node names."""
        import onnxruntime as ort
        model = os.path.join(REPO, "tests", "data", "small_conv.onnx")
        script = os.path.join(MODELS, "quantize.py")
        with tempfile.TemporaryDirectory() as d:
            calib = write_calibration_photos(os.path.join(d, "calib"), 3)
            out = os.path.join(d, "s.int8.onnx")
            run = lambda *a: subprocess.run([sys.executable, script, model, "-o", out, "--calib", calib,
                                             "--count", "3", "--size", "32..40", *a],
                                            capture_output=True, text=True)
            r = run("--keep-float", "", "--method", "minmax")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("wrote", r.stdout)
            meta = transformer_net.read_metadata(out)
            self.assertEqual(meta["vstyle.precision"], "int8")
            recipe = json.loads(meta["vstyle.quantization"])
            self.assertEqual((recipe["float"], recipe["blocked"], recipe["calibration"]["method"]),
                             ([], [], "minmax"))
            x = synthetic_rgb(33, 47, seed=1)
            want = ort.InferenceSession(model).run(None, {"input": x})[0]
            got = ort.InferenceSession(out).run(None, {"input": x})[0]
            self.assertEqual(got.shape, want.shape)
            self.assertGreater(snr_db(got, want), 25)
            r = run("--keep-float", "first,last")       # both convs: nothing left to quantise
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no conv to quantise", r.stderr)
            r = run("--keep-float", "nosuch")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no node named 'nosuch'", r.stderr)


class Fixtures(unittest.TestCase):
    def test_fixtures_are_up_to_date(self):
        """tests/data/make_fixtures.py reproduces the committed fixtures byte for byte (every
        .onnx it writes; other generators' files in tests/data are not its business)."""
        data = os.path.join(REPO, "tests", "data")
        with tempfile.TemporaryDirectory() as d:
            # Run a copy of the generator in a scratch folder so the committed files stay untouched.
            src = Path(data, "make_fixtures.py").read_text()
            script = Path(d, "make_fixtures.py")
            script.write_text(src.replace('os.path.join(HERE, "..", "..", "models")', repr(MODELS)))
            subprocess.run([sys.executable, script], check=True, capture_output=True)
            made = sorted(f for f in os.listdir(d) if f.endswith(".onnx"))
            self.assertIn("transformer_net.onnx", made)
            for n in made:
                self.assertTrue(os.path.exists(os.path.join(data, n)), f"{n}: run python tests/data/make_fixtures.py")
                self.assertEqual(Path(d, n).read_bytes(), Path(data, n).read_bytes(), n)


if __name__ == "__main__":
    unittest.main()
