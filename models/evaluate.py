#!/usr/bin/env python3
"""Measure how much a feed-forward style network moves photos towards a style image.

    python models/evaluate.py --model models/scream.onnx --style samples/styles/the_scream.jpg PHOTOS...
    python models/evaluate.py --model paintings.onnx --style-name great_wave --style styles/wave.jpg PHOTOS...
    python models/evaluate.py --model paintings.onnx --all-styles --catalog models/paintings.json \
        --styles-dir styles/ PHOTOS...

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

Multi-style networks (a second input `style`, names in the `vstyle.styles` metadata; see
models/README.md): `--style-name NAME` feeds that style's one-hot weights. `--all-styles`
evaluates every style of the network against its own painting (found in `--styles-dir` by the
catalogue's file name for the style, else by the metadata's `source`) and prints one row per
style, each the mean over the photos (ratios are ratios of those means).
"""
import argparse
import glob
import json
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
    """A style network in onnxruntime. A multi-style one (a second input, the style weights [S])
    is fed the one-hot weights of `style_name`, or of another style per call."""

    def __init__(self, path, style_name=None):
        import onnx
        import onnxruntime as ort
        if not os.path.exists(path):
            raise SystemExit(f"evaluate: error: {path} not found")
        self.sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        inputs = self.sess.get_inputs()
        self.input = inputs[0].name
        self.output = self.sess.get_outputs()[0].name
        self.style_input, self.names, self.weights = None, None, None
        if len(inputs) == 2:
            self.style_input = inputs[1].name
            n = inputs[1].shape[0]
            meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
            styles = json.loads(meta["vstyle.styles"]) if "vstyle.styles" in meta else []
            self.styles = styles if len(styles) == n else [{"name": f"style_{i}"} for i in range(n)]
            self.names = [s["name"] for s in self.styles]
            if style_name is not None:
                self.weights = self.one_hot(style_name)
        elif style_name is not None:
            raise SystemExit(f"evaluate: error: --style-name given, but {path} is a single-style network")

    def one_hot(self, name):
        if name not in self.names:
            raise SystemExit(f"evaluate: error: no style {name!r} in the network; it has: {', '.join(self.names)}")
        return np.eye(len(self.names), dtype=np.float32)[self.names.index(name)]

    def __call__(self, x, weights=None):
        feed = {self.input: x}
        if self.style_input is not None:
            weights = self.weights if weights is None else weights
            if weights is None:
                raise SystemExit("evaluate: error: the network has several styles "
                                 f"({', '.join(self.names)}): pick one with --style-name, or use --all-styles")
            feed[self.style_input] = weights
        y = self.sess.run([self.output], feed)[0]
        if y.shape != x.shape:
            raise SystemExit(f"evaluate: error: the network maps {list(x.shape)} to {list(y.shape)}; "
                             "expected the same shape (a model with dynamic H/W)")
        return np.clip(y, 0, 255)


# ---------------------------------------------------------------- main
def evaluate(model, style, photos, vgg_path, size, style_size, style_layers, content_layer,
             style_name=None, _nets=None):
    """One row per photo. `style_name` picks a multi-style network's style."""
    layers = sorted(set(style_layers) | {content_layer})
    vgg, net = _nets or (Vgg(vgg_path, layers), StyleNet(model, style_name))
    weights = net.one_hot(style_name) if style_name is not None else None
    s_feats = vgg(load_image(style, style_size))
    targets = [gram(s_feats[f"conv_{k}"]) for k in style_layers]
    rows = []
    for path in photos:
        x = load_image(path, size)
        y = net(x, weights)
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


MEASURES = ("s_in", "s_out", "r_in", "r_out", "content", "c_rel")


def style_paintings(net, catalog, styles_dir):
    """{style name: painting file} for every style of a multi-style network: the catalogue's
    `file` for that name, else the metadata's `source`, looked up in `styles_dir`."""
    by_name = {}
    if catalog:
        with open(catalog, encoding="utf-8") as f:
            cat = json.load(f)
        by_name = {e["name"]: e["file"] for e in (cat["paintings"] if isinstance(cat, dict) else cat)}
    found = {}
    for s in net.styles:
        candidates = [c for c in (by_name.get(s["name"]), s.get("source")) if c]
        for c in candidates:
            if os.path.isfile(os.path.join(styles_dir, c)):
                found[s["name"]] = os.path.join(styles_dir, c)
                break
        else:
            raise SystemExit(f"evaluate: error: no painting for style {s['name']!r} in {styles_dir} "
                             f"(looked for {candidates or 'nothing: not in the catalogue, no source in the metadata'})")
    return found


def evaluate_all_styles(model, catalog, styles_dir, photos, vgg_path, size, style_size, style_layers,
                        content_layer):
    """One row per style of a multi-style network: the means over the photos, each style
    measured against its own painting."""
    layers = sorted(set(style_layers) | {content_layer})
    net = StyleNet(model)
    if net.names is None:
        raise SystemExit(f"evaluate: error: {model} is a single-style network; --all-styles needs a multi-style one")
    paintings = style_paintings(net, catalog, styles_dir)
    nets = (Vgg(vgg_path, layers), net)
    rows = []
    for name in net.names:
        per_photo = evaluate(model, paintings[name], photos, vgg_path, size, style_size, style_layers,
                             content_layer, style_name=name, _nets=nets)
        row = {k: float(np.mean([r[k] for r in per_photo])) for k in MEASURES}
        row.update(style=name, painting=os.path.basename(paintings[name]), photos=len(per_photo))
        rows.append(row)
    return rows


