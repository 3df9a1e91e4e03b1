#!/usr/bin/env python3
"""Times one evaluation (loss and gradient) of the graph optimisation mode generates, on ONNX
Runtime's CPU and, where present, CUDA providers; checks CUDA against the CPU; and on CUDA
compares fresh inputs per run with IO binding (targets bound once on the device).

    cargo run --release --example loss_graphs -- models/vgg16_features.onnx /tmp/graphs
    python3 benches/loss_graph_ort.py /tmp/graphs CONTENT.npy STYLE.npy [RUNS]

CONTENT/STYLE: float32 [1,3,H,W] RGB 0..255 (.npy, so no image library is needed).
Prints one JSON line per measurement. A note, not a test.
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def session(path, providers):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=providers)


def timed(fn, runs):
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - start) / runs


def main():
    graphs, content_path, style_path = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    content, style = np.load(content_path), np.load(style_path)
    cpu = ["CPUExecutionProvider"]
    targets = session(f"{graphs}/targets.onnx", cpu)
    names = [o.name for o in targets.get_outputs()]
    of_content = dict(zip(names, targets.run(None, {"image": content})))
    of_style = dict(zip(names, targets.run(None, {"image": style})))
    feeds = {n: (of_content if n.startswith("content_") else of_style)[n] for n in names}
    rng = np.random.default_rng(0)
    image = np.clip(content + rng.normal(0, 20, content.shape), 0, 255).astype(np.float32)
    feeds["image"] = image

    loss_cpu = session(f"{graphs}/loss.onnx", cpu)
    ref_loss, ref_grad = loss_cpu.run(["loss", "grad"], feeds)
    shape = list(content.shape)
    print(json.dumps({"provider": "CPU", "image": shape, "loss": float(ref_loss),
                      "seconds_per_evaluation": round(timed(
                          lambda: loss_cpu.run(["loss", "grad"], feeds), max(3, runs // 5)), 4)}))

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        print(json.dumps({"provider": "CUDA", "available": False,
                          "providers": ort.get_available_providers()}))
        return
    gpu = session(f"{graphs}/loss.onnx", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    loss, grad = gpu.run(["loss", "grad"], feeds)
    rel_loss = abs(float(loss) - float(ref_loss)) / abs(float(ref_loss))
    rel_grad = float(np.linalg.norm(grad - ref_grad) / np.linalg.norm(ref_grad))
    plain = timed(lambda: gpu.run(["loss", "grad"], feeds), runs)

    io = gpu.io_binding()
    for n in names:
        io.bind_ortvalue_input(n, ort.OrtValue.ortvalue_from_numpy(feeds[n], "cuda", 0))
    io.bind_output("loss", "cpu")
    io.bind_output("grad", "cpu")

    def bound():
        io.bind_cpu_input("image", image)
        gpu.run_with_iobinding(io)
        return io.copy_outputs_to_cpu()

    bound()
    print(json.dumps({"provider": "CUDA", "image": shape, "relative_error_loss": rel_loss,
                      "relative_error_grad": rel_grad,
                      "seconds_per_evaluation": round(plain, 5),
                      "seconds_per_evaluation_iobinding": round(timed(bound, runs), 5)}))


if __name__ == "__main__":
    main()
