#!/usr/bin/env python3
"""int8 vs float32 style network in ONNX Runtime on the CPU: speed and output agreement.

    python benches/int8.py models/scream.onnx models/scream.int8.onnx --photos DIR --clip samples/clip.mp4

Speed: both models on the same seeded random 640x360 frame (`--size`; the time does not depend
on the pixels), `--threads` intra-op threads, all graph optimisations (as vstyle sets them),
alternating float32 / int8 for `--rounds` rounds of `--runs` timed runs each after a warm-up;
prints the medians (and minima) in ms/frame and the ratio float32 / int8 (how many times faster
int8 is). Ratios from the same run are what to compare on a shared machine. `--rounds 0` skips it.

Agreement: PSNR (peak 255) of the int8 output against the float32 output, both clamped to 0..255
as vstyle does, on the photos in `--photos` (resized to `--photo-side` long side; use photos the
model was not calibrated on) and on `--frames` frames spread over `--clip` (decoded with the
`ffmpeg` command at the clip's size). Prints a row per image and the mean and minimum.
For a multi-style model `--style-name NAME` (default: the first style) picks the style;
`--style-name all` prints the agreement for every style (the speed is the first style's).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def style_names(path):
    """The style names of a multi-style model (metadata `vstyle.styles`, else style_0, ...);
    [] for a single-style model."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    extra = [v for v in m.graph.input if v.name not in inits and len(v.type.tensor_type.shape.dim) == 1]
    if not extra:
        return []
    meta = {p.key: p.value for p in m.metadata_props}
    S = extra[0].type.tensor_type.shape.dim[0].dim_value
    return [s["name"] for s in json.loads(meta.get("vstyle.styles", "[]"))] or [f"style_{i}" for i in range(S)]


def style_feed(sess, path, style_name=None):
    """Extra feeds for a multi-style model: one-hot weights of `style_name` (default: style 0)."""
    extra = [i for i in sess.get_inputs() if len(i.shape) == 1]
    if not extra:
        return {}
    names = style_names(path)
    if style_name and style_name not in names:
        raise SystemExit(f"int8 bench: no style {style_name!r} in {path} ({', '.join(names)})")
    k = names.index(style_name) if style_name else 0
    return {extra[0].name: np.eye(len(names), dtype=np.float32)[k]}


class Model:
    """A style network as a function of a [1,3,H,W] 0..255 image (models whose metadata says
    `vstyle.value_range` 0..1 get and give 0..1, scaled here)."""

    def __init__(self, path, threads, style_name=None):
        import onnx
        self.sess = session(path, threads)
        self.image = [i for i in self.sess.get_inputs() if len(i.shape) == 4][0].name
        self.extra = style_feed(self.sess, path, style_name)
        meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
        self.scale = 255.0 if meta.get("vstyle.value_range") == "0..1" else 1.0

    def __call__(self, x):
        if self.scale == 1.0:
            return self.sess.run(None, {self.image: x, **self.extra})[0]
        return self.sess.run(None, {self.image: x / np.float32(self.scale), **self.extra})[0] * self.scale