def _fmt(cells, r):
    return ("| " + " | ".join(cells) + f" | {r['s_in']:.4g} | {r['s_out']:.4g} | {r['s_in'] / r['s_out']:.1f} | "
            f"{r['r_in']:.3g} | {r['r_out']:.3g} | {r['r_in'] / r['r_out']:.1f} | {r['content']:.4g} | {r['c_rel']:.3f} |")


def _footer(style_layers, content_layer, mean_note):
    sl = ",".join(str(k) for k in style_layers)
    return (f"Style layers conv_{{{sl}}}; style loss = sum_l mean((G-A)^2), G = F.F^T/(C.H.W); "
            f"relative = sum_l |G-A|^2/|A|^2; content loss = mean((F(out)-F(in))^2) at conv_{content_layer}, "
            f"content relative = |F(out)-F(in)|^2/|F(in)|^2. {mean_note}")


def styles_table(rows, style_layers, content_layer):
    """Markdown: one row per style (means over the photos), then the mean over the styles."""
    head = ["style", "painting", "photos", "style loss input", "style loss output", "ratio in/out",
            "relative input", "relative output", "ratio in/out", f"content loss conv_{content_layer}",
            "content relative"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for r in rows:
        lines.append(_fmt([r["style"], r["painting"], str(r["photos"])], r))
    if len(rows) > 1:
        mean = {k: float(np.mean([r[k] for r in rows])) for k in MEASURES}
        lines.append(_fmt(["**mean**", "", ""], mean))
    lines.append("")
    lines.append(_footer(style_layers, content_layer, "Each row holds the means over the photos; "
                         "ratios are ratios of those means."))
    return "\n".join(lines)


def table(rows, style_layers, content_layer):
    """Markdown: one row per photo, then their mean."""
    head = ["photo", "px", "style loss input", "style loss output", "ratio in/out",
            "relative input", "relative output", "ratio in/out", f"content loss conv_{content_layer}",
            "content relative"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for r in rows:
        lines.append(_fmt([r["photo"], r["size"]], r))
    if len(rows) > 1:
        mean = {k: float(np.mean([r[k] for r in rows])) for k in MEASURES}
        lines.append(_fmt(["**mean**", ""], mean))
    lines.append("")
    lines.append(_footer(style_layers, content_layer, "Ratios of the mean row are ratios of the means."))
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
    ap.add_argument("--style", help="the style image (not with --all-styles)")
    ap.add_argument("--style-name", help="multi-style network: the style to feed (one-hot weights)")
    ap.add_argument("--all-styles", action="store_true",
                    help="multi-style network: evaluate every style against its own painting, one row per style")
    ap.add_argument("--catalog", help="with --all-styles: paintings catalogue (models/paintings.json) "
                                      "mapping style names to files")
    ap.add_argument("--styles-dir", help="with --all-styles: folder of the paintings")
    ap.add_argument("--vgg", default=os.path.join(HERE, "vgg16_features.onnx"), help="loss network [%(default)s]")
    ap.add_argument("--size", type=int, default=512, help="photos' long side in px [%(default)s]")
    ap.add_argument("--style-size", type=int, default=384, help="style image's long side in px [%(default)s]")
    ap.add_argument("--style-layers", type=parse_layers, default=[1, 2, 3, 4, 5], help="[1,2,3,4,5]")
    ap.add_argument("--content-layer", type=int, default=4, choices=range(1, 14), metavar="K", help="[%(default)s]")
    a = ap.parse_args(argv)
    if a.all_styles:
        if a.style or a.style_name or not a.styles_dir:
            ap.error("--all-styles needs --styles-dir (and --catalog unless the model's metadata names "
                     "the files), and takes no --style / --style-name")
    elif not a.style:
        ap.error("--style is required (or --all-styles for a multi-style network)")
    photos = list_photos(a.photos)
    t0 = time.time()
    if a.all_styles:
        rows = evaluate_all_styles(a.model, a.catalog, a.styles_dir, photos, a.vgg, a.size, a.style_size,
                                   a.style_layers, a.content_layer)
        print(f"model {a.model}, {len(rows)} styles, paintings from {a.styles_dir} at {a.style_size} px long side, "
              f"{len(photos)} photo(s) at {a.size} px long side ({time.time() - t0:.1f} s)\n")
        print(styles_table(rows, a.style_layers, a.content_layer))
        return 0
    rows = evaluate(a.model, a.style, photos, a.vgg, a.size, a.style_size, a.style_layers, a.content_layer,
                    style_name=a.style_name)
    which = f" (style {a.style_name})" if a.style_name else ""
    print(f"model {a.model}{which}, style {a.style} at {a.style_size} px long side, "
          f"{len(photos)} photo(s) at {a.size} px long side ({time.time() - t0:.1f} s)\n")
    print(table(rows, a.style_layers, a.content_layer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
