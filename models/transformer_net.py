"""Johnson et al. (2016) transformer network as plain parameters, a JAX forward pass and an ONNX export.

The layout follows pytorch/examples' fast_neural_style `TransformerNet`:

    conv1  9x9  3->32  s1  + IN + ReLU        (every conv: reflection padding of k//2, with bias)
    conv2  3x3 32->64  s2  + IN + ReLU
    conv3  3x3 64->128 s2  + IN + ReLU
    res1..res5: x + IN(conv(ReLU(IN(conv(x)))))   (3x3, 128 channels)
    up1    nearest x2, 3x3 128->64 + IN + ReLU
    up2    nearest x2, 3x3  64->32 + IN + ReLU
    conv4  9x9 32->3   s1  (no norm, no activation)

`--arch light` (ARCHS["light"]) is a network for real-time use on CPUs, 90 k parameters:

    conv1  9x9  3->16  s2  + IN + ReLU        (half resolution)
    conv2  3x3 16->64  s2  + IN + ReLU        (quarter resolution)
    res1..res5: as above, each conv depthwise-separable (3x3 depthwise 64, then 1x1 64->64)
    up1    nearest x2, 3x3 64->32 + IN + ReLU (half resolution)
    conv3  5x5 32->12, then DepthToSpace 2 -> 3 channels at full resolution (sub-pixel output)

No feature map is held at full resolution. The architecture is found from the parameters'
names and shapes (`arch_of`); exports record it in the metadata (`vstyle.arch`).

Parameters are a flat dict name -> float32 numpy array (`conv1.weight` OIHW, `conv1.bias`,
`in1.scale`, `in1.bias`, ...), so training (JAX), checkpoints (.npz) and export share one format.

Multi-style networks (conditional instance normalisation, Dumoulin et al. 2017, "A Learned
Representation for Artistic Style"): every instance norm's `scale` and `bias` is a table
[S, C], one row per style, and everything else is shared. A style is chosen per image by a weight
vector over the S styles (one-hot, or a convex mix); the norm then uses `weights @ table`. The
ONNX export takes these weights as a second input `style` [S]. With S = 1 and weight 1 the
network computes exactly what the single-style network with that row computes.

The input is divided by 255 at entry (so the first conv sees unit-scale values); the last conv
outputs 0..255 directly. Scaling the output by 255 instead would multiply the last layer's
effective learning rate by 255, and Adam's first steps then blow the image up. The output is not
clamped.

Frames whose sides are not multiples of 4 come back 1-3 pixels larger from the two stride-2 convs
and the two upsamplings; the output is cropped to the input's H and W so any size works.
"""
import functools
import json

import numpy as np

EPS = 1e-5  # InstanceNorm epsilon (PyTorch's default, also ONNX's)

# Architectures. Every conv is (name, in channels, out channels, kernel, stride, kind), kind
# "full" (an ordinary conv) or "sep" (depthwise-separable: a k x k depthwise conv, no bias,
# `NAME.dw.weight` [Cin,1,k,k], then a 1x1 conv `NAME.weight` [Cout,Cin,1,1] + `NAME.bias`).
#   head: convs + IN + ReLU (norm `inK` for `convK`)
#   res:  (blocks, channels, kind): x + IN(conv(ReLU(IN(conv(x)))))  (3x3; norms resR.in1, resR.in2)
#   tail: nearest x2 upsampling, conv + IN + ReLU (norm `NAME.in`)
#   out:  the last conv, no norm, no activation (its bias starts at 127.5)
#   subpixel (optional, default 1): r > 1 makes the last conv emit Cout*r*r channels, rearranged
#         into r x r pixel blocks (DepthToSpace, CRD order; Shi et al. 2016): the output has r
#         times the last feature map's resolution, and no full-resolution feature map is needed.
#         Initialised with all r*r sub-pixel kernels equal (ICNR, Aitken et al. 2017), so the
#         untrained output has no checkerboard.
ARCHS = {
    # Johnson et al. 2016 as in pytorch/examples: 1.68 M parameters.
    "standard": {
        "head": [("conv1", 3, 32, 9, 1, "full"), ("conv2", 32, 64, 3, 2, "full"), ("conv3", 64, 128, 3, 2, "full")],
        "res": (5, 128, "full"),
        "tail": [("up1", 128, 64, 3, 1, "full"), ("up2", 64, 32, 3, 1, "full")],
        "out": ("conv4", 32, 3, 9, 1, "full"),
    },
    # For real-time CPU use (see models/README.md, "The light architecture").
    "light": {
        "head": [("conv1", 3, 16, 9, 2, "full"), ("conv2", 16, 64, 3, 2, "full")],
        "res": (5, 64, "sep"),
        "tail": [("up1", 64, 32, 3, 1, "full")],
        "out": ("conv3", 32, 3, 5, 1, "full"),
        "subpixel": 2,
    },
}
DEFAULT_ARCH = "standard"
META_ARCH = "vstyle.arch"


