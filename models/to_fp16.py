#!/usr/bin/env python3
"""Convert a feed-forward style network to float16 weights and arithmetic, keeping float32 input
and output so it still meets vstyle's model contract. For GPUs, where half precision runs on the
tensor cores; on CPUs float16 is slower, so keep the float32 model there.

    python models/to_fp16.py models/scream.onnx models/scream.fp16.onnx   # the name --precision fp16 takes
"""
import argparse

import onnx
from onnxconverter_common import float16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()
    model = onnx.load(a.src)
    # keep_io_types: Cast nodes at the edges, so the contract (float32 RGB 0..255) is unchanged.
    half = float16.convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, a.dst)


if __name__ == "__main__":
    main()
