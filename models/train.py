#!/usr/bin/env python3
"""Train a feed-forward style network (Johnson et al. 2016, "Perceptual losses") with JAX.

    python models/train.py extract-vgg --out .cache/vgg16_conv1_10.npz
    python models/train.py train --data PHOTOS_DIR --style the_scream.jpg --vgg .cache/vgg16_conv1_10.npz \
        --minutes 6 --export scream.onnx --preview preview_dir --preview-images a.jpg b.jpg

The transformer network is `transformer_net.py` (same parameter dict, so export is shared). The loss
network is VGG16 conv_1..conv_10 (relu1_1..relu4_3) in the convention of `prepare_vgg.py`: RGB
0..255 minus the Caffe means, post-ReLU features. `extract-vgg` copies just those ten convs out of
`vgg16_features.onnx` into a ~30 MB .npz, small enough to carry to a GPU machine.

Losses (the convention of Johnson's reference code, which used the same Caffe VGG16 on 0..255):
  content = mean((F(y) - F(x))^2) at --content-layer
  style   = sum over --style-layers of D(G(y), A), G = F.F^T / (C.H.W), A = style image's Gram,
            D = mean((G - A)^2) over the CxC entries (--style-norm mean, default),
                sum((G - A)^2)                     (--style-norm sum, plain squared Frobenius), or
                sum((G - A)^2) / (L.|A|^2)         (--style-norm relative: scale-free per layer)
  tv      = sum of squared neighbour differences of y (0..255), averaged over the batch
  temporal = mean((T(warp(x) + n) - warp(T(x)))^2) over a random smooth warp and Gaussian noise n
            (Wang et al. 2020, "Consistent Video Style Transfer via Compound Regularization";
            only with --temporal-weight > 0, training only: the exported network is unchanged)
  total   = content_weight.content + style_weight.style + tv_weight.tv [+ temporal_weight.temporal]
Adam is scale-invariant, so only the ratios of the weights matter.

Several --style images (or --multi) train one multi-style network (conditional instance norm,
Dumoulin et al. 2017; see transformer_net.py): each batch element gets a style drawn uniformly,
is stylised with that style's one-hot weights and its style term uses that style's Grams (the
style loss is then the batch mean of the per-image terms). `--catalog models/paintings.json`
names the styles and supplies their credits by file name; the export carries them as metadata.
`--add-style IMAGE --init MODEL.onnx` extends a trained S-style network by one style, training
only the new style's instance-norm row with everything else frozen.

    python models/train.py train --data PHOTOS_DIR --style styles/the_scream.jpg styles/wave.jpg \
        --catalog models/paintings.json --vgg .cache/vgg16_conv1_10.npz --minutes 30 --export paintings.onnx

Data augmentation (random crop with scale jitter, horizontal flip) runs inside the jitted step on
the device, from photos held there as uint8 tiles: the host never feeds the accelerator.
"""
import argparse
import csv
import glob
import json
import os
import re
import shlex
import signal
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transformer_net  # noqa: E402

N_VGG = 10                      # conv_1..conv_10: enough for relu4_3, the deepest default layer
POOL_AFTER = (2, 4, 7, 10)      # VGG16 max-pools (the one after conv_10 is never needed)
IMAGE_EXT = (".jpg", ".jpeg", ".png")


_LOG_FILE = None   # the run folder's train.log once train() has opened it


def log(msg):
    print(msg, flush=True)
    if _LOG_FILE is not None:
        _LOG_FILE.write(msg + "\n")
        _LOG_FILE.flush()


