#!/usr/bin/env python3
"""Writes tiny_vgg.onnx: a loss network laid out like models/vgg16_features.onnx, only tiny.

Same structure as the prepared VGG16 (see models/prepare_vgg.py): input `image` [1,3,H,W] in RGB
0..255, `Sub(image, mean)`, then `Conv 3x3 pad 1 → Relu` blocks whose Relu outputs are named
conv_1 … conv_7 (and are graph outputs), with 2x2 max pooling after conv_2, conv_4 and conv_7.
Seven layers cover the defaults (content conv_4, style conv_1..conv_5) and a pooling after the
last layer. Weights are seeded He-normal draws, biases small and positive, so features keep the
scale of a real network's. Run from the repository root:

    python3 tests/data/make_tiny_vgg.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHANNELS = [8, 8, 12, 12, 16, 16, 16]
POOL_AFTER = {2, 4, 7}


def main():
    rng = np.random.default_rng(20261126)
    inits = [numpy_helper.from_array(
        np.array([123.68, 116.779, 103.939], np.float32).reshape(1, 3, 1, 1), "mean")]
    nodes = [helper.make_node("Sub", ["image", "mean"], ["centered"])]
    outputs = []
    current, cin = "centered", 3
    for k, cout in enumerate(CHANNELS, start=1):
        w = rng.normal(0.0, np.sqrt(2.0 / (cin * 9)), (cout, cin, 3, 3)).astype(np.float32)
        b = rng.uniform(0.0, 0.5, cout).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"conv_{k}.weight"),
                  numpy_helper.from_array(b, f"conv_{k}.bias")]
        nodes.append(helper.make_node(
            "Conv", [current, f"conv_{k}.weight", f"conv_{k}.bias"], [f"conv_{k}.pre"],
            kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
        nodes.append(helper.make_node("Relu", [f"conv_{k}.pre"], [f"conv_{k}"]))
        outputs.append(helper.make_tensor_value_info(
            f"conv_{k}", TensorProto.FLOAT, [1, cout, None, None]))
        current = f"conv_{k}"
        if k in POOL_AFTER:
            nodes.append(helper.make_node(
                "MaxPool", [current], [f"pool_{k}"], kernel_shape=[2, 2], strides=[2, 2]))
            current = f"pool_{k}"
        cin = cout
    graph = helper.make_graph(
        nodes, "tiny_vgg",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "H", "W"])],
        outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="vstyle-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_vgg.onnx")
    onnx.save(model, out)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
