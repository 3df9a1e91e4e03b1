#!/usr/bin/env python3
"""Write tests/data/batch_invert.onnx, the model the batch tests (tests/batch.rs) run.

Run from the repository root:  python tests/data/make_batch_fixtures.py
Needs numpy and onnx. Deterministic: rerunning gives the same bytes.

batch_invert.onnx: `input` [N,3,H,W] float32 -> `output` [N,3,H,W], y = 255 - x, dynamic N/H/W.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DYN = ["N", 3, "H", "W"]


def main():
    graph = helper.make_graph(
        [helper.make_node("Sub", ["c255", "input"], ["output"])],
        "batch_invert",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, DYN)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, DYN)],
        [numpy_helper.from_array(np.asarray(255.0, np.float32), "c255")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="vstyle fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(HERE, "batch_invert.onnx")
    onnx.save(model, path)
    print(f"batch_invert.onnx {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