# ---------------------------------------------------------------- loss network
def extract_vgg(onnx_path, out_path, n=N_VGG, half=False):
    """Copy mean + conv_1..conv_n weights of vgg16_features.onnx into an .npz; `half` stores
    float16 (15 MB instead of 30, for the size limit of a GPU machine's file transfer; the
    weights are cast back to float32 on load, and rounding them moves features by ~1e-3)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(onnx_path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    keep = ["mean"] + [f"conv_{k}.{p}" for k in range(1, n + 1) for p in ("weight", "bias")]
    missing = [k for k in keep if k not in inits]
    if missing:
        raise SystemExit(f"extract-vgg: error: {onnx_path} lacks {missing[:3]} (not made by prepare_vgg.py?)")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    dtype = np.float16 if half else np.float32
    np.savez(out_path, **{k: inits[k].astype(dtype) for k in keep})
    log(f"wrote {out_path} ({os.path.getsize(out_path) / 1e6:.1f} MB, conv_1..conv_{n})")


def load_vgg(path):
    """Arrays by name from an .npz (e.g. made by extract-vgg) or from an ONNX file's initializers."""
    if path.endswith(".onnx"):
        import onnx
        from onnx import numpy_helper
        return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def vgg_features(vgg, x, layers):
    """Post-ReLU activations {k: [N,C,H,W]} of conv_k for k in layers; x is RGB 0..255 NCHW."""
    import jax
    h = x - vgg["mean"]
    out = {}
    for k in range(1, max(layers) + 1):
        h = jax.lax.conv_general_dilated(h, vgg[f"conv_{k}.weight"], (1, 1), ((1, 1), (1, 1)),
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        h = jax.nn.relu(h + vgg[f"conv_{k}.bias"][None, :, None, None])
        if k in layers:
            out[k] = h
        if k in POOL_AFTER:
            h = jax.lax.reduce_window(h, -np.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    return out


def gram(f):
    """F.F^T / (C.H.W) per image: [N,C,H,W] -> [N,C,C]."""
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return (f @ f.transpose(0, 2, 1)) / (c * h * w)


# ---------------------------------------------------------------- data
def load_photos(folder, size):
    """Every photo, short side resized to `size`, cut into size x size tiles (uint8 [P,S,S,3]).

    Square tiles let one device array hold all photos; a landscape photo gives two overlapping
    tiles (left-aligned and right-aligned) so nothing of it is lost.
    """
    from PIL import Image
    files = sorted(f for f in glob.glob(os.path.join(folder, "*")) if f.lower().endswith(IMAGE_EXT))
    if not files:
        raise SystemExit(f"train: error: no .jpg/.jpeg/.png photos in {folder}")
    tiles = []
    for f in files:
        im = Image.open(f).convert("RGB")
        s = size / min(im.size)
        im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.BICUBIC)
        a = np.asarray(im)
        h, w = a.shape[:2]
        for y, x in {(0, 0), (h - size, w - size)}:
            tiles.append(a[y:y + size, x:x + size])
    return np.stack(tiles), len(files)


def load_image(path, long_side=None):
    """RGB float32 [1,3,H,W] 0..255, optionally resized so its long side is `long_side`."""
    from PIL import Image
    try:
        im = Image.open(path).convert("RGB")
    except OSError as e:
        raise SystemExit(f"train: error: cannot read image {path}: {e}")
    if long_side:
        s = long_side / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
    return np.asarray(im, np.float32).transpose(2, 0, 1)[None]


def sample_batch(key, photos, batch, crop, min_scale):
    """A batch of random crops, made on the device: uint8 tiles [P,S,S,3] -> float32 [B,3,crop,crop].

    Each crop is a square window of side uniform in [max(crop, min_scale*S), S] at a random
    position of a random tile, resized to crop x crop (antialiased bilinear; this is the scale
    jitter) and flipped horizontally with probability 1/2.
    """
    import jax
    import jax.numpy as jnp
    n_photos, size = photos.shape[0], photos.shape[1]
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    idx = jax.random.randint(k1, (batch,), 0, n_photos)
    side = jax.random.uniform(k2, (batch,), minval=max(crop, min_scale * size), maxval=size)
    y0 = jax.random.uniform(k3, (batch,)) * (size - side)
    x0 = jax.random.uniform(k4, (batch,)) * (size - side)
    flip = jax.random.bernoulli(k5, 0.5, (batch,))

    def one(img, side, y0, x0, flip):
        scale = crop / side
        out = jax.image.scale_and_translate(img.astype(jnp.float32), (crop, crop, 3), (0, 1),
                                            jnp.stack([scale, scale]), jnp.stack([-y0 * scale, -x0 * scale]),
                                            "linear", antialias=True)
        return jnp.where(flip, out[:, ::-1], out)

    x = jax.vmap(one)(photos[idx], side, y0, x0, flip)
    return jnp.clip(x, 0, 255).transpose(0, 3, 1, 2)


# ---------------------------------------------------------------- styles and catalogue
# Fields of a catalogue entry that go into the model's `vstyle.styles` metadata (`file` becomes
# `source`); see transformer_net.export_onnx.
META_FIELDS = ("name", "title", "artist", "year", "credit", "note", "caveat")


def load_catalog(path):
    """The entries of a paintings catalogue (models/paintings.json): a list of dicts with at least
    `name` and `file`."""
    try:
        with open(path, encoding="utf-8") as f:
            cat = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"train: error: cannot read catalogue {path}: {e}")
    entries = cat["paintings"] if isinstance(cat, dict) else cat
    for e in entries:
        if not e.get("name") or not e.get("file"):
            raise SystemExit(f"train: error: catalogue entry without name or file in {path}: {e}")
    return entries


def style_name_from_file(path):
    """Fallback style name: the file's stem in snake_case (`Woman-With-Hat.jpg` -> woman_with_hat)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "style"


def style_entry(path, catalog):
    """The metadata object of the style image `path`: from the catalogue entry whose `file` is
    its file name, else just a name made from the file name. `source` is the file name."""
    base = os.path.basename(path)
    for e in catalog or []:
        if e["file"] == base:
            entry = {k: e[k] for k in META_FIELDS if isinstance(e.get(k), str)}
            break
    else:
        entry = {"name": style_name_from_file(path)}
    entry["source"] = base
    return entry


def load_style_grams(vgg, path, a):
    """The style image's Gram matrices {k: [C, C]} at --style-layers, and its size."""
    import jax.numpy as jnp
    style = jnp.asarray(load_image(path, a.style_size))
    sf = vgg_features(vgg, style, a.style_layers)
    return {k: gram(sf[k])[0] for k in a.style_layers}, (style.shape[3], style.shape[2])


def init_styles(path):
    """Style metadata stored with an --init file: an ONNX's `vstyle.styles`, or the styles.json that
    training writes next to params.npz. None when there is none."""
    if path.endswith(".onnx"):
        return transformer_net.read_styles(path)
    side = os.path.join(os.path.dirname(os.path.abspath(path)), "styles.json")
    if os.path.exists(side):
        with open(side, encoding="utf-8") as f:
            return json.load(f)
    return None


def load_init(path, fresh, names=None):
    """Parameters from a params .npz checkpoint or an exported ONNX (its initializers carry the
    same names), shaped like `fresh`. For a multi-style `fresh` (IN tables [S, C]): a single-style
    source's IN parameters are copied into every row; a multi-style source must have the same
    styles (reordered by name when both sides know the names)."""
    src = load_vgg(path)  # reads .npz or ONNX initializers alike
    arch = transformer_net.arch_of(fresh)
    missing = sorted(set(fresh) - set(src))
    if missing:
        raise SystemExit(f"train: error: {path} is not a TransformerNet of the {arch} architecture "
                         f"(lacks {missing[0]})")
    src = {k: src[k].astype(np.float32) for k in fresh}
    S, S_src = transformer_net.n_styles(fresh), transformer_net.n_styles(src)
    if S is None and S_src is not None:
        raise SystemExit(f"train: error: {path} is a {S_src}-style network; train it with all its "
                         "styles (several --style images) or extend it with --add-style")
    if S is not None and S_src is None:
        log(f"init: {path} is single-style: its instance-norm parameters start every style's row")
        for norm in transformer_net.norm_names(arch):
            for p in ("scale", "bias"):
                src[f"{norm}.{p}"] = np.tile(src[f"{norm}.{p}"][None], (S, 1))
    elif S is not None:
        src_names = [e["name"] for e in init_styles(path) or []] or None
        if src_names and names and src_names != names:
            if sorted(src_names) != sorted(names):
                raise SystemExit(f"train: error: {path} has the styles {src_names}, this run {names}")
            order = [src_names.index(n) for n in names]
            log(f"init: style rows reordered from {src_names}")
            for norm in transformer_net.norm_names(arch):
                for p in ("scale", "bias"):
                    src[f"{norm}.{p}"] = src[f"{norm}.{p}"][order]
        elif S_src != S:
            raise SystemExit(f"train: error: {path} has {S_src} styles, this run {S}")
    for k in fresh:
        if src[k].shape != fresh[k].shape:
            raise SystemExit(f"train: error: {path}: {k} is {src[k].shape}, expected {fresh[k].shape}")
    return src


