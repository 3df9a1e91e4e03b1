#!/usr/bin/env python3
"""How close thumbnail statistics bring a tiled frame to the whole frame, photo by photo.

    .venv/bin/python benches/tile_statistics.py [--model models/scream.onnx] [--thumbnail 1024]
        [--far 512,384] PHOTO...

Each photo is scaled and cropped to 1920x1080. A tiled frame is exactly the network run with
every instance norm's statistics given (tests/tiles.rs checks that tiles with the frame's own
statistics reproduce the whole frame), so this runs the whole frame with given statistics instead
of tiles and compares with the whole frame's own output (PSNR, 8-bit):

- `one`: the statistics of one thumbnail, 1024 px by default (`--thumbnail`; URST as published);
- `trend F`: what vstyle does (src/stylize/feedforward/tiled.rs, `extrapolate`): the variances
  carried on towards the frame's scale from a second thumbnail of F px (`--far`, 512 by
  default; `--far 512,256` gives a column each), three quarters of the trend followed;
- `true means`: the first `trend` with every norm's means replaced by the frame's own (an
  oracle: how much of what is left is in the means).

float32 only (the int8 twin's figures in benches/README.md come from vstyle itself); about a
minute a photo on 2 cores. Thumbnails are made with a triangle filter, as vstyle makes them.
"""
import argparse
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from PIL import Image

TREND = 0.75


def sessions(path):
    """(statistics session: outputs every norm's input; given session: norms take inputs
    NAME.m and NAME.v), and the norms."""
    stats = onnx.load(path)
    norms = [n for n in stats.graph.node if n.op_type == "InstanceNormalization"]
    for n in norms:
        stats.graph.output.append(helper.make_tensor_value_info(n.input[0], onnx.TensorProto.FLOAT, None))
    given = onnx.load(path)
    nodes = []
    for n in given.graph.node:
        if n.op_type != "InstanceNormalization":
            nodes.append(n)
            continue
        eps = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)
        m, v = n.name + ".m", n.name + ".v"
        given.graph.input.extend([helper.make_tensor_value_info(m, onnx.TensorProto.FLOAT, [None]),
                                  helper.make_tensor_value_info(v, onnx.TensorProto.FLOAT, [None])])
        nodes.append(helper.make_node("BatchNormalization", [*n.input, m, v], list(n.output), epsilon=eps))
    del given.graph.node[:]
    given.graph.node.extend(nodes)
    cpu = ["CPUExecutionProvider"]
    return (ort.InferenceSession(stats.SerializeToString(), providers=cpu),
            ort.InferenceSession(given.SerializeToString(), providers=cpu), norms)


def frame_1080(path):
    im = Image.open(path).convert("RGB")
    w, h = 1920, 1080
    s = max(w / im.width, h / im.height)
    r = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    left, top = (r.width - w) // 2, (r.height - h) // 2
    return r.crop((left, top, left + w, top + h))


def tensor(im):
    a = np.asarray(im, np.float32).transpose(2, 0, 1)[None]
    h, w = a.shape[2:]
    return np.pad(a, ((0, 0), (0, 0), (0, -h % 4), (0, -w % 4)), mode="reflect")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/scream.onnx")
    ap.add_argument("--thumbnail", type=int, default=1024, metavar="PIXELS",
                    help="longer side of the first thumbnail (vstyle's --tile-thumbnail) [1024]")
    ap.add_argument("--far", type=lambda s: [int(x) for x in s.split(",")], default=[512],
                    metavar="PIXELS[,PIXELS...]",
                    help="longer side of the second thumbnail, one `trend` column each [512]")
    ap.add_argument("photos", nargs="+")
    a = ap.parse_args()
    stats_sess, given_sess, norms = sessions(a.model)
    name = stats_sess.get_inputs()[0].name

    def statistics(im):
        outs = stats_sess.run(None, {name: tensor(im)})
        return outs[0], [(o.mean(axis=(0, 2, 3)), o.var(axis=(0, 2, 3))) for o in outs[1:]]

    def psnr(x, st, whole):
        feeds = {name: x}
        for n, (m, v) in zip(norms, st):
            feeds[n.name + ".m"], feeds[n.name + ".v"] = m.astype(np.float32), v.astype(np.float32)
        out = np.clip(given_sess.run(None, feeds)[0][0], 0, 255).round()
        return 10 * np.log10(255 ** 2 / ((out - whole) ** 2).mean())

    cols = ["one"] + [f"trend {f}" for f in a.far] + ["true means"]
    print(f"{'photo':<40} " + " ".join(f"{c:>10}" for c in cols) + "  (PSNR dB against the whole frame)")
    rows = []
    for p in a.photos:
        im = frame_1080(p)
        x = tensor(im)
        out, true = statistics(im)
        whole = np.clip(out[0], 0, 255).round()
        n = a.thumbnail
        near = statistics(im.resize((n, round(n * 9 / 16)), Image.BILINEAR))[1]
        row = [psnr(x, near, whole)]
        for i, f in enumerate(a.far):
            far = statistics(im.resize((f, round(f * 9 / 16)), Image.BILINEAR))[1]
            # Octaves from the second thumbnail to the first, and on to the frame.
            exponent = TREND * np.log(1920 / n) / np.log(n / f)
            trend = [(m, v * np.clip((v + 1e-8) / (g + 1e-8), 0.25, 4) ** exponent)
                     for (m, v), (_, g) in zip(near, far)]
            row.append(psnr(x, trend, whole))
            if i == 0:
                means = [(t[0], v) for t, (_, v) in zip(true, trend)]
        row.append(psnr(x, means, whole))
        rows.append(row)
        print(f"{os.path.basename(p):<40} " + " ".join(f"{r:10.2f}" for r in row), flush=True)
    mean = np.mean(rows, axis=0)
    print(f"{'mean':<40} " + " ".join(f"{r:10.2f}" for r in mean))


if __name__ == "__main__":
    main()
