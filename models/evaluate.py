#!/usr/bin/env python3
"""Measure how much a feed-forward style network moves photos towards a style image.

    python models/evaluate.py --model models/scream.onnx --style samples/styles/the_scream.jpg PHOTOS...

PHOTOS are image files or folders of them (.jpg, .jpeg, .png). Both networks run in onnxruntime
(CPU): the style network and the loss network `vgg16_features.onnx` (`python models/prepare_vgg.py`
makes it; outputs are post-ReLU conv_k activations, input RGB 0..255).

Resolution: each photo is resized (Lanczos) to `--size` px on its long side (default 512), the
style image to `--style-size` px on its long side (default 384, as in training). The network's
output is clamped to 0..255 (as vstyle does) before it is measured.

Losses, per photo, with F_l = the VGG16 feature map of layer l, shape [C, H, W] (batch of one):

  Gram          G_l = F_l . F_l^T / (C.H.W)               (C x C; normalised by the number of
                                                            elements of the feature map)
  style loss    S   = sum_l mean((G_l - A_l)^2)           (mean over the C x C entries; A_l = the
                                                            style image's Gram at layer l)
  relative      R   = sum_l |G_l - A_l|^2 / |A_l|^2       (squared Frobenius norms; scale-free, so
                                                            every layer has the same say)
  content loss  C   = mean((F_c(output) - F_c(input))^2)  (mean over C.H.W entries)
  content rel.      = |F_c(output) - F_c(input)|^2 / |F_c(input)|^2

with l = conv_1..conv_5 (relu1_1, relu1_2, relu2_1, relu2_2, relu3_1) unless `--style-layers`
says otherwise, and c = conv_4 (relu2_2, the training's content layer) unless `--content-layer`.
S is the convention of training's `--style-norm mean`; R is training's `--style-norm relative`
times the number of layers. Both are computed for the unstylised input and for the output; the
table gives input/output ratios (how many times closer to the style the output is). Prints a
markdown table: one row per photo and their mean.
"""
import argparse
import glob
import os
import sys
import time

import numpy as np

IMAGE_EXT = (".jpg", ".jpeg", ".png")
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- losses (numpy, float64)
def gram(f):
    """F.F^T / (C.H.W) of one feature map [C,H,W] (or [1,C,H,W]) -> [C,C]."""
    f = np.asarray(f, np.float64)
    if f.ndim == 4:
        if f.shape[0] != 1:
            raise ValueError("gram: expected a batch of one")
        f = f[0]
    c, h, w = f.shape
    m = f.reshape(c, h * w)
    return m @ m.T / (c * h * w)


def style_loss(grams, targets):
    """sum over layers of mean((G - A)^2) over the C x C entries."""
    return float(sum(np.mean((g - a) ** 2) for g, a in zip(grams, targets)))


def relative_style_loss(grams, targets):
    """sum over layers of |G - A|^2 / |A|^2 (squared Frobenius norms)."""
    return float(sum(np.sum((g - a) ** 2) / np.sum(a ** 2) for g, a in zip(grams, targets)))


def content_loss(f_out, f_in):
    """mean((F(output) - F(input))^2) over all entries."""
    return float(np.mean((np.asarray(f_out, np.float64) - np.asarray(f_in, np.float64)) ** 2))


def relative_content_loss(f_out, f_in):
    """|F(output) - F(input)|^2 / |F(input)|^2: the content loss as a fraction of the input's
    feature energy (0 = same features; an unrelated image of similar statistics gives ~1 or more)."""
    f_in = np.asarray(f_in, np.float64)
    return float(np.sum((np.asarray(f_out, np.float64) - f_in) ** 2) / np.sum(f_in ** 2))


# ---------------------------------------------------------------- images and networks
def load_image(path, long_side):
    """RGB float32 [1,3,H,W] 0..255, resized (Lanczos) so its long side is `long_side`."""
    from PIL import Image
    try:
        im = Image.open(path).convert("RGB")
    except OSError as e:
        raise SystemExit(f"evaluate: error: cannot read image {path}: {e}")
    s = long_side / max(im.size)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
    return np.asarray(im, np.float32).transpose(2, 0, 1)[None]


def list_photos(args):
    files = []
    for p in args:
        if os.path.isdir(p):
            found = sorted(f for f in glob.glob(os.path.join(p, "*")) if f.lower().endswith(IMAGE_EXT))
            if not found:
                raise SystemExit(f"evaluate: error: no .jpg/.jpeg/.png photos in {p}")
            files += found
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise SystemExit(f"evaluate: error: {p} not found")
    return files


class Vgg:
    def __init__(self, path, layers):
        import onnxruntime as ort
        if not os.path.exists(path):
            raise SystemExit(f"evaluate: error: {path} not found; run models/prepare_vgg.py first")
        self.sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.names = [f"conv_{k}" for k in layers]
        have = {o.name for o in self.sess.get_outputs()}
        missing = [n for n in self.names if n not in have]
        if missing:
            raise SystemExit(f"evaluate: error: {path} has no output(s) {', '.join(missing)}")
        self.input = self.sess.get_inputs()[0].name

    def __call__(self, x):
        return dict(zip(self.names, self.sess.run(self.names, {self.input: x})))