# ---------------------------------------------------------------- temporal stability
def warp_coords(h, w, local=None, shift=(0.0, 0.0), angle=0.0, zoom=1.0):
    """Sampling coordinates [2, h, w] (row, column, in pixels) of a smooth warp: a global similarity
    (rotation `angle` in radians and scale `zoom` about the centre, then translation `shift` =
    (dy, dx)) plus a local displacement field `local` ([2, h, w] or None). warp(img)(p) =
    img(coords(p)): all zero / one gives the identity grid; shift (2, 3) samples 2 rows below and
    3 columns right, i.e. moves the image content up by 2 and left by 3 pixels."""
    import jax.numpy as jnp
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
    cy, cx = (h - 1) / 2, (w - 1) / 2
    c, s = jnp.cos(angle) * zoom, jnp.sin(angle) * zoom
    sy = cy + c * (yy - cy) - s * (xx - cx) + shift[0]
    sx = cx + s * (yy - cy) + c * (xx - cx) + shift[1]
    coords = jnp.stack([sy, sx])
    return coords if local is None else coords + local


def random_warp_coords(key, n, h, w, magnitude, grid=4):
    """Per image a random smooth warp of at most ~`magnitude` pixels ([n, 2, h, w] coordinates):
    a `grid` x `grid` field of displacements uniform in [-magnitude, magnitude], upsampled
    bilinearly to h x w, plus a global translation (uniform, |dy|, |dx| <= magnitude), rotation and
    zoom (each moving a point at half the crop's side from the centre by at most `magnitude`
    pixels). magnitude 0 gives the identity."""
    import jax
    import jax.numpy as jnp
    k1, k2, k3, k4 = jax.random.split(key, 4)
    half = max(h, w) / 2
    local = jax.random.uniform(k1, (n, 2, grid, grid), minval=-1.0, maxval=1.0) * magnitude
    local = jax.image.resize(local, (n, 2, h, w), "linear")
    shift = jax.random.uniform(k2, (n, 2), minval=-1.0, maxval=1.0) * magnitude
    angle = jax.random.uniform(k3, (n,), minval=-1.0, maxval=1.0) * magnitude / half
    zoom = 1 + jax.random.uniform(k4, (n,), minval=-1.0, maxval=1.0) * magnitude / half
    return jax.vmap(lambda l, t, r, z: warp_coords(h, w, l, (t[0], t[1]), r, z))(local, shift, angle, zoom)


def warp(img, coords):
    """Bilinear backward warp of [N, C, H, W] by coordinates [N, 2, H, W] (edge pixels repeat
    outside the image), and the mask [N, 1, H, W] of pixels whose source lies inside it."""
    import jax
    import jax.numpy as jnp
    from jax.scipy.ndimage import map_coordinates
    h, w = img.shape[2], img.shape[3]
    one = lambda ch, c: map_coordinates(ch, [c[0], c[1]], order=1, mode="nearest")
    out = jax.vmap(lambda im, c: jax.vmap(lambda ch: one(ch, c))(im))(img, coords)
    inside = ((coords[:, 0] >= 0) & (coords[:, 0] <= h - 1) & (coords[:, 1] >= 0) & (coords[:, 1] <= w - 1))
    return out, inside[:, None].astype(img.dtype)


