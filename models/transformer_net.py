"""Johnson et al. (2016) transformer network as plain parameters, a JAX forward pass and an ONNX export.

The layout follows pytorch/examples' fast_neural_style `TransformerNet`:

    conv1  9x9  3->32  s1  + IN + ReLU        (every conv: reflection padding of k//2, with bias)
    conv2  3x3 32->64  s2  + IN + ReLU
    conv3  3x3 64->128 s2  + IN + ReLU
    res1..res5: x + IN(conv(ReLU(IN(conv(x)))))   (3x3, 128 channels)
    up1    nearest x2, 3x3 128->64 + IN + ReLU
    up2    nearest x2, 3x3  64->32 + IN + ReLU
    conv4  9x9 32->3   s1  (no norm, no activation)

Parameters are a flat dict name -> float32 numpy array (`conv1.weight` OIHW, `conv1.bias`,
`in1.scale`, `in1.bias`, ...), so training (JAX), checkpoints (.npz) and export share one format.

The input is divided by 255 at entry (so the first conv sees unit-scale values); the last conv
outputs 0..255 directly. Scaling the output by 255 instead would multiply the last layer's
effective learning rate by 255, and Adam's first steps then blow the image up. The output is not
clamped.

Frames whose sides are not multiples of 4 come back 1-3 pixels larger from the two stride-2 convs
and the two upsamplings; the output is cropped to the input's H and W so any size works.
"""
import numpy as np

EPS = 1e-5  # InstanceNorm epsilon (PyTorch's default, also ONNX's)

# (name, in channels, out channels, kernel, stride, upsample first, instance norm + ReLU)
_HEAD = [("conv1", 3, 32, 9, 1, False), ("conv2", 32, 64, 3, 2, False), ("conv3", 64, 128, 3, 2, False)]
_TAIL = [("up1", 128, 64, 3, 1, True), ("up2", 64, 32, 3, 1, True)]
N_RES = 5


def _conv_specs():
    """Every conv as (name, cin, cout, k, norm name or None)."""
    specs = [(n, ci, co, k, n.replace("conv", "in")) for n, ci, co, k, _, _ in _HEAD]
    for r in range(1, N_RES + 1):
        specs += [(f"res{r}.conv1", 128, 128, 3, f"res{r}.in1"), (f"res{r}.conv2", 128, 128, 3, f"res{r}.in2")]
    specs += [(n, ci, co, k, f"{n}.in") for n, ci, co, k, _, _ in _TAIL]
    specs.append(("conv4", 32, 3, 9, None))
    return specs


def init_params(seed=0):
    """Seeded init: PyTorch's default conv init (uniform +-1/sqrt(fan_in)), IN scale 1 / bias 0.

    The last conv's bias starts at 127.5, so the untrained net outputs a calm mid-grey (plus
    noise of about +-1) rather than values around 0; training then only has to add detail.
    """
    rng = np.random.default_rng(seed)
    p = {}
    for name, cin, cout, k, norm in _conv_specs():
        bound = 1.0 / np.sqrt(cin * k * k)
        p[f"{name}.weight"] = rng.uniform(-bound, bound, (cout, cin, k, k)).astype(np.float32)
        p[f"{name}.bias"] = rng.uniform(-bound, bound, (cout,)).astype(np.float32)
        if norm:
            p[f"{norm}.scale"] = np.ones(cout, np.float32)
            p[f"{norm}.bias"] = np.zeros(cout, np.float32)
    p["conv4.bias"][:] = 127.5
    return p


def forward(params, x):
    """JAX forward pass: x float32 [N,3,H,W] RGB 0..255 -> same shape, 0..255 (unclamped)."""
    import jax
    import jax.numpy as jnp

    def conv(h, name, k, stride=1):
        h = jnp.pad(h, ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)), mode="reflect")
        h = jax.lax.conv_general_dilated(h, params[f"{name}.weight"], (stride, stride), "VALID",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return h + params[f"{name}.bias"][None, :, None, None]

    def inorm(h, name):
        mean = h.mean(axis=(2, 3), keepdims=True)
        var = ((h - mean) ** 2).mean(axis=(2, 3), keepdims=True)
        h = (h - mean) * jax.lax.rsqrt(var + EPS)
        return h * params[f"{name}.scale"][None, :, None, None] + params[f"{name}.bias"][None, :, None, None]

    H, W = x.shape[2], x.shape[3]
    h = x / 255.0
    for name, _, _, k, stride, _ in _HEAD:
        h = jax.nn.relu(inorm(conv(h, name, k, stride), name.replace("conv", "in")))
    for r in range(1, N_RES + 1):
        y = jax.nn.relu(inorm(conv(h, f"res{r}.conv1", 3), f"res{r}.in1"))
        h = h + inorm(conv(y, f"res{r}.conv2", 3), f"res{r}.in2")
    for name, _, _, k, _, _ in _TAIL:
        h = jnp.repeat(jnp.repeat(h, 2, axis=2), 2, axis=3)
        h = jax.nn.relu(inorm(conv(h, name, k), f"{name}.in"))
    h = conv(h, "conv4", 9)
    return h[:, :, :H, :W]


def export_onnx(params, path):
    """Write the network as ONNX (ir_version 8, opset 17): input `input`, output `output`,
    float32 [N,3,H,W] RGB 0..255 with N, H, W dynamic. Deterministic bytes for given params."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

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
    const("pads1", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))
    const("pads4", np.array([0, 0, 4, 4, 0, 0, 4, 4], np.int64))
    const("up_scales", np.array([1, 1, 2, 2], np.float32))

    def conv(h, name, k, stride=1):
        p = node("Pad", [h, f"pads{k // 2}"], f"{name}.pad", mode="reflect")
        return node("Conv", [p, f"{name}.weight", f"{name}.bias"], name,
                    kernel_shape=[k, k], strides=[stride, stride])

    def inorm_relu(h, norm, relu=True):
        h = node("InstanceNormalization", [h, f"{norm}.scale", f"{norm}.bias"], norm, epsilon=EPS)
        return node("Relu", [h], f"{norm}.relu") if relu else h

    h = node("Mul", ["input", "inv255"], "scaled_input")
    for name, _, _, k, stride, _ in _HEAD:
        h = inorm_relu(conv(h, name, k, stride), name.replace("conv", "in"))
    for r in range(1, N_RES + 1):
        y = inorm_relu(conv(h, f"res{r}.conv1", 3), f"res{r}.in1")
        y = inorm_relu(conv(y, f"res{r}.conv2", 3), f"res{r}.in2", relu=False)
        h = node("Add", [h, y], f"res{r}.out")
    for name, _, _, k, _, _ in _TAIL:
        # asymmetric + floor: output pixel i copies input pixel i // 2 (plain nearest x2).
        h = node("Resize", [h, "", "up_scales"], f"{name}.upsample", mode="nearest",
                 coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        h = inorm_relu(conv(h, name, k), f"{name}.in")
    h = conv(h, "conv4", 9)
    # Crop to the input's H, W (see module docstring).
    shape = node("Shape", ["input"], "input_shape")
    hw = node("Slice", [shape, const("i2", np.array([2], np.int64)), const("i4", np.array([4], np.int64))], "input_hw")
    h = node("Slice", [h, const("zeros2", np.array([0, 0], np.int64)), hw, const("axes_hw", np.array([2, 3], np.int64))],
             "output")

    io = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = helper.make_graph(nodes, "transformer_net", [io("input")], [io("output")], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="vstyle")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
