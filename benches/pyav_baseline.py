#!/usr/bin/env python3
"""The plain script a user would write instead of vstyle: PyAV decode -> onnxruntime -> PyAV
encode, one frame at a time. benches/e2e.sh runs it next to vstyle on the same frames and model.

    python benches/pyav_baseline.py IN.mp4 MODEL.onnx FRAMES OUT.mp4   (prints "fps N")
"""
import sys
import time

import av
import numpy as np
import onnxruntime as ort


def main() -> None:
    src, model, frames, dst = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    inp = av.open(src)
    vin = inp.streams.video[0]
    out = av.open(dst, "w")
    vout = out.add_stream("libx264", rate=vin.average_rate)
    vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
    vout.options = {"crf": "18", "preset": "medium"}  # vstyle's defaults
    t0 = time.perf_counter()
    done = 0
    for frame in inp.decode(vin):
        x = frame.to_ndarray(format="rgb24").astype(np.float32).transpose(2, 0, 1)[None]
        y = sess.run(None, {name: x})[0][0]
        rgb = np.ascontiguousarray(np.clip(y, 0, 255).round().astype(np.uint8).transpose(1, 2, 0))
        for packet in vout.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            out.mux(packet)
        done += 1
        if done >= frames:
            break
    for packet in vout.encode():
        out.mux(packet)
    out.close()
    print(f"fps {done / (time.perf_counter() - t0):.3f}")


if __name__ == "__main__":
    main()