# ---------------------------------------------------------------- training
def make_step(a, vgg, style_grams, n_styles=None, style_scales=None):
    """The jitted training step. Single-style: `style_grams` {k: [C, C]}. Multi-style (n_styles =
    S): {k: [S, C, C]}; every batch element gets a style drawn uniformly, is stylised with that
    style's one-hot weights and compared with that style's Grams, its style term multiplied by
    that style's entry of `style_scales` ([S], default all 1: --style-scale).

    step(params, frozen, opt, photos, key, t, acc): `params` are trained, `frozen` (usually
    empty) join them in the forward pass untouched; `acc` (multi-style: per-style sums and counts
    of the per-image style loss, else None) is carried along for logging."""
    import jax
    import jax.numpy as jnp
    layers = sorted(set(a.style_layers) | {a.content_layer})
    n_style = len(a.style_layers)
    multi = n_styles is not None

    def style_term(g, target):
        d = ((g - target[None]) ** 2)
        if a.style_norm == "mean":
            return d.mean(axis=(1, 2)).mean()
        per_image = d.sum(axis=(1, 2)).mean()
        if a.style_norm == "relative":
            return per_image / (n_style * (target ** 2).sum())
        return per_image

    def style_term_per_image(g, target):
        """As style_term, but with a target per image ([B, C, C]) and no batch mean: [B]."""
        d = (g - target) ** 2
        if a.style_norm == "mean":
            return d.mean(axis=(1, 2))
        if a.style_norm == "relative":
            return d.sum(axis=(1, 2)) / (n_style * (target ** 2).sum(axis=(1, 2)))
        return d.sum(axis=(1, 2))

    temporal_on = a.temporal_weight > 0
    if multi:
        scales = jnp.asarray(np.ones(n_styles) if style_scales is None else style_scales, jnp.float32)

    def losses(params, frozen, x, style_idx=None, coords=None, noise=None):
        full = {**frozen, **params}
        n = x.shape[0]
        xin = x
        if temporal_on:
            # One transformer pass over [x; warp(x) + noise] (instance norm is per image, so this
            # is two independent passes); the warped copy keeps each image's style.
            xw, _ = warp(x, coords)
            xin = jnp.concatenate([x, xw + noise])
            if multi:
                style_idx = jnp.concatenate([style_idx, style_idx])
        if multi:
            yy = transformer_net.forward(full, xin, jax.nn.one_hot(style_idx, n_styles, dtype=x.dtype))
            style_idx = style_idx[:n]
        else:
            yy = transformer_net.forward(full, xin)
        y = yy[:n]
        fy = vgg_features(vgg, y, layers)
        # The input only needs the (shallow) content layer, and no gradient: a separate, short
        # pass is ~35% cheaper than pushing x through the full differentiated pass with y.
        fx = jax.lax.stop_gradient(vgg_features(vgg, x, [a.content_layer])[a.content_layer])
        content = jnp.mean((fy[a.content_layer] - fx) ** 2)
        per_image = None
        if multi:
            per_image = sum(style_term_per_image(gram(fy[k]), style_grams[k][style_idx]) for k in a.style_layers)
            style = (scales[style_idx] * per_image).mean()
        else:
            style = sum(style_term(gram(fy[k]), style_grams[k]) for k in a.style_layers)
        tv = (jnp.sum((y[:, :, 1:, :] - y[:, :, :-1, :]) ** 2) + jnp.sum((y[:, :, :, 1:] - y[:, :, :, :-1]) ** 2)) / n
        total = a.content_weight * content + a.style_weight * style + a.tv_weight * tv
        if not temporal_on:
            return total, ((content, style, tv), per_image)
        # Wang et al. 2020: T(warp(x) + n) should be warp(T(x)). Mean squared difference (0..255
        # units) over the pixels whose warp source lies inside the crop, and over channels.
        yw, inside = warp(y, coords)
        d = inside * (yy[n:] - yw) ** 2
        temporal = d.sum() / (3 * jnp.maximum(inside.sum(), 1.0))
        total = total + a.temporal_weight * temporal
        return total, ((content, style, tv, temporal), per_image)

    b1, b2, eps = 0.9, 0.999, 1e-8

    @jax.jit
    def step(params, frozen, opt, photos, key, t, acc):
        if multi:
            key, sub, sub_style = jax.random.split(key, 3)
            style_idx = jax.random.randint(sub_style, (a.batch,), 0, n_styles)
        else:
            key, sub = jax.random.split(key)
            style_idx = None
        x = sample_batch(sub, photos, a.batch, a.crop, a.min_scale)
        coords = noise = None
        if temporal_on:   # extra keys only here: runs without the term keep their random stream
            key, k_flow, k_noise = jax.random.split(key, 3)
            coords = random_warp_coords(k_flow, a.batch, a.crop, a.crop, a.temporal_motion)
            noise = a.temporal_noise * jax.random.normal(k_noise, x.shape, x.dtype)
        (total, (parts, per_image)), grads = jax.value_and_grad(losses, has_aux=True)(
            params, frozen, x, style_idx, coords, noise)
        # Adam (Kingma & Ba), bias-corrected; written out to need nothing beyond jax.
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, opt["m"], grads)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, opt["v"], grads)
        lr = a.lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        params = jax.tree.map(lambda p, m, v: p - lr * m / (jnp.sqrt(v) + eps), params, m, v)
        if multi:
            onehot = jax.nn.one_hot(style_idx, n_styles, dtype=per_image.dtype)
            acc = (acc[0] + onehot.T @ jax.lax.stop_gradient(per_image), acc[1] + onehot.sum(0))
        return params, {"m": m, "v": v}, key, (total,) + parts, acc

    return step, losses


def parse_style_scales(given, names):
    """--style-scale NAME=F ... as one factor per style of `names` (1 where not given), or None."""
    if not given:
        return None
    scales = dict.fromkeys(names, 1.0)
    for item in given:
        name, eq, value = item.partition("=")
        try:
            x = float(value) if eq else None
        except ValueError:
            x = None
        if x is None or not x > 0 or x == float("inf"):
            raise SystemExit(f"train: error: --style-scale {item!r}: give NAME=FACTOR with a factor above 0")
        if name not in scales:
            raise SystemExit(f"train: error: --style-scale {item!r}: no style named {name!r} "
                             f"(the styles: {', '.join(names)})")
        scales[name] = x
    return np.array([scales[n] for n in names], np.float32)


# Settings a resumed run may change: how long it goes on, how it reports, and where its inputs
# now lie (a run moved to another machine). Everything else would change what is computed.
RESUME_OVERRIDES = ("iters", "minutes", "checkpoint_every", "checkpoint_minutes", "log_every", "export",
                    "preview", "preview_images", "preview_size", "data", "vgg", "init", "catalog")
# Settings a resumed run may change on purpose, part-way (a recipe change): each change is logged
# with the iteration it starts at and written into args.json, so later resumes keep it.
RESUME_RECIPE = ("temporal_weight", "style_scale", "lr")
STATE = "state.npz"


def resume_settings(a, given):
    """The settings of the run in `a.resume` (its args.json), with the RESUME_OVERRIDES among
    `given` (the options on this command line) taken from `a`; any other option is refused."""
    path = os.path.join(a.resume, "args.json")
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"train: error: cannot resume {a.resume}: {e}")
    if not os.path.exists(os.path.join(a.resume, STATE)):
        raise SystemExit(f"train: error: cannot resume {a.resume}: it has no {STATE} (no checkpoint yet)")
    refused = sorted(set(given) - set(RESUME_OVERRIDES) - set(RESUME_RECIPE) - {"resume", "run_dir"})
    if refused:
        raise SystemExit("train: error: a resumed run keeps its settings; only "
                         + ", ".join("--" + k.replace("_", "-") for k in RESUME_OVERRIDES + RESUME_RECIPE)
                         + " may change, not " + ", ".join("--" + k.replace("_", "-") for k in refused))
    merged = argparse.Namespace(**saved)
    merged.recipe_changes = []
    for k in given:
        if k in RESUME_OVERRIDES:
            setattr(merged, k, getattr(a, k))
        elif k in RESUME_RECIPE and getattr(a, k) != saved.get(k):
            if k == "style_scale":   # checked before args.json takes it
                if not (saved.get("multi") or len(saved.get("style") or []) > 1):
                    raise SystemExit("train: error: --style-scale is for multi-style runs (one style: --style-weight)")
                with open(os.path.join(a.resume, "styles.json"), encoding="utf-8") as f:
                    parse_style_scales(a.style_scale, [e["name"] for e in json.load(f)])
            merged.recipe_changes.append((k, saved.get(k), getattr(a, k)))
            setattr(merged, k, getattr(a, k))
    merged.run_dir, merged.resume, merged.func = a.resume, a.resume, a.func
    return merged


