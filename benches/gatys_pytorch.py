#!/usr/bin/env python3
"""The optimisation-mode problem of vstyle in PyTorch, for a timing comparison on the same machine.

Same problem as `vstyle CONTENT --style STYLE --size N --steps S`: the conv layers and weights of
models/vgg16_features.onnx (read with onnx, run as torch convolutions), content loss = mean squared
feature error at conv_4, style loss = sum over conv_1..conv_5 of the mean squared error between
Gram matrices F·Fᵀ/(C·H·W), loss = 1·content + 1e6·style, L-BFGS from the content image with
history 10 and a strong-Wolfe line search, S iterations, no tolerances. Pictures are read as
raw RGB through the ffmpeg command (they must already be at the processing size; the shell
script beside this file prepares them). Prints one JSON line: seconds, iterations, evaluations,
initial and final loss.

Needs torch, numpy and onnx; not part of the test suite (see benches/optimize_vs_pytorch.sh).
"""
import argparse
import json
import subprocess
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def read_rgb(path):
    if path.endswith(".npy"):  # [1,3,H,W] float32 0..255, for machines without ffmpeg
        return torch.from_numpy(np.load(path))
    try:  # Pillow where it is installed (GPU images have it, not always ffmpeg)
        from PIL import Image
        img = np.asarray(Image.open(path).convert("RGB"))
        return torch.from_numpy(img.astype(np.float32).transpose(2, 0, 1).copy())[None]
    except ImportError:
        pass
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", path],
        check=True, capture_output=True, text=True).stdout.strip().split(",")
    w, h = int(probe[0]), int(probe[1])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True).stdout
    img = np.frombuffer(raw, np.uint8)[: w * h * 3].reshape(h, w, 3)
    return torch.from_numpy(img.astype(np.float32).transpose(2, 0, 1).copy())[None]


def write_rgb(path, x):
    if path.endswith(".npy"):
        np.save(path, x.detach().cpu().numpy())
        return
    img = x[0].detach().cpu().clamp(0, 255).round().byte().permute(1, 2, 0).contiguous().numpy()
    try:
        from PIL import Image
        Image.fromarray(img).save(path)
        return
    except ImportError:
        pass
    h, w, _ = img.shape
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
         "-i", "-", path], input=img.tobytes(), check=True)


class Vgg:
    """The prepared loss network: Sub(mean), then Conv → Relu [→ MaxPool] blocks."""

    def __init__(self, path, device):
        model = onnx.load(path)
        inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()).to(device)
                 for t in model.graph.initializer}
        self.layers = []  # (name, weight, bias, pool_after)
        for node in model.graph.node:
            if node.op_type == "Sub":
                self.mean = inits[node.input[1]]
            elif node.op_type == "Conv":
                self.layers.append([None, inits[node.input[1]], inits[node.input[2]], False])
            elif node.op_type == "Relu":
                self.layers[-1][0] = node.output[0]
            elif node.op_type == "MaxPool":
                self.layers[-1][3] = True

    def features(self, x, wanted):
        out = {}
        h = x - self.mean
        last = max(wanted)
        for k, (name, w, b, pool) in enumerate(self.layers):
            h = torch.relu(torch.nn.functional.conv2d(h, w, b, padding=1))
            if k in wanted:
                out[k] = h
            if k == last:
                break
            if pool:
                h = torch.nn.functional.max_pool2d(h, 2, 2)
        return out


def gram(f):
    _, c, h, w = f.shape
    f = f.reshape(c, h * w)
    return f @ f.t() / (c * h * w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--content", required=True)
    ap.add_argument("--style", required=True)
    ap.add_argument("--loss-net", default="models/vgg16_features.onnx")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--content-weight", type=float, default=1.0)
    ap.add_argument("--style-weight", type=float, default=1e6)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(True)

    dev = torch.device(args.device)
    vgg = Vgg(args.loss_net, dev)
    content_layer, style_layers = 3, [0, 1, 2, 3, 4]  # conv_4; conv_1..conv_5
    wanted = sorted(set(style_layers + [content_layer]))
    content, style = read_rgb(args.content).to(dev), read_rgb(args.style).to(dev)
    with torch.no_grad():
        target = vgg.features(content, wanted)[content_layer]
        grams = {k: gram(f) for k, f in vgg.features(style, style_layers).items()}

    x = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=args.steps, max_eval=args.steps * 10,
                            tolerance_grad=0, tolerance_change=0, history_size=10,
                            line_search_fn="strong_wolfe")
    evaluations = [0]
    losses = []

    def closure():
        opt.zero_grad()
        feats = vgg.features(x, wanted)
        c = torch.mean((feats[content_layer] - target) ** 2)
        s = sum(torch.mean((gram(feats[k]) - grams[k]) ** 2) for k in style_layers)
        loss = args.content_weight * c + args.style_weight * s
        loss.backward()
        evaluations[0] += 1
        losses.append(loss.item())
        return loss

    start = time.perf_counter()
    opt.step(closure)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    iterations = opt.state[opt._params[0]]["n_iter"]
    if args.out:
        write_rgb(args.out, x)
    print(json.dumps({
        "seconds": round(seconds, 2),
        "iterations": iterations,
        "evaluations": evaluations[0],
        "initial_loss": losses[0],
        "final_loss": min(losses),
        "threads": torch.get_num_threads(),
        "device": args.device,
    }))


if __name__ == "__main__":
    main()
