#!/usr/bin/env python3
"""Write the small ONNX fixtures in tests/data/ (committed; see README.md there).

Run from the repository root:  python tests/data/make_fixtures.py
Needs numpy and onnx only. Output is deterministic: rerunning gives the same bytes.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
import transformer_net  # noqa: E402

DYN = ["N", 3, "H", "W"]


def save(name, nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, name.removesuffix(".onnx"), inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="vstyle fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, np.float32), name)


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
    # Full-size TransformerNet with seeded random (untrained) weights: a realistic compute load.
    transformer_net.export_onnx(transformer_net.init_params(seed=0), os.path.join(HERE, "transformer_net.onnx"))
    # Contract violations: NHWC layout, and two inputs.
    nhwc = [1, "H", "W", 3]
    save("bad_nhwc.onnx", [helper.make_node("Identity", ["input"], ["output"])],
         [vi("input", nhwc)], [vi("output", nhwc)])
    save("bad_two_inputs.onnx", [helper.make_node("Add", ["input", "input2"], ["output"])],
         [vi("input", DYN), vi("input2", DYN)], [vi("output", DYN)])
    for f in sorted(os.listdir(HERE)):
        if f.endswith(".onnx"):
            print(f"{f:24s} {os.path.getsize(os.path.join(HERE, f)):>9d} bytes")


if __name__ == "__main__":
    main()