def save_state(path, params, opt, key, it, acc, seconds):
    """The whole training state, written atomically: parameters, Adam's moments, the random key
    (which fixes the data order and every later draw), the iteration, the multi-style loss
    accumulator and the training seconds so far."""
    import jax
    arrays = {"it": np.int64(it), "seconds": np.float64(seconds),
              "key": np.asarray(jax.random.key_data(key))}
    for prefix, tree in (("p", params), ("m", opt["m"]), ("v", opt["v"])):
        arrays.update({f"{prefix}.{k}": np.asarray(v) for k, v in tree.items()})
    if acc is not None:
        arrays["acc.sum"], arrays["acc.count"] = np.asarray(acc[0]), np.asarray(acc[1])
    tmp = path + ".partial.npz"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path, params):
    """What save_state wrote, checked against the parameters this run's settings make."""
    import jax
    import jax.numpy as jnp
    with np.load(path) as z:
        got = {k: z[k] for k in z.files}
    for k, v in params.items():
        if got.get(f"p.{k}") is None or got[f"p.{k}"].shape != v.shape:
            raise SystemExit(f"train: error: {path} does not fit this run's network ({k})")
    tree = lambda prefix: {k: jnp.asarray(got[f"{prefix}.{k}"]) for k in params}
    acc = (jnp.asarray(got["acc.sum"]), jnp.asarray(got["acc.count"])) if "acc.sum" in got else None
    key = jax.random.wrap_key_data(jnp.asarray(got["key"]))
    return tree("p"), {"m": tree("m"), "v": tree("v")}, key, int(got["it"]), acc, float(got["seconds"])