def psnr(a, b):
    """PSNR (dB, peak 255) of a against b, both clamped to 0..255."""
    a, b = np.clip(a, 0, 255).astype(np.float64), np.clip(b, 0, 255).astype(np.float64)
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def load_photo(path, long_side):
    """[1,3,h,w] float32 0..255, resized (bicubic) to `long_side` on the long side."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        k = long_side / max(im.size)
        im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.BICUBIC)
        return np.asarray(im, np.float32).transpose(2, 0, 1)[None].copy()


def photo_list(folder):
    exts = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.lower().endswith(exts)]


def clip_frames(path, count):
    """`count` frames spread evenly over the video (every k-th frame), [1,3,h,w] float32 0..255."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                            "-show_entries", "stream=width,height,nb_read_packets", "-of", "json", path],
                           check=True, capture_output=True, text=True)
    st = json.loads(probe.stdout)["streams"][0]
    w, h, n = int(st["width"]), int(st["height"]), int(st.get("nb_read_packets") or count)
    step = max(1, n // count)
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-frames:v", str(step * count),
                             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    frames, i, size = [], 0, w * h * 3
    while True:
        buf = proc.stdout.read(size)
        if len(buf) < size:
            break
        if i % step == 0 and len(frames) < count:
            frames.append((f"frame {i}", np.frombuffer(buf, np.uint8).reshape(h, w, 3)
                           .astype(np.float32).transpose(2, 0, 1)[None].copy()))
        i += 1
    if proc.wait() != 0 or not frames:
        raise SystemExit(f"int8 bench: could not decode {path} with ffmpeg")
    return frames


def agreement(fp32, int8, items):
    """[(name, shape, psnr)] for (name, image) items."""
    return [(name, x.shape[2:], psnr(int8(x), fp32(x))) for name, x in items]


def speed(fp32, int8, x, rounds, runs):
    """Per-run times (ms) of each model: `rounds` rounds alternating float32 and int8, `runs` runs
    each, after one warm-up run each."""
    times = {"fp32": [], "int8": []}
    fp32(x), int8(x)
    for _ in range(rounds):
        for key, m in (("fp32", fp32), ("int8", int8)):
            for _ in range(runs):
                t = time.perf_counter()
                m(x)
                times[key].append((time.perf_counter() - t) * 1e3)
    return times["fp32"], times["int8"]


def summary(label, rows):
    vals = [p for *_, p in rows]
    return f"{label}: mean PSNR {np.mean(vals):.2f} dB, min {np.min(vals):.2f} dB over {len(vals)} images"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fp32", help="float32 model")
    ap.add_argument("int8", help="int8 model of the same network")
    ap.add_argument("--photos", help="folder of photos (not the calibration photos)")
    ap.add_argument("--photo-side", type=int, default=640, help="long side of the photos (default 640)")
    ap.add_argument("--clip", help="video whose frames are compared")
    ap.add_argument("--frames", type=int, default=20, help="frames spread over --clip (default 20)")
    ap.add_argument("--size", default="640x360", help="WxH of the speed test (default 640x360)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per model and round (default 3)")
    ap.add_argument("--style-name", help="style of a multi-style model (default: the first); "
                                         "`all`: the agreement for every style")
    ap.add_argument("--quiet-rows", action="store_true", help="print only the summaries")
    args = ap.parse_args(argv)

    styles = style_names(args.fp32) if args.style_name == "all" else [args.style_name]
    items = {"photos": [(os.path.basename(p), load_photo(p, args.photo_side))
                        for p in photo_list(args.photos)] if args.photos else [],
             "clip": clip_frames(args.clip, args.frames) if args.clip else []}
    for style in styles or [None]:
        fp32 = Model(args.fp32, args.threads, style)
        int8 = Model(args.int8, args.threads, style)
        tag = f"[{style}] " if len(styles) > 1 else ""
        for label in ("photos", "clip"):
            if not items[label]:
                continue
            rows = agreement(fp32, int8, items[label])
            if not args.quiet_rows:
                for name, (h, w), p in rows:
                    print(f"  {tag}{name:32s} {w}x{h}  {p:.2f} dB")
            print(tag + summary(label, rows))
    if args.rounds > 0:
        fp32 = Model(args.fp32, args.threads, styles[0] if styles else None)
        int8 = Model(args.int8, args.threads, styles[0] if styles else None)
        w, h = (int(v) for v in args.size.lower().split("x"))
        x = np.random.default_rng(0).uniform(0, 255, (1, 3, h, w)).astype(np.float32)
        a, b = speed(fp32, int8, x, args.rounds, args.runs)
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"speed {w}x{h}, {args.threads} threads, {args.rounds} rounds x {args.runs} runs alternating: "
              f"float32 {ma:.1f} ms/frame (min {min(a):.1f}), int8 {mb:.1f} ms/frame (min {min(b):.1f}); "
              f"float32/int8 = {ma / mb:.2f}x (of the minima {min(a) / min(b):.2f}x)")

if __name__ == "__main__":
    sys.exit(main())
