#!/usr/bin/env python3
"""Static int8 quantisation of a feed-forward style network for CPUs.

    python models/quantize.py MODEL.onnx -o MODEL.int8.onnx --calib TRAIN_PHOTOS_DIR

ONNX Runtime's static quantisation (`onnxruntime.quantization.quantize_static`) in QDQ format:
weights int8 per output channel, activations uint8 with ranges calibrated on crops of photos,
convolutions only (everything between them, instance norms included, stays float32). ONNX
Runtime's CPU provider fuses each DequantizeLinear -> Conv -> QuantizeLinear into an int8
QLinearConv, which CPUs with VNNI (AVX-512 or AVX) run much faster than a float32 conv.

Calibration photos must come from the training set, never from the photos used to judge the
result. Each calibration image is a seeded random crop of one photo, resized to a random long
side within `--size`; `--count` photos are drawn (seeded) from `--calib`. A multi-style model
(second input `style`, float32 [S]) is calibrated with one-hot style weights cycling over all S
styles, so every style's activation ranges are covered.

`--keep-float` leaves convs in float32 (node names, or `first` / `last` for the first and last
conv of the graph); the default keeps the first conv, the one that costs by far the most quality
in int8. `--blocked` rewrites convs (default: the last) to run on 4x4 pixel blocks, which makes a
conv with few output channels (the 3-channel 9x9 output conv) fast, in float32 and in int8.
Each conv's input QuantizeLinear is then moved in front of the reflection pads and nearest
upsamplings that feed it, so those copy uint8 instead of float32 (the same output, bit for bit).
The measurements behind these choices are in models/README.md, "int8 models".

The output keeps the model's metadata (`vstyle.styles`, ...) and adds `vstyle.precision` =
"int8" and `vstyle.quantization` (the recipe, JSON). H and W stay dynamic.
"""
import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile

import numpy as np

PHOTO_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
METHODS = ("minmax", "entropy", "percentile")
DEFAULT_METHOD = "percentile"
DEFAULT_KEEP_FLOAT = "first"
DEFAULT_SIZE = "256..512"
DEFAULT_OPS = "Conv"
DEFAULT_BLOCKED = "last"
META_PRECISION = "vstyle.precision"
META_RECIPE = "vstyle.quantization"


def list_photos(folder):
    """The image files directly in `folder`, sorted by name."""
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(PHOTO_EXTS))
    if not names:
        raise SystemExit(f"quantize: no photos ({', '.join(PHOTO_EXTS)}) in {folder}")
    return [os.path.join(folder, n) for n in names]


def parse_size(text):
    """`256..512` -> (256, 512); `384` -> (384, 384)."""
    lo, sep, hi = text.partition("..")
    lo, hi = int(lo), int(hi) if sep else int(lo)
    if not 16 <= lo <= hi:
        raise ValueError(f"--size: need 16 <= low <= high, got {text!r}")
    return lo, hi