def keep_rows_upto(path, it):
    """Drop the rows of a CSV log written after iteration `it` (the checkpoint a run resumes
    from), so the resumed run's rows follow on without repeats."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [r for r in rows[1:] if r and int(r[0]) <= it]
    tmp = path + ".partial"
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(kept)
    os.replace(tmp, path)


def train(a):
    global _LOG_FILE
    t_start = time.time()
    import jax
    import jax.numpy as jnp
    resuming = a.resume is not None
    if not a.data or not a.vgg:
        raise SystemExit("train: error: give --data and --vgg (or --resume RUN_DIR)")
    os.makedirs(a.run_dir, exist_ok=True)
    _LOG_FILE = open(os.path.join(a.run_dir, "train.log"), "a", encoding="utf-8")
    # The interpreter as started, relative when it lies under the working folder (a venv), so a
    # committed run folder names no machine's paths.
    exe = os.path.relpath(sys.executable)
    exe = sys.executable if exe.startswith("..") else exe
    command = " ".join(shlex.quote(s) for s in [exe] + sys.argv)
    with open(os.path.join(a.run_dir, "command.txt"), "a", encoding="utf-8") as f:
        f.write(command + "\n")
    log(("resume: " if resuming else "command: ") + command)
    log(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
    changes = getattr(a, "recipe_changes", [])
    settings = {k: v for k, v in vars(a).items() if k not in ("func", "resume", "recipe_changes")}
    log("settings: " + json.dumps(settings, sort_keys=True))
    if not resuming or changes:
        for k, old, new in changes:
            log(f"recipe change: --{k.replace('_', '-')} {old} -> {new} from the checkpoint on")
        with open(os.path.join(a.run_dir, "args.json.partial"), "w", encoding="utf-8") as f:
            json.dump(settings, f, indent=1, sort_keys=True)
        os.replace(os.path.join(a.run_dir, "args.json.partial"), os.path.join(a.run_dir, "args.json"))
    if a.crop > a.photo_size:
        raise SystemExit("train: error: --crop must not exceed --photo-size")
    if a.iters is None and a.minutes is None:
        raise SystemExit("train: error: give --iters and/or --minutes")
    if a.add_style and (a.style or not a.init or a.multi):
        raise SystemExit("train: error: --add-style IMAGE needs --init MODEL and no --style / --multi")
    if not a.add_style and not a.style:
        raise SystemExit("train: error: give --style IMAGE [IMAGE ...] (or --add-style IMAGE --init MODEL)")
    catalog = load_catalog(a.catalog) if a.catalog else None
    multi = not a.add_style and (a.multi or len(a.style) > 1)

    vgg = {k: jnp.asarray(v.astype(np.float32)) for k, v in load_vgg(a.vgg).items()}
    need = max(a.style_layers + [a.content_layer])
    if f"conv_{need}.weight" not in vgg:
        raise SystemExit(f"train: error: {a.vgg} has no conv_{need} (extract-vgg keeps conv_1..conv_{N_VGG})")
    photos, n_files = load_photos(a.data, a.photo_size)
    log(f"data: {n_files} photos -> {len(photos)} tiles of {a.photo_size}px ({photos.nbytes / 1e6:.0f} MB)")
    photos = jax.device_put(photos)

    style_files = [a.add_style] if a.add_style else a.style
    styles = [style_entry(f, catalog) for f in style_files]
    per_style_grams = []
    for f, e in zip(style_files, styles):
        g, (w, h) = load_style_grams(vgg, f, a)
        per_style_grams.append(g)
        log(f"style: {f} at {w}x{h}" + (f" as {e['name']!r}" if multi or a.add_style else ""))
    S = len(styles) if multi else None
    if multi:
        names = [e["name"] for e in styles]
        if len(set(names)) != len(names):
            raise SystemExit(f"train: error: style names must be unique: {names}")
        style_grams = {k: jnp.stack([g[k] for g in per_style_grams]) for k in a.style_layers}
        style_scales = parse_style_scales(getattr(a, "style_scale", None), names)
        if style_scales is not None:
            log("style scales: " + "  ".join(f"{n} {x:g}" for n, x in zip(names, style_scales)))
    else:
        if getattr(a, "style_scale", None):
            raise SystemExit("train: error: --style-scale is for multi-style runs (one style: --style-weight)")
        style_grams, style_scales = per_style_grams[0], None

    # The architecture: --arch, else the --init network's, else the standard one.
    from_init = init_arch(a.init) if a.init else None
    arch = a.arch or from_init or transformer_net.DEFAULT_ARCH
    if from_init and from_init != arch:
        raise SystemExit(f"train: error: {a.init} is a network of the {from_init} architecture, not {arch}")
    log(f"arch: {arch}, {transformer_net.n_parameters(arch, S if multi else None)} parameters")
    frozen, base, export_styles = {}, None, styles
    if a.add_style:
        # Extend an S-style network by one style: the convs and the existing rows stay as they
        # are; only the new row (the instance norms' scale and bias vectors) is trained. Every
        # batch element uses the new style, so the forward pass is the single-style one with
        # those vectors.
        src = load_vgg(a.init)
        if "in1.scale" not in src:
            raise SystemExit(f"train: error: {a.init} is not a TransformerNet")
        S_old = transformer_net.n_styles(src)
        old_styles = init_styles(a.init) or [{"name": f"style_{i}"} for i in range(S_old or 1)]
        base = load_init(a.init, transformer_net.init_params(a.seed, n_styles=S_old, arch=arch),
                         [e["name"] for e in old_styles])
        if S_old is None:   # a single-style network counts as one style
            base = {k: (v[None] if _is_norm_param(k, arch) else v) for k, v in base.items()}
        if len(old_styles) != base["in1.scale"].shape[0]:
            raise SystemExit(f"train: error: {a.init}: metadata lists {len(old_styles)} styles, "
                             f"the network has {base['in1.scale'].shape[0]}")
        if styles[0]["name"] in [e["name"] for e in old_styles]:
            raise SystemExit(f"train: error: {a.init} already has a style named {styles[0]['name']!r}")
        params = {k: base[k].mean(axis=0) for k in base if _is_norm_param(k, arch)}
        frozen = {k: jnp.asarray(v) for k, v in base.items() if not _is_norm_param(k, arch)}
        export_styles = old_styles + styles
        log(f"add-style: {a.init} has {len(old_styles)} styles ({', '.join(e['name'] for e in old_styles)}); "
            f"training only the new row {styles[0]['name']!r} (started as the mean of the others)")
    elif a.init:
        # A params .npz checkpoint, or an ONNX exported by transformer_net, so a run can
        # continue from what an earlier run delivered.
        params = load_init(a.init, transformer_net.init_params(a.seed, n_styles=S, arch=arch),
                           [e["name"] for e in styles] if multi else None)
        log(f"init: parameters from {a.init}")
    else:
        params = transformer_net.init_params(a.seed, n_styles=S, arch=arch)
    params = {k: jnp.asarray(v) for k, v in params.items()}
    opt = {"m": jax.tree.map(jnp.zeros_like, params), "v": jax.tree.map(jnp.zeros_like, params)}
    step, _ = make_step(a, vgg, style_grams, S, style_scales)
    key = jax.random.key(a.seed)
    zero_acc = (jnp.zeros(S, jnp.float32), jnp.zeros(S, jnp.float32)) if multi else None
    acc = zero_acc

    def full_params(p):
        """The network to checkpoint and export, as numpy arrays."""
        p = {k: np.asarray(v) for k, v in p.items()}
        if base is None:
            return p
        out = dict(base)
        out.update({k: np.concatenate([base[k], p[k][None]]) for k in p})
        return out

    ckpt = os.path.join(a.run_dir, "params.npz")
    state_path = os.path.join(a.run_dir, STATE)
    csv_path = os.path.join(a.run_dir, "losses.csv")
    style_csv = os.path.join(a.run_dir, "style_losses.csv")
    it, seconds_before = 0, 0.0
    if resuming:
        params, opt, key, it, acc, seconds_before = load_state(state_path, params)
        keep_rows_upto(csv_path, it)
        keep_rows_upto(style_csv, it)
        log(f"resume: from iteration {it} ({seconds_before / 3600:.2f} h of training so far)")
    fcsv = open(csv_path, "a" if resuming else "w", newline="")
    w = csv.writer(fcsv)
    temporal_on = a.temporal_weight > 0
    if not resuming:
        w.writerow(["iter", "seconds", "it_per_s", "total", "content", "style", "tv",
                    "w_content", "w_style", "w_tv"] + (["temporal", "w_temporal"] if temporal_on else []))
    if multi or a.add_style:
        with open(os.path.join(a.run_dir, "styles.json"), "w", encoding="utf-8") as f:
            json.dump(export_styles, f, indent=1, ensure_ascii=False)
    if multi:
        # Weighted style loss per style, averaged over the images of that style since the last row.
        fstyles = open(style_csv, "a" if resuming else "w", newline="")
        ws = csv.writer(fstyles)
        if not resuming:
            ws.writerow(["iter"] + names)

    def save_params(p):
        tmp = ckpt + ".partial.npz"
        np.savez(tmp, **full_params(p))
        os.replace(tmp, ckpt)

    # SIGTERM / SIGINT end the run at the next step with a checkpoint, so it can be resumed.
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stop.append(signum))

    deadline = t_start + 60 * a.minutes if a.minutes is not None else float("inf")
    t_loop, t_mark, it_mark, rate, parts = time.time(), None, it, 0.0, None
    t_state, it_first = time.time(), it + 1
    train_seconds = lambda: seconds_before + time.time() - t_loop
    while (a.iters is None or it < a.iters) and time.time() < deadline and not stop:
        it += 1
        params, opt, key, parts, acc = step(params, frozen, opt, photos, key, jnp.float32(it), acc)
        last = a.iters is not None and it == a.iters
        if it == it_first or it % a.log_every == 0 or last:
            total, c, s, tv, *tmp = (float(v) for v in parts)   # blocks: also bounds the async queue
            now = time.time()
            if it == it_first:
                log(f"first step (includes compilation): {now - t_loop:.1f}s")
                t_mark, it_mark = now, it
            elif now > t_mark:
                rate = (it - it_mark) / (now - t_mark)
            row = [it, round(train_seconds(), 2), round(rate, 3), total, c, s, tv,
                   a.content_weight * c, a.style_weight * s, a.tv_weight * tv]
            if tmp:
                row += [tmp[0], a.temporal_weight * tmp[0]]
            w.writerow(row)
            fcsv.flush()
            log(f"iter {it:6d}  {rate:7.2f} it/s  total {total:.4g}  content {row[7]:.4g}  "
                f"style {row[8]:.4g}  tv {row[9]:.4g}" + (f"  temporal {row[11]:.4g}" if tmp else "")
                + "  (weighted)")
            if multi:
                sums, counts = (np.asarray(v, np.float64) for v in acc)
                avg = [a.style_weight * sm / n if n else None for sm, n in zip(sums, counts)]
                ws.writerow([it] + ["" if v is None else v for v in avg])
                fstyles.flush()
                log("    style by style (weighted): " + "  ".join(
                    f"{n} {'-' if v is None else f'{v:.4g}'}" for n, v in zip(names, avg)))
                acc = zero_acc
            if not np.isfinite(total):
                raise SystemExit("train: error: loss is not finite; lower --lr or the weights")
        if (a.checkpoint_every and it % a.checkpoint_every == 0) or \
                time.time() - t_state >= 60 * a.checkpoint_minutes:
            save_params(params)
            save_state(state_path, params, opt, key, it, acc, train_seconds())
            t_state = time.time()
    jax.block_until_ready(params)
    elapsed = time.time() - t_loop
    fcsv.close()
    if multi:
        fstyles.close()
    save_params(params)
    save_state(state_path, params, opt, key, it, acc, train_seconds())
    if stop:
        name = signal.Signals(stop[0]).name
        log(f"stopped by {name} after iteration {it}: checkpoint {state_path}; "
            f"continue with: train.py train --resume {a.run_dir}")
        raise SystemExit(128 + stop[0])
    summary = {"iters": it, "seconds": round(elapsed, 1), "train_seconds": round(train_seconds(), 1),
               "it_per_s": round(rate, 3), "seed": a.seed,
               "style_weight": a.style_weight, "checkpoint": ckpt, "csv": csv_path}
    if multi or a.add_style:
        summary["styles"] = [e["name"] for e in export_styles]
    if parts is not None:  # None when the time ran out before the first step
        summary.update(zip(["final_total", "final_content", "final_style", "final_tv", "final_temporal"],
                           [float(v) for v in parts]))
    if temporal_on:
        summary["temporal_weight"] = a.temporal_weight
    if a.export:
        transformer_net.export_onnx(full_params(params), a.export, styles=export_styles)
        log(f"exported {a.export}")
        summary["onnx"] = a.export
        if a.preview:
            names_out = [e["name"] for e in export_styles] if (multi or a.add_style) else None
            summary["preview"] = make_previews(a.export, a.preview_images, a.preview, a.preview_size, names_out)
    with open(os.path.join(a.run_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log("summary: " + json.dumps(summary))


def _is_norm_param(k, arch=transformer_net.DEFAULT_ARCH):
    """True for an instance norm's `scale` / `bias` (the per-style parameters)."""
    return k.rsplit(".", 1)[0] in transformer_net.norm_names(arch)