class StyleNet:
    def __init__(self, path):
        import onnxruntime as ort
        if not os.path.exists(path):
            raise SystemExit(f"evaluate: error: {path} not found")
        self.sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.input = self.sess.get_inputs()[0].name
        self.output = self.sess.get_outputs()[0].name

    def __call__(self, x):
        y = self.sess.run([self.output], {self.input: x})[0]
        if y.shape != x.shape:
            raise SystemExit(f"evaluate: error: the network maps {list(x.shape)} to {list(y.shape)}; "
                             "expected the same shape (a model with dynamic H/W)")
        return np.clip(y, 0, 255)


# ---------------------------------------------------------------- main
def evaluate(model, style, photos, vgg_path, size, style_size, style_layers, content_layer):
    layers = sorted(set(style_layers) | {content_layer})
    vgg = Vgg(vgg_path, layers)
    net = StyleNet(model)
    s_feats = vgg(load_image(style, style_size))
    targets = [gram(s_feats[f"conv_{k}"]) for k in style_layers]
    rows = []
    for path in photos:
        x = load_image(path, size)
        y = net(x)
        fx, fy = vgg(x), vgg(y)
        gx = [gram(fx[f"conv_{k}"]) for k in style_layers]
        gy = [gram(fy[f"conv_{k}"]) for k in style_layers]
        rows.append({
            "photo": os.path.basename(path),
            "size": f"{x.shape[3]}x{x.shape[2]}",
            "s_in": style_loss(gx, targets), "s_out": style_loss(gy, targets),
            "r_in": relative_style_loss(gx, targets), "r_out": relative_style_loss(gy, targets),
            "content": content_loss(fy[f"conv_{content_layer}"], fx[f"conv_{content_layer}"]),
            "c_rel": relative_content_loss(fy[f"conv_{content_layer}"], fx[f"conv_{content_layer}"]),
        })
    return rows


def table(rows, style_layers, content_layer):
    sl = ",".join(str(k) for k in style_layers)
    head = ["photo", "px", "style loss input", "style loss output", "ratio in/out",
            "relative input", "relative output", "ratio in/out", f"content loss conv_{content_layer}",
            "content relative"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]

    def fmt(name, px, r):
        return (f"| {name} | {px} | {r['s_in']:.4g} | {r['s_out']:.4g} | {r['s_in'] / r['s_out']:.1f} | "
                f"{r['r_in']:.3g} | {r['r_out']:.3g} | {r['r_in'] / r['r_out']:.1f} | {r['content']:.4g} | {r['c_rel']:.3f} |")
    for r in rows:
        lines.append(fmt(r["photo"], r["size"], r))
    if len(rows) > 1:
        mean = {k: float(np.mean([r[k] for r in rows])) for k in ("s_in", "s_out", "r_in", "r_out", "content", "c_rel")}
        lines.append(fmt("**mean**", "", mean))
    lines.append("")
    lines.append(f"Style layers conv_{{{sl}}}; style loss = sum_l mean((G-A)^2), G = F.F^T/(C.H.W); "
                 f"relative = sum_l |G-A|^2/|A|^2; content loss = mean((F(out)-F(in))^2) at conv_{content_layer}, "
                 "content relative = |F(out)-F(in)|^2/|F(in)|^2. "
                 "Ratios of the mean row are ratios of the means.")
    return "\n".join(lines)


def parse_layers(s):
    try:
        ks = [int(t) for t in s.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer numbers like 1,2,3, got {s!r}")
    if not ks or any(k < 1 or k > 13 for k in ks):
        raise argparse.ArgumentTypeError("layer numbers must be 1..13")
    return ks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", nargs="+", help="content photos: image files and/or folders")
    ap.add_argument("--model", required=True, help="the style network (ONNX, dynamic H/W)")
    ap.add_argument("--style", required=True, help="the style image")
    ap.add_argument("--vgg", default=os.path.join(HERE, "vgg16_features.onnx"), help="loss network [%(default)s]")
    ap.add_argument("--size", type=int, default=512, help="photos' long side in px [%(default)s]")
    ap.add_argument("--style-size", type=int, default=384, help="style image's long side in px [%(default)s]")
    ap.add_argument("--style-layers", type=parse_layers, default=[1, 2, 3, 4, 5], help="[1,2,3,4,5]")
    ap.add_argument("--content-layer", type=int, default=4, choices=range(1, 14), metavar="K", help="[%(default)s]")
    a = ap.parse_args(argv)
    photos = list_photos(a.photos)
    t0 = time.time()
    rows = evaluate(a.model, a.style, photos, a.vgg, a.size, a.style_size, a.style_layers, a.content_layer)
    print(f"model {a.model}, style {a.style} at {a.style_size} px long side, "
          f"{len(photos)} photo(s) at {a.size} px long side ({time.time() - t0:.1f} s)\n")
    print(table(rows, a.style_layers, a.content_layer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