def _spec(arch):
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ARCHS)})")
    return ARCHS[arch]


def _conv_specs(arch=DEFAULT_ARCH):
    """Every conv as (name, cin, cout, k, stride, kind, norm name or None), in network order."""
    a = _spec(arch)
    specs = [(n, ci, co, k, s, kind, n.replace("conv", "in")) for n, ci, co, k, s, kind in a["head"]]
    blocks, ch, kind = a["res"]
    for r in range(1, blocks + 1):
        specs += [(f"res{r}.conv1", ch, ch, 3, 1, kind, f"res{r}.in1"),
                  (f"res{r}.conv2", ch, ch, 3, 1, kind, f"res{r}.in2")]
    specs += [(n, ci, co, k, s, kind, f"{n}.in") for n, ci, co, k, s, kind in a["tail"]]
    n, ci, co, k, s, kind = a["out"]
    r = a.get("subpixel", 1)
    specs.append((n, ci, co * r * r, k, s, kind, None))
    return specs


def norm_names(arch=DEFAULT_ARCH):
    """The instance-norm layers' names (`in1`, ..., `up2.in`), in network order."""
    return [norm for *_, norm in _conv_specs(arch) if norm]


def init_params(seed=0, n_styles=None, arch=DEFAULT_ARCH):
    """Seeded init: PyTorch's default conv init (uniform +-1/sqrt(fan_in)), IN scale 1 / bias 0.

    The last conv's bias starts at 127.5, so the untrained net outputs a calm mid-grey (plus
    noise of about +-1) rather than values around 0; training then only has to add detail.

    `n_styles` = S makes a multi-style network: every `NORM.scale` / `NORM.bias` is [S, C]
    (ones / zeros) instead of [C]. The convs are the same as the single-style init's, seed for seed.
    """
    rng = np.random.default_rng(seed)
    p = {}
    for name, cin, cout, k, _, kind, norm in _conv_specs(arch):
        if kind == "sep":
            bound = 1.0 / np.sqrt(k * k)
            p[f"{name}.dw.weight"] = rng.uniform(-bound, bound, (cin, 1, k, k)).astype(np.float32)
            k_pw = 1
        else:
            k_pw = k
        bound = 1.0 / np.sqrt(cin * k_pw * k_pw)
        p[f"{name}.weight"] = rng.uniform(-bound, bound, (cout, cin, k_pw, k_pw)).astype(np.float32)
        p[f"{name}.bias"] = rng.uniform(-bound, bound, (cout,)).astype(np.float32)
        if norm:
            shape = (cout,) if n_styles is None else (n_styles, cout)
            p[f"{norm}.scale"] = np.ones(shape, np.float32)
            p[f"{norm}.bias"] = np.zeros(shape, np.float32)
    spec = _spec(arch)
    out, r = spec["out"][0], spec.get("subpixel", 1)
    if r > 1:    # ICNR: every sub-pixel position starts with the same kernel and bias
        for suffix in (".weight", ".bias"):
            v = p[out + suffix]
            p[out + suffix] = np.repeat(v[:v.shape[0] // (r * r)], r * r, axis=0)
    p[f"{out}.bias"][:] = 127.5
    return p


def n_styles(params):
    """S for a multi-style network (IN tables [S, C]), None for a single-style one."""
    shape = np.shape(params["in1.scale"])
    return shape[0] if len(shape) == 2 else None


@functools.lru_cache(maxsize=None)
def _shapes(arch):
    return {k: v.shape for k, v in init_params(0, arch=arch).items()}


def arch_of(params, exact=True):
    """The architecture whose parameter names and conv shapes `params` has (the IN tables may be
    [C] or [S, C]); ValueError when none fits. `exact=False` allows further entries (an ONNX
    file's other initializers)."""
    for arch in ARCHS:
        want = _shapes(arch)
        if (set(want) == set(params) if exact else set(want) <= set(params)) and all(tuple(np.shape(params[k])[-len(v):]) == v for k, v in want.items()):
            return arch
    raise ValueError("the parameters fit no known architecture (" + ", ".join(ARCHS) + ")")


def n_parameters(arch=DEFAULT_ARCH, n_styles=None):
    """Parameter count of an architecture (with S styles: the IN tables counted S times)."""
    return int(sum(np.size(v) for v in init_params(0, n_styles, arch).values()))


def forward(params, x, style=None):
    """JAX forward pass: x float32 [N,3,H,W] RGB 0..255 -> same shape, 0..255 (unclamped).

    The architecture is the one `params` has (`arch_of`). For a multi-style network `style`
    holds the style weights, float32 [N, S] (one row per image: one-hot, or any mix) or [S] (the
    same for every image); each instance norm then uses scale = style @ scale_table ([N, C]), and
    the same for its bias. Ignored (must be None) for a single-style network.
    """
    import jax
    import jax.numpy as jnp

    spec = _spec(arch_of(params))
    multi = n_styles(params) is not None
    if multi:
        if style is None:
            raise ValueError("forward: a multi-style network needs `style` weights [N, S]")
        style = jnp.asarray(style, jnp.float32)
        if style.ndim == 1:
            style = jnp.broadcast_to(style[None], (x.shape[0], style.shape[0]))
    elif style is not None:
        raise ValueError("forward: `style` given for a single-style network")

    def conv(h, name, k, stride=1, kind="full"):
        h = jnp.pad(h, ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)), mode="reflect")
        if kind == "sep":
            h = jax.lax.conv_general_dilated(h, params[f"{name}.dw.weight"], (stride, stride), "VALID",
                                             dimension_numbers=("NCHW", "OIHW", "NCHW"),
                                             feature_group_count=h.shape[1])
            stride = 1
        h = jax.lax.conv_general_dilated(h, params[f"{name}.weight"], (stride, stride), "VALID",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return h + params[f"{name}.bias"][None, :, None, None]

    def inorm(h, name):
        mean = h.mean(axis=(2, 3), keepdims=True)
        var = ((h - mean) ** 2).mean(axis=(2, 3), keepdims=True)
        h = (h - mean) * jax.lax.rsqrt(var + EPS)
        if multi:
            scale, bias = style @ params[f"{name}.scale"], style @ params[f"{name}.bias"]   # [N, C]
            return h * scale[:, :, None, None] + bias[:, :, None, None]
        return h * params[f"{name}.scale"][None, :, None, None] + params[f"{name}.bias"][None, :, None, None]

    H, W = x.shape[2], x.shape[3]
    h = x / 255.0
    for name, _, _, k, stride, kind in spec["head"]:
        h = jax.nn.relu(inorm(conv(h, name, k, stride, kind), name.replace("conv", "in")))
    blocks, _, kind = spec["res"]
    for r in range(1, blocks + 1):
        y = jax.nn.relu(inorm(conv(h, f"res{r}.conv1", 3, 1, kind), f"res{r}.in1"))
        h = h + inorm(conv(y, f"res{r}.conv2", 3, 1, kind), f"res{r}.in2")
    for name, _, _, k, _, kind in spec["tail"]:
        h = jnp.repeat(jnp.repeat(h, 2, axis=2), 2, axis=3)
        h = jax.nn.relu(inorm(conv(h, name, k, 1, kind), f"{name}.in"))
    name, _, _, k, _, kind = spec["out"]
    h = conv(h, name, k, 1, kind)
    r = spec.get("subpixel", 1)
    if r > 1:    # DepthToSpace, CRD: channel c*r*r + i*r + j goes to pixel (i, j) of each block
        n, c, hh, ww = h.shape
        h = h.reshape(n, c // (r * r), r, r, hh, ww).transpose(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), hh * r, ww * r)
    return h[:, :, :H, :W]


STYLE_KEYS = ("name", "title", "artist", "year", "source", "credit")   # metadata order, name required
META_STYLES = "vstyle.styles"
META_RANGE = "vstyle.value_range"


def style_entry(style):
    """One style's metadata object: a name string, or a dict with `name` and optional string
    fields (title, artist, year, source, credit; other string fields are kept after those)."""
    if isinstance(style, str):
        style = {"name": style}
    name = style.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"style metadata needs a non-empty string `name`: {style!r}")
    extra = sorted(k for k in style if k not in STYLE_KEYS)
    entry = {}
    for k in [k for k in STYLE_KEYS if k in style] + extra:
        if style[k] is None:
            continue
        if not isinstance(style[k], str):
            raise ValueError(f"style {name!r}: field {k!r} must be a string, got {style[k]!r}")
        entry[k] = style[k]
    return entry


def styles_json(styles):
    """The `vstyle.styles` metadata value: a JSON array, one object per style in input order."""
    entries = [style_entry(s) for s in styles]
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"style names must be unique: {names}")
    return json.dumps(entries, ensure_ascii=False, separators=(",", ":"))