def init_arch(path):
    """The architecture of the network in an --init file (params .npz or exported ONNX)."""
    try:
        return transformer_net.arch_of(load_vgg(path), exact=False)
    except ValueError:
        raise SystemExit(f"train: error: {path} is not a TransformerNet of any known architecture "
                         f"({', '.join(transformer_net.ARCHS)})")


def make_previews(onnx_path, images, out_dir, long_side, style_names=None):
    """Stylise `images` with the exported ONNX in onnxruntime (proves the export) and write
    each result plus one contact sheet (top row inputs, bottom row outputs). For a multi-style
    model (`style_names`, in the model's order) every image is stylised with every style (one-hot
    weights): files IMAGE_STYLE.jpg, and a contact sheet with one row per style below the inputs,
    each labelled with its style's name."""
    import onnxruntime as ort
    from PIL import Image, ImageDraw
    os.makedirs(out_dir, exist_ok=True)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    to_img = lambda t: Image.fromarray(np.clip(t[0].transpose(1, 2, 0), 0, 255).round().astype(np.uint8))
    if style_names is not None:
        return _multi_previews(sess, images, out_dir, long_side, style_names, to_img, Image, ImageDraw)
    pairs = []
    for path in images:
        x = load_image(path, long_side)
        y = sess.run(["output"], {"input": x})[0]
        src, out = to_img(x), to_img(y)
        out.save(os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] + ".jpg"), quality=90)
        pairs.append((src, out))
    if not pairs:
        return None
    width = sum(s.width for s, _ in pairs)
    height = max(s.height for s, _ in pairs)
    sheet = Image.new("RGB", (width, 2 * height), "white")
    x = 0
    for src, out in pairs:
        sheet.paste(src, (x, 0))
        sheet.paste(out, (x, height))
        x += src.width
    sheet_path = os.path.join(out_dir, "contact_sheet.jpg")
    sheet.save(sheet_path, quality=85)
    log(f"previews: {len(pairs)} images and {sheet_path}")
    return sheet_path