def calibration_images(photos, count, size=(256, 512), seed=0, fixed=None):
    """`count` float32 [1,3,h,w] RGB 0..255 arrays: seeded crops of seeded picks from `photos`.

    Photos are drawn without replacement (cycled when `count` exceeds them). Each crop covers
    60-100 % of each side at a random place, then is resized (bicubic) to a long side drawn in
    `size`, both sides rounded to multiples of 4; or to `fixed` = (h, w) for a fixed-size model.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(photos))
    picks = [photos[order[i % len(photos)]] for i in range(count)]
    images = []
    for path in picks:
        with Image.open(path) as im:
            im = im.convert("RGB")
            W, H = im.size
            cw, ch = (max(8, int(round(s * rng.uniform(0.6, 1.0)))) for s in (W, H))
            x0, y0 = int(rng.integers(0, W - cw + 1)), int(rng.integers(0, H - ch + 1))
            long_side = int(rng.integers(size[0], size[1] + 1))
            k = long_side / max(cw, ch)
            w, h = (max(16, int(round(s * k / 4)) * 4) for s in (cw, ch))
            if fixed:
                h, w = fixed
            crop = im.resize((w, h), Image.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch))
        images.append(np.asarray(crop, np.float32).transpose(2, 0, 1)[None].copy())
    return images


def model_inputs(model):
    """(image input name, style input name or None, number of styles or None, (H, W) when the
    image input has a fixed size else None)."""
    inits = {i.name for i in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in inits]
    image = [v for v in inputs if len(v.type.tensor_type.shape.dim) == 4]
    if len(image) != 1:
        raise SystemExit(f"quantize: expected one 4-D image input, found {[v.name for v in inputs]}")
    style = [v for v in inputs if v is not image[0]]
    hw = [d.dim_value for d in image[0].type.tensor_type.shape.dim[2:]]
    fixed = tuple(hw) if all(hw) else None
    if not style:
        return image[0].name, None, None, fixed
    if len(style) != 1 or len(style[0].type.tensor_type.shape.dim) != 1:
        raise SystemExit(f"quantize: expected at most one extra input `style` [S], found {[v.name for v in style]}")
    S = style[0].type.tensor_type.shape.dim[0].dim_value
    if not S:
        raise SystemExit("quantize: the style input needs a fixed size S")
    return image[0].name, style[0].name, S, fixed


class PhotoReader:
    """Calibration data reader: one image per step, with one-hot style weights cycling over the
    styles of a multi-style model. Supports `set_range`, so the calibrator can take one image at a
    time (histograms merged as they come; images of different sizes)."""

    def __init__(self, images, image_name, style_name=None, n_styles=None):
        self.feeds = []
        for i, x in enumerate(images):
            feed = {image_name: x}
            if style_name:
                feed[style_name] = np.eye(n_styles, dtype=np.float32)[i % n_styles]
            self.feeds.append(feed)
        self.set_range(0, len(self.feeds))

    def __len__(self):
        return len(self.feeds)

    def set_range(self, start_index, end_index):
        self._it = iter(self.feeds[start_index:end_index])

    def get_next(self):
        return next(self._it, None)


def conv_nodes(model):
    return [n for n in model.graph.node if n.op_type == "Conv"]


def resolve_nodes(model, spec, option="--keep-float"):
    """Node names from a `--keep-float` / `--blocked` list (comma list; `first` / `last` = the
    first / last conv in graph order)."""
    convs = conv_nodes(model)
    if not convs:
        raise SystemExit("quantize: the model has no Conv node")
    names = []
    for item in [s.strip() for s in (spec or "").split(",") if s.strip()]:
        if item in ("first", "last"):
            item = (convs[0] if item == "first" else convs[-1]).name
        elif item not in {n.name for n in model.graph.node}:
            raise SystemExit(f"quantize: {option}: no node named {item!r} "
                             f"(convs: {', '.join(n.name for n in convs)})")
        if item not in names:
            names.append(item)
    return names


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return a.s.decode() if a.type == a.STRING else a
    return default


def _pure_copy(node):
    """Nodes that only copy input values around (so commute with an elementwise QuantizeLinear):
    Pad in reflect, edge or wrap mode, nearest-neighbour Resize, SpaceToDepth."""
    if node.op_type == "SpaceToDepth":
        return True
    if node.op_type == "Pad":
        return _attr(node, "mode", "constant") in ("reflect", "edge", "wrap")
    if node.op_type == "Resize":
        return _attr(node, "mode", "nearest") == "nearest"
    return False


def quantize_early(model):
    """Move each QuantizeLinear in front of the reflect Pads, nearest Resizes (and the blocked
    conv's edge Pad and SpaceToDepth) that feed it.

    quantize_static puts the activation QuantizeLinear right before the conv it feeds, so the
    network pads (and upsamples) float32 tensors and then quantises the padded, upsampled
    result. Those ops only copy values, so quantising first gives the same uint8 tensor
    bit for bit, while the copies move a quarter of the bytes and the QuantizeLinear runs on
    the smaller tensor (a quarter of the pixels before an upsampling). It also puts the
    QuantizeLinear right after the ReLU, which ONNX Runtime then folds into it. Returns the
    number of QuantizeLinear nodes moved.
    """
    g = model.graph
    nodes = list(g.node)              # one set of node objects, reordered in place below
    producer = {o: n for n in nodes for o in n.output}
    uses = {}
    for n in nodes:
        if n.op_type == "Shape":      # reads only the shape: fine with the uint8 tensor
            continue
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    outputs = {o.name for o in g.output}
    moved, retyped = 0, set()
    for q in [n for n in nodes if n.op_type == "QuantizeLinear"]:
        chain, t = [], q.input[0]
        while t in producer and _pure_copy(producer[t]) and uses.get(t) == 1 and t not in outputs:
            chain.insert(0, producer[t])
            t = producer[t].input[0]
        if not chain:
            continue
        early, late = f"{t}_quantized_early", q.output[0]
        while early in producer:
            early += "_"
        q.input[0], q.output[0] = t, early
        chain[0].input[0] = early
        retyped.update(o for n in chain for o in n.output)
        chain[-1].output[0] = late
        producer[early] = q
        nodes.remove(q)
        nodes.insert(next(i for i, n in enumerate(nodes) if n is chain[0]), q)
        moved += 1
    if moved:
        copies = []
        for n in nodes:               # copies first: clearing g.node may drop the originals
            copies.append(type(n)())
            copies[-1].CopyFrom(n)
        del g.node[:]
        g.node.extend(copies)
    keep = [v for v in g.value_info if v.name not in retyped]
    del g.value_info[:]
    g.value_info.extend(keep)
    return moved


def _ints(node, name, default):
    a = _attr(node, name)
    return list(a.ints) if a is not None else default


def _unblockable(model, conv):
    """Why `blocked_conv` cannot rewrite `conv` (None when it can)."""
    inits = {i.name for i in model.graph.initializer}
    k = _ints(conv, "kernel_shape", [])
    group = _attr(conv, "group")
    if len(k) != 2 or k[0] != k[1]:
        return "needs a square 2-D kernel"
    if conv.input[1] not in inits or (len(conv.input) > 2 and conv.input[2] and conv.input[2] not in inits):
        return "needs constant weights"
    if (_ints(conv, "strides", [1, 1]) != [1, 1] or _ints(conv, "dilations", [1, 1]) != [1, 1]
            or (group is not None and group.i != 1)):
        return "needs stride 1, no dilation, one group"
    if any(_ints(conv, "pads", [0, 0, 0, 0])) or _attr(conv, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return "needs an unpadded conv (padding done by a Pad node before it)"
    return None


def blocked_conv(model, name, block=4):
    """Rewrite the k x k, stride-1, unpadded conv `name` to run on `block` x `block` pixel blocks.

    y = Conv(x, W) becomes Slice(DepthToSpace(Conv(SpaceToDepth(Pad(x)), W'))): the same sums
    (W' holds W's taps, rearranged, with zeros where a block's window runs past the k x k kernel),
    computed as a T x T conv with C*b^2 inputs and Co*b^2 outputs on an image b times smaller
    (T = ceil((b + k - 2) / b) + 1; 3 for 9x9 and b = 4). A conv with few output channels (the
    last 9x9 conv of a style network has 3) fills the CPU's vector lanes badly and is slow, in
    float32 and more so in int8; the blocked conv has Co*b^2 = 48 outputs and a deep K. The
    input is padded (edge) at the bottom and right up to whole blocks and the output cropped
    back, so any input size works. The new conv keeps the name `name`.
    """
    from onnx import helper, numpy_helper

    g = model.graph
    nodes = list(g.node)
    conv = next((n for n in nodes if n.name == name and n.op_type == "Conv"), None)
    if conv is None:
        raise SystemExit(f"quantize: --blocked: no Conv named {name!r}")
    why = _unblockable(model, conv)
    if why:
        raise SystemExit(f"quantize: --blocked {name}: {why}")
    inits = {i.name: i for i in g.initializer}
    W = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float32)
    Co, C, kh, kw = W.shape
    bias = (numpy_helper.to_array(inits[conv.input[2]]).astype(np.float32)
            if len(conv.input) > 2 and conv.input[2] else np.zeros(Co, np.float32))
    b, T = block, (block + kh - 2) // block + 1
    W2 = np.zeros((Co * b * b, C * b * b, T, T), np.float32)
    for oy in range(b):
        for ox in range(b):
            for iy in range(b):
                for ix in range(b):
                    for ty in range(T):
                        for tx in range(T):
                            ky, kx = b * ty + iy - oy, b * tx + ix - ox
                            if 0 <= ky < kh and 0 <= kx < kw:      # DCR / SpaceToDepth channel order
                                W2[(oy * b + ox) * Co:(oy * b + ox + 1) * Co,
                                   (iy * b + ix) * C:(iy * b + ix + 1) * C, ty, tx] = W[:, :, ky, kx]
    B2 = np.tile(bias, b * b)

    p = f"{name}.blocked"
    new_inits = {f"{p}.weight": W2, f"{p}.bias": B2,
                 f"{p}.k1": np.array([kh - 1], np.int64), f"{p}.b1": np.array([b - 1], np.int64),
                 f"{p}.b": np.array([b], np.int64), f"{p}.t1": np.array([T - 1], np.int64),
                 f"{p}.i2": np.array([2], np.int64), f"{p}.i4": np.array([4], np.int64),
                 f"{p}.zeros6": np.zeros(6, np.int64), f"{p}.zeros2": np.zeros(2, np.int64),
                 f"{p}.axes": np.array([2, 3], np.int64)}
    x, y = conv.input[0], conv.output[0]
    mk = lambda op, ins, out, **a: helper.make_node(op, ins, [out], name=out, **a)
    new = [
        mk("Shape", [x], f"{p}.shape"),
        mk("Slice", [f"{p}.shape", f"{p}.i2", f"{p}.i4"], f"{p}.in_hw"),
        mk("Sub", [f"{p}.in_hw", f"{p}.k1"], f"{p}.out_hw"),
        mk("Add", [f"{p}.out_hw", f"{p}.b1"], f"{p}.out_hw_up"),
        mk("Div", [f"{p}.out_hw_up", f"{p}.b"], f"{p}.out_blocks"),
        mk("Add", [f"{p}.out_blocks", f"{p}.t1"], f"{p}.in_blocks"),
        mk("Mul", [f"{p}.in_blocks", f"{p}.b"], f"{p}.in_hw_needed"),
        mk("Sub", [f"{p}.in_hw_needed", f"{p}.in_hw"], f"{p}.extra"),
        mk("Concat", [f"{p}.zeros6", f"{p}.extra"], f"{p}.pads", axis=0),
        mk("Pad", [x, f"{p}.pads"], f"{p}.pad", mode="edge"),
        mk("SpaceToDepth", [f"{p}.pad"], f"{p}.s2d", blocksize=b),
        helper.make_node("Conv", [f"{p}.s2d", f"{p}.weight", f"{p}.bias"], [f"{p}.conv"], name=name,
                         kernel_shape=[T, T]),
        mk("DepthToSpace", [f"{p}.conv"], f"{p}.d2s", blocksize=b, mode="DCR"),
        helper.make_node("Slice", [f"{p}.d2s", f"{p}.zeros2", f"{p}.out_hw", f"{p}.axes"], [y], name=f"{p}.crop"),
    ]
    at = nodes.index(conv)
    nodes[at:at + 1] = new
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in nodes for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep + [numpy_helper.from_array(v, n) for n, v in new_inits.items()])
    keep = [v for v in g.value_info if v.name != y]
    del g.value_info[:]
    g.value_info.extend(keep)
    return model


def quantize(model_path, out_path, calib_dir, count=32, size=DEFAULT_SIZE, method=DEFAULT_METHOD,
             keep_float=DEFAULT_KEEP_FLOAT, seed=0, ops=DEFAULT_OPS, activations="uint8",
             percentile=99.999, blocked=DEFAULT_BLOCKED, early=True, quiet=True):
    """Quantise `model_path` into `out_path`; returns the recipe dict written as metadata."""
    import onnx
    from onnxruntime import quantization as q

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    size_range = parse_size(size) if isinstance(size, str) else tuple(size)
    model = onnx.load(model_path)
    meta = {p.key: p.value for p in model.metadata_props}
    taken = {n.name for n in model.graph.node}
    for i, n in enumerate(model.graph.node):     # every node gets a name (--keep-float, the recipe)
        if not n.name:
            n.name = f"{n.op_type.lower()}_{i}"
            while n.name in taken:
                n.name += "_"
            taken.add(n.name)
    image_name, style_name, S, fixed = model_inputs(model)
    if style_name and "vstyle.styles" in meta and len(json.loads(meta["vstyle.styles"])) != S:
        raise SystemExit(f"quantize: metadata names {len(json.loads(meta['vstyle.styles']))} styles, input has {S}")
    float_nodes = resolve_nodes(model, keep_float)
    if {n.name for n in conv_nodes(model)} <= set(float_nodes):
        raise SystemExit("quantize: --keep-float leaves no conv to quantise")
    blocked_nodes = resolve_nodes(model, blocked, "--blocked")
    aliases = {s.strip() for s in (blocked or "").split(",")} & {"first", "last"}
    by_name = {n.name: n for n in conv_nodes(model)}
    if aliases:       # `first` / `last` only where the rewrite applies; named convs must be blockable
        named = {s.strip() for s in blocked.split(",")} - aliases
        blocked_nodes = [n for n in blocked_nodes
                         if n in named or (n in by_name and not _unblockable(model, by_name[n]))]
    for name in blocked_nodes:
        blocked_conv(model, name)
    op_types = [s.strip() for s in ops.split(",") if s.strip()]

    photos = list_photos(calib_dir)
    images = calibration_images(photos, count, size_range, seed, fixed)
    unit_range = meta.get("vstyle.value_range") == "0..1"      # models that take 0..1 pixels
    if unit_range:
        images = [x / np.float32(255) for x in images]
    reader = PhotoReader(images, image_name, style_name, S)
    act = {"uint8": q.QuantType.QUInt8, "int8": q.QuantType.QInt8}[activations]
    calib_method = {"minmax": q.CalibrationMethod.MinMax, "entropy": q.CalibrationMethod.Entropy,
                    "percentile": q.CalibrationMethod.Percentile}[method]
    extra = {"CalibStridedMinMax": 1}          # one image per calibration step (see PhotoReader)
    if method == "percentile":
        extra["CalibPercentile"] = percentile

    log = logging.getLogger()
    level = log.level
    if quiet:         # the calibrator logs and prints a line per step
        log.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as tmp, \
                contextlib.redirect_stdout(io.StringIO() if quiet else sys.stdout):
            tmp_in, tmp_out = os.path.join(tmp, "in.onnx"), os.path.join(tmp, "out.onnx")
            onnx.save(model, tmp_in)
            q.quantize_static(tmp_in, tmp_out, reader, quant_format=q.QuantFormat.QDQ,
                              op_types_to_quantize=op_types, per_channel=True,
                              activation_type=act, weight_type=q.QuantType.QInt8,
                              nodes_to_exclude=float_nodes, calibrate_method=calib_method,
                              extra_options=extra)
            out = onnx.load(tmp_out)
    finally:
        log.setLevel(level)
    if early:
        quantize_early(out)

    recipe = {
        "format": "QDQ", "activations": activations, "weights": "int8 per-channel", "ops": op_types,
        "calibration": {"method": method, "photos": count, "size": f"{size_range[0]}..{size_range[1]}",
                        "seed": seed, **({"percentile": percentile} if method == "percentile" else {}),
                        **({"styles": "one-hot, cycling"} if style_name else {})},
        "float": float_nodes, "blocked": blocked_nodes,
    }
    props = dict(meta)
    props[META_PRECISION] = "int8"
    props[META_RECIPE] = json.dumps(recipe, separators=(",", ":"))
    del out.metadata_props[:]
    onnx.helper.set_model_props(out, props)
    out.producer_name = model.producer_name or out.producer_name
    onnx.save(out, out_path)
    return recipe


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="float32 ONNX style network")
    ap.add_argument("-o", "--output", required=True, help="int8 ONNX file to write")
    ap.add_argument("--calib", required=True,
                    help="folder of calibration photos: training photos, never the evaluation ones")
    ap.add_argument("--count", type=int, default=32, help="calibration images (default 32)")
    ap.add_argument("--size", default=DEFAULT_SIZE,
                    help=f"long side of the calibration crops, LOW..HIGH or N (default {DEFAULT_SIZE})")
    ap.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                    help=f"activation range calibration (default {DEFAULT_METHOD})")
    ap.add_argument("--percentile", type=float, default=99.999, help="for --method percentile (default 99.999)")
    ap.add_argument("--keep-float", default=DEFAULT_KEEP_FLOAT,
                    help="convs left in float32: node names and/or first, last; '' quantises all "
                         f"(default {DEFAULT_KEEP_FLOAT})")
    ap.add_argument("--blocked", default=DEFAULT_BLOCKED,
                    help="convs rewritten to run on 4x4 pixel blocks (fast with few output channels): "
                         f"node names and/or first, last; '' for none (default {DEFAULT_BLOCKED})")
    ap.add_argument("--ops", default=DEFAULT_OPS, help=f"op types to quantise (default {DEFAULT_OPS})")
    ap.add_argument("--activations", choices=("uint8", "int8"), default="uint8",
                    help="activation type (default uint8, the fast one on x86)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the photo choice and crops (default 0)")
    args = ap.parse_args(argv)
    if args.count < 1:
        ap.error("--count must be >= 1")
    try:
        parse_size(args.size)
    except ValueError as e:
        ap.error(str(e))
    if os.path.abspath(args.output) == os.path.abspath(args.model):
        ap.error("the output must not be the input")
    recipe = quantize(args.model, args.output, args.calib, args.count, args.size, args.method,
                      args.keep_float, args.seed, args.ops, args.activations, args.percentile,
                      args.blocked)
    print(f"wrote {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB): {json.dumps(recipe)}")


if __name__ == "__main__":
    main()