def read_metadata(path_or_model):
    """metadata_props of an ONNX file (or loaded model) as a dict."""
    import onnx
    m = onnx.load(path_or_model, load_external_data=False) if isinstance(path_or_model, str) else path_or_model
    return {p.key: p.value for p in m.metadata_props}


def read_styles(path_or_model):
    """The list of style objects in a model's `vstyle.styles` metadata, or None."""
    meta = read_metadata(path_or_model)
    return json.loads(meta[META_STYLES]) if META_STYLES in meta else None


def export_onnx(params, path, styles=None, metadata=None):
    """Write the network as ONNX (ir_version 8, opset 17): input `input`, output `output`,
    float32 [N,3,H,W] RGB 0..255 with N, H, W dynamic. Deterministic bytes for given arguments.

    A multi-style network (IN tables [S, C]) gets a second input `style`, float32 [S]: the style
    weights, used as given (one-hot picks a style; weights summing to 1 mix them). Each instance
    norm's scale is Reshape(MatMul(Unsqueeze(style, [0]), table), [C]) (the same for its bias),
    fed to the standard InstanceNormalization op.

    `styles` (one entry per style, in table order: a name, or a dict with `name` and optional
    `title`, `artist`, `year`, `source`, `credit`) is written as metadata: `vstyle.styles` = JSON
    array of those objects, `vstyle.value_range` = "0..255", `vstyle.arch` = the architecture
    (`arch_of`); then `metadata`'s entries (string values; others are JSON-encoded), sorted by
    key. A multi-style network without `styles` gets the names style_0, style_1, ... A network of
    another architecture than the standard one always gets `vstyle.arch`. With neither argument,
    a single-style standard network's file is as it always was: no metadata.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    arch = arch_of(params)
    spec = _spec(arch)
    S = n_styles(params)
    if S is not None and styles is None:
        styles = [f"style_{i}" for i in range(S)]
    if styles is not None and len(styles) != (S or 1):
        raise ValueError(f"export_onnx: {len(styles)} style entries for a network of {S or 1} style(s)")
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, inputs, out, **attrs):
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    for name in sorted(params):  # sorted: stable initializer order -> identical bytes on re-export
        const(name, np.asarray(params[name], np.float32))
    const("inv255", np.array(1.0 / 255.0, np.float32))
    for p in sorted({k // 2 for *_, k, _, _, _ in _conv_specs(arch)}):
        const(f"pads{p}", np.array([0, 0, p, p, 0, 0, p, p], np.int64))
    const("up_scales", np.array([1, 1, 2, 2], np.float32))
    if S is not None:
        const("axes0", np.array([0], np.int64))
        const("flat", np.array([-1], np.int64))
        node("Unsqueeze", ["style", "axes0"], "style_row")       # [S] -> [1, S]

    def conv(h, name, k, stride=1, kind="full"):
        p = node("Pad", [h, f"pads{k // 2}"], f"{name}.pad", mode="reflect")
        if kind == "sep":
            channels = int(np.shape(params[f"{name}.dw.weight"])[0])
            p = node("Conv", [p, f"{name}.dw.weight"], f"{name}.dw", kernel_shape=[k, k],
                     strides=[stride, stride], group=channels)
            k, stride = 1, 1
        return node("Conv", [p, f"{name}.weight", f"{name}.bias"], name,
                    kernel_shape=[k, k], strides=[stride, stride])

    def style_mix(norm, what):
        """[C] = the style weights times the [S, C] table of `norm`'s scale or bias."""
        row = node("MatMul", ["style_row", f"{norm}.{what}"], f"{norm}.{what}_mix")     # [1, C]
        return node("Reshape", [row, "flat"], f"{norm}.{what}_c")                        # [C]

    def inorm_relu(h, norm, relu=True):
        if S is None:
            scale, bias = f"{norm}.scale", f"{norm}.bias"
        else:
            scale, bias = style_mix(norm, "scale"), style_mix(norm, "bias")
        h = node("InstanceNormalization", [h, scale, bias], norm, epsilon=EPS)
        return node("Relu", [h], f"{norm}.relu") if relu else h

    h = node("Mul", ["input", "inv255"], "scaled_input")
    for name, _, _, k, stride, kind in spec["head"]:
        h = inorm_relu(conv(h, name, k, stride, kind), name.replace("conv", "in"))
    blocks, _, kind = spec["res"]
    for r in range(1, blocks + 1):
        y = inorm_relu(conv(h, f"res{r}.conv1", 3, 1, kind), f"res{r}.in1")
        y = inorm_relu(conv(y, f"res{r}.conv2", 3, 1, kind), f"res{r}.in2", relu=False)
        h = node("Add", [h, y], f"res{r}.out")
    for name, _, _, k, _, kind in spec["tail"]:
        # asymmetric + floor: output pixel i copies input pixel i // 2 (plain nearest x2).
        h = node("Resize", [h, "", "up_scales"], f"{name}.upsample", mode="nearest",
                 coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        h = inorm_relu(conv(h, name, k, 1, kind), f"{name}.in")
    name, _, _, k, _, kind = spec["out"]
    h = conv(h, name, k, 1, kind)
    if spec.get("subpixel", 1) > 1:
        h = node("DepthToSpace", [h], f"{name}.subpixel", blocksize=spec["subpixel"], mode="CRD")
    # Crop to the input's H, W (see module docstring).
    shape = node("Shape", ["input"], "input_shape")
    hw = node("Slice", [shape, const("i2", np.array([2], np.int64)), const("i4", np.array([4], np.int64))], "input_hw")
    h = node("Slice", [h, const("zeros2", np.array([0, 0], np.int64)), hw, const("axes_hw", np.array([2, 3], np.int64))],
             "output")

    io = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3, "H", "W"])
    inputs = [io("input")]
    if S is not None:
        inputs.append(helper.make_tensor_value_info("style", TensorProto.FLOAT, [S]))
    graph = helper.make_graph(nodes, "transformer_net", inputs, [io("output")], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="vstyle")
    model.ir_version = 8
    props = {}
    if styles is not None:
        props[META_STYLES] = styles_json(styles)
        props[META_RANGE] = "0..255"
    if styles is not None or arch != DEFAULT_ARCH:
        props[META_ARCH] = arch
    for k in sorted(metadata or {}):
        v = metadata[k]
        props[k] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    if props:
        helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    onnx.save(model, path)