def _multi_previews(sess, images, out_dir, long_side, style_names, to_img, Image, ImageDraw):
    S = len(style_names)
    columns = []                      # per image: [input, output of style 0, style 1, ...]
    for path in images:
        x = load_image(path, long_side)
        col = [to_img(x)]
        for i, name in enumerate(style_names):
            y = sess.run(["output"], {"input": x, "style": np.eye(S, dtype=np.float32)[i]})[0]
            col.append(to_img(y))
            stem = os.path.splitext(os.path.basename(path))[0]
            col[-1].save(os.path.join(out_dir, f"{stem}_{name}.jpg"), quality=90)
        columns.append(col)
    if not columns:
        return None
    label_w = 8 + 7 * max(len(n) for n in style_names + ["input"])   # the default font: ~6 px a character
    width = label_w + sum(c[0].width for c in columns)
    height = max(c[0].height for c in columns)
    sheet = Image.new("RGB", (width, (S + 1) * height), "white")
    draw = ImageDraw.Draw(sheet)
    for r, label in enumerate(["input"] + list(style_names)):
        draw.text((4, r * height + height // 2 - 5), label, fill="black")
    x = label_w
    for col in columns:
        for r, im in enumerate(col):
            sheet.paste(im, (x, r * height))
        x += col[0].width
    sheet_path = os.path.join(out_dir, "contact_sheet.jpg")
    sheet.save(sheet_path, quality=85)
    log(f"previews: {len(columns)} images x {S} styles and {sheet_path}")
    return sheet_path


def main(argv=None):
    ap = argparse.ArgumentParser(description="Johnson-style feed-forward style transfer training (JAX).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    ex = sub.add_parser("extract-vgg", help="copy conv_1..conv_10 of vgg16_features.onnx into an .npz")
    ex.add_argument("--vgg", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "vgg16_features.onnx"))
    ex.add_argument("--out", required=True)
    ex.add_argument("--half", action="store_true", help="store float16 (half the size)")
    ex.set_defaults(func=lambda a: extract_vgg(a.vgg, a.out, half=a.half))

    tr = sub.add_parser("train", help="train a transformer network for one or more style images")
    layers = lambda s: [int(t.strip().removeprefix("conv_")) for t in s.split(",")]
    tr.add_argument("--resume", metavar="RUN_DIR",
                    help="continue the run in RUN_DIR from its last checkpoint (state.npz), with its "
                         "settings (args.json), exactly as if it had not stopped; only "
                         + ", ".join("--" + k.replace("_", "-") for k in RESUME_OVERRIDES) + " may be given, "
                         "and " + ", ".join("--" + k.replace("_", "-") for k in RESUME_RECIPE)
                         + " as a logged change of recipe from the checkpoint on")
    tr.add_argument("--data", help="folder of training photos")
    tr.add_argument("--style", nargs="+", help="style image(s); more than one trains a multi-style network")
    tr.add_argument("--multi", action="store_true",
                    help="train a multi-style network (style input and metadata) even for one --style")
    tr.add_argument("--catalog", help="paintings catalogue (models/paintings.json): style names and credits "
                                      "by file name (default name: the file name's stem)")
    tr.add_argument("--add-style", metavar="IMAGE",
                    help="extend the multi-style network of --init by this style: trains only its "
                         "instance-norm row, everything else frozen")
    tr.add_argument("--arch", choices=list(transformer_net.ARCHS),
                    help="network architecture: standard (Johnson et al., 1.68 M parameters) or light "
                         "(real-time on CPUs; see models/README.md); default: the --init network's, "
                         "else standard")
    tr.add_argument("--vgg", help=".npz from extract-vgg, or vgg16_features.onnx")
    tr.add_argument("--style-size", type=int, default=384, help="style image long side (px)")
    tr.add_argument("--photo-size", type=int, default=512, help="photos' short side when loaded (px)")
    tr.add_argument("--crop", type=int, default=256, help="training crop side (px)")
    tr.add_argument("--min-scale", type=float, default=0.5,
                    help="smallest crop window as a fraction of --photo-size (scale jitter)")
    tr.add_argument("--batch", type=int, default=8)
    tr.add_argument("--content-layer", type=lambda s: layers(s)[0], default=4)
    tr.add_argument("--style-layers", type=layers, default=[2, 4, 7, 10])
    tr.add_argument("--content-weight", type=float, default=1.0)
    tr.add_argument("--style-weight", type=float, default=5.0)
    tr.add_argument("--tv-weight", type=float, default=1e-6)
    tr.add_argument("--style-norm", choices=["mean", "sum", "relative"], default="mean")
    tr.add_argument("--style-scale", nargs="+", metavar="NAME=FACTOR",
                    help="multi-style: multiply the style term of the named styles by FACTOR (others "
                         "1), to trade style against content per style; the per-style losses logged "
                         "and in style_losses.csv are before this factor")
    tr.add_argument("--temporal-weight", type=float, default=0.0,
                    help="weight of the training-time stability term (Wang et al. 2020): mean squared "
                         "|T(warp(x) + n) - warp(T(x))| over a random smooth warp; 0 (default) = off; "
                         "video models: 50 (see models/README.md)")
    tr.add_argument("--temporal-motion", type=float, default=2.0,
                    help="largest displacement (px) of each part of the random warp: local field, "
                         "translation, rotation and zoom")
    tr.add_argument("--temporal-noise", type=float, default=2.0,
                    help="standard deviation (0..255 levels) of the Gaussian noise added to the warped input")
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--iters", type=int, help="stop after this many iterations")
    tr.add_argument("--minutes", type=float, help="stop after this much wall-clock time (from start)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--init", help="start from a params .npz checkpoint or an exported .onnx "
                                   "(single- or multi-style)")
    tr.add_argument("--run-dir", default="run", help="losses.csv, params.npz, summary.json go here")
    tr.add_argument("--log-every", type=int, default=50)
    tr.add_argument("--checkpoint-every", type=int, default=1000,
                    help="write params.npz and the resumable state.npz every N iterations")
    tr.add_argument("--checkpoint-minutes", type=float, default=5.0,
                    help="... and at least every this many minutes (and at SIGTERM / SIGINT)")
    tr.add_argument("--export", help="write the trained network as ONNX here")
    tr.add_argument("--preview", help="folder for stylised --preview-images (needs --export)")
    tr.add_argument("--preview-images", nargs="*", default=[])
    tr.add_argument("--preview-size", type=int, default=512, help="previews' long side (px)")
    tr.set_defaults(func=train)
    argv = sys.argv[1:] if argv is None else argv
    a = ap.parse_args(argv)
    if getattr(a, "resume", None):
        given = [act.dest for act in tr._actions
                 if any(t == o or t.startswith(o + "=") for o in act.option_strings for t in argv)]
        a = resume_settings(a, given)
    a.func(a)


if __name__ == "__main__":
    main()
