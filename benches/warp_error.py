#!/usr/bin/env python3
"""Temporal stability of stylized videos: the warping error of Lai et al. 2018.

    python benches/warp_error.py INPUT STYLIZED [STYLIZED2 ...] [--style PAINTING] [--frames N]
                                 [--flow-size PIXELS] [--json OUT]
    python benches/warp_error.py --self-test

A bench, not a test: it measures how much a stylized video flickers, against the motion of its
input. Measure as in Lai et al., "Learning Blind Video Temporal Consistency" (ECCV 2018), and
their evaluation code (evaluate_WarpError.py, compute_flow_occlusion.py, utils.detect_occlusion):

- Optical flow on the *input* frames, forward F (t -> t+1) and backward B (t+1 -> t): OpenCV's
  DIS flow (`--preset`, default medium) on grey frames, optionally computed at `--flow-size` px
  on the long side and resized back (vectors rescaled), as their code resizes its flow.
- Occlusion mask of frame t (pixel units, exactly their thresholds):
    forward-backward check  |F + B~|^2 > 0.01 (|F|^2 + |B~|^2) + 0.5,  B~(x) = B(x + F(x))
    motion boundary         |du F|^2 + |dv F|^2 > 0.01 |F|^2 + 0.002   (forward differences)
  a pixel that fails either is left out.
- O_{t+1} warped back to t along F (bilinear, border pixels repeated, as their Resample2d),
  RGB in [0, 1]:
    E_t    = sum_x M(x) |O_t(x) - O_{t+1}(x + F(x))|^2 / (3 sum_x M(x))
    E_warp = mean over t of E_t
  with |.|^2 summed over R, G, B. The 3 in the denominator is what their code computes: it saves
  the mask as a grey PNG and reads it back as a 3-channel image, so its sum(mask) counts every
  visible pixel once per channel. E_warp is therefore the mean squared error per channel; the
  per-pixel sum over channels is 3 x E_warp. When no pixel is visible, E_t divides by all of
  them, as theirs does. Pixels whose match has left the frame are not masked (theirs are not
  either): they compare with the repeated border, and set a floor under a pan's E_warp.

The input's own E_warp (flow errors, lighting changes, noise, pixels moving out of the frame) is
what a perfectly stable stylization would inherit; the ratio out/in says how much the
stylization adds. The input's E_warp is mostly the flow's error, so the ratio moves with the
flow's quality (on a synthetic pan: 10.9 with DIS medium at full size, 3.3 with the fast preset,
1.2 with ultrafast, for the same output): compare ratios only at the same --preset and
--flow-size, and variants of one clip by their E_warp directly. On clips whose input E_warp is
high (sensor or compression noise under a still camera, leaves in the wind at 2.5 fps) a
stylization that smooths the noise can come out below the input, ratio < 1. A blurred or washed-out output also has a low E_warp, so with `--style` each
video's Gram style loss against the painting is printed beside it (models/evaluate.py's
functions: conv_1..conv_5 of models/vgg16_features.onnx, style loss sum_l mean((G_l - A_l)^2),
frames resized to `--style-frame-size` px on the long side, the painting to `--style-size`), on
`--style-frames` evenly spaced frames, and the "style drop" = style loss of the input frames /
style loss of the output (how many times closer to the style the output is; compare variants by
it: a more stable variant whose style drop collapses has traded style for stability).

Frames are decoded with the `ffmpeg` command (rgb24). A stylized video whose size differs from
the input's is resized to it (bicubic), and said so; one with a different frame count is
measured over the frames all videos have, also said so.

Needs numpy, onnxruntime and pillow (models/requirements.txt) and OpenCV
(benches/requirements.txt: installed into the virtual environment when missing).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PRESETS = ("ultrafast", "fast", "medium")


def import_cv2():
    """OpenCV, installed from benches/requirements.txt into the running virtual environment when
    it is missing (outside a virtual environment: an error saying how to install it)."""
    try:
        import cv2
        return cv2
    except ImportError:
        pass
    req = os.path.join(HERE, "requirements.txt")
    if sys.prefix == sys.base_prefix:
        raise SystemExit(f"warp_error: error: OpenCV is missing: pip install -r {os.path.relpath(req)}")
    print(f"warp_error: OpenCV is missing; installing {os.path.relpath(req)} into the virtual environment",
          file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", req],
                   check=True)
    import cv2
    return cv2


cv2 = import_cv2()


# ---------------------------------------------------------------- decoding
def probe(path):
    """(width, height) of the first video stream as displayed (a 90/270 degree rotation swaps
    them, as ffmpeg's decoding applies it)."""
    if not os.path.isfile(path):
        raise SystemExit(f"warp_error: error: {path} not found")
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                        "stream=width,height:stream_side_data=rotation:stream_tags=rotate", "-of", "json", path],
                       capture_output=True, text=True)
    streams = json.loads(r.stdout or "{}").get("streams") if r.returncode == 0 else None
    if not streams:
        raise SystemExit(f"warp_error: error: {path}: no video stream ({r.stderr.strip() or 'ffprobe found none'})")
    s = streams[0]
    w, h = int(s["width"]), int(s["height"])
    rot = s.get("tags", {}).get("rotate")
    for d in s.get("side_data_list", []):
        if "rotation" in d:
            rot = d["rotation"]
    if rot is not None and abs(int(float(rot))) % 180 == 90:
        w, h = h, w
    return w, h


def decode(path, limit=0, size=None):
    """All frames (or the first `limit`) as uint8 [T, H, W, 3] RGB; `size` = (w, h) resizes them."""
    w, h = size or probe(path)
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough"]
    if limit:
        cmd += ["-frames:v", str(limit)]
    if size:
        cmd += ["-vf", f"scale={w}:{h}:flags=bicubic"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"warp_error: error: ffmpeg could not decode {path} (exit {r.returncode})")
    n, rest = divmod(len(r.stdout), w * h * 3)
    if rest or n == 0:
        raise SystemExit(f"warp_error: error: {path}: {len(r.stdout)} bytes of rgb24 is not a whole number "
                         f"of {w}x{h} frames")
    return np.frombuffer(r.stdout, np.uint8).reshape(n, h, w, 3)


# ---------------------------------------------------------------- flow, mask, warp
class Flow:
    """DIS optical flow between grey uint8 frames, optionally computed at `size` px on the long
    side and resized back to the frame's size (vectors scaled by the same factors)."""

    def __init__(self, preset="medium", size=0):
        self.dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}"))
        self.size = size

    def __call__(self, g0, g1):
        h, w = g0.shape
        if not self.size or max(h, w) <= self.size:
            return self.dis.calc(g0, g1, None)
        s = self.size / max(h, w)
        ws, hs = max(8, round(w * s)), max(8, round(h * s))
        small = self.dis.calc(cv2.resize(g0, (ws, hs), interpolation=cv2.INTER_AREA),
                              cv2.resize(g1, (ws, hs), interpolation=cv2.INTER_AREA), None)
        flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= w / ws
        flow[..., 1] *= h / hs
        return flow


def grey(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def sample_maps(flow):
    """remap's maps for x -> x + flow(x)."""
    h, w = flow.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(img, maps):
    """img sampled at x + flow(x): bilinear, out-of-frame positions take the nearest border pixel."""
    return cv2.remap(img, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occlusion(fw, bw, maps=None):
    """Lai et al.'s mask of frame t (True = left out) from the forward flow fw (t -> t+1) and the
    backward flow bw (t+1 -> t), both [H, W, 2] in pixels."""
    bw_w = warp(bw, maps if maps is not None else sample_maps(fw))
    mag = lambda f: f[..., 0] ** 2 + f[..., 1] ** 2
    fb_mismatch = mag(fw + bw_w) > 0.01 * (mag(fw) + mag(bw_w)) + 0.5
    du = np.zeros_like(fw)
    dv = np.zeros_like(fw)
    du[:, :-1] = fw[:, :-1] - fw[:, 1:]
    dv[:-1, :] = fw[:-1, :] - fw[1:, :]
    boundary = (du ** 2 + dv ** 2).sum(-1) > 0.01 * mag(fw) + 0.002
    return fb_mismatch | boundary


def warp_errors(frames, videos, flow):
    """E_t of every video for t = 0..T-2, with flow and mask from `frames` (uint8 [T,H,W,3]).
    Returns (errors [V, T-1], masked fraction [T-1], mean forward flow length in px [T-1],
    seconds in flow+mask, seconds in warping)."""
    t_count = min(len(frames), *(len(v) for v in videos))
    errs = np.zeros((len(videos), t_count - 1))
    masked = np.zeros(t_count - 1)
    motion = np.zeros(t_count - 1)
    t_flow = t_warp = 0.0
    g1 = grey(frames[0])
    for t in range(t_count - 1):
        t0 = time.perf_counter()
        g0, g1 = g1, grey(frames[t + 1])
        fw, bw = flow(g0, g1), flow(g1, g0)
        maps = sample_maps(fw)
        motion[t] = np.hypot(fw[..., 0], fw[..., 1]).mean()
        visible = ~occlusion(fw, bw, maps)
        n = int(visible.sum())
        masked[t] = 1 - n / visible.size
        denom = 3.0 * (n if n else visible.size)
        if not n:
            visible[:] = True
        t1 = time.perf_counter()
        for i, v in enumerate(videos):
            a = v[t].astype(np.float32) / 255
            b = warp(v[t + 1].astype(np.float32) / 255, maps)
            d = ((a - b) ** 2).sum(-1, dtype=np.float64)
            errs[i, t] = d[visible].sum() / denom
        t2 = time.perf_counter()
        t_flow += t1 - t0
        t_warp += t2 - t1
    return errs, masked, motion, t_flow, t_warp


# ---------------------------------------------------------------- style loss (models/evaluate.py)
def style_losses(videos, indices, painting, frame_size, style_size, vgg_path):
    """Gram style loss (models/evaluate.py, 'mean' convention, conv_1..conv_5) of frames
    `indices` of every video against the painting: [V, len(indices)]."""
    sys.path.insert(0, os.path.join(ROOT, "models"))
    import evaluate
    from PIL import Image
    layers = [1, 2, 3, 4, 5]
    vgg = evaluate.Vgg(vgg_path, layers)
    feats = vgg(evaluate.load_image(painting, style_size))
    targets = [evaluate.gram(feats[f"conv_{k}"]) for k in layers]
    out = np.zeros((len(videos), len(indices)))
    for i, v in enumerate(videos):
        for j, t in enumerate(indices):
            im = Image.fromarray(v[t])
            s = frame_size / max(im.size)
            im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
            x = np.asarray(im, np.float32).transpose(2, 0, 1)[None]
            f = vgg(np.ascontiguousarray(x))
            out[i, j] = evaluate.style_loss([evaluate.gram(f[f"conv_{k}"]) for k in layers], targets)
    return out


# ---------------------------------------------------------------- the bench
def measure(input_path, outputs, frames=0, flow_size=0, preset="medium", style=None, style_frames=8,
            style_frame_size=512, style_size=384, vgg_path=None, say=print):
    """Everything the command prints, as a dict (what --json writes)."""
    t_start = time.perf_counter()
    w, h = probe(input_path)
    x = decode(input_path, frames)
    notes = []
    videos = [x]
    for p in outputs:
        ow, oh = probe(p)
        resized = (ow, oh) != (w, h)
        if resized:
            notes.append(f"{p}: {ow}x{oh}, resized to the input's {w}x{h} (bicubic) before measuring")
        y = decode(p, frames, size=(w, h) if resized else None)
        if len(y) != len(x):
            notes.append(f"{p}: {len(y)} frames against the input's {len(x)}")
        videos.append(y)
    t_count = min(len(v) for v in videos)
    if t_count < 2:
        raise SystemExit("warp_error: error: need at least 2 frames")
    if any(len(v) != t_count for v in videos):
        notes.append(f"measuring the first {t_count} frames, which every video has")
    t_decode = time.perf_counter() - t_start
    for n in notes:
        say(f"note: {n}")

    flow = Flow(preset, flow_size)
    errs, masked, motion, t_flow, t_warp = warp_errors(x, videos, flow)
    e = errs.mean(axis=1)

    result = {
        "input": input_path, "size": f"{w}x{h}", "frames": t_count, "pairs": t_count - 1,
        "flow": {"method": "DIS", "preset": preset,
                 "computed_at": f"{flow_size} px long side" if flow_size and max(w, h) > flow_size else "full size"},
        "mean_flow_px": float(motion.mean()), "max_mean_flow_px": float(motion.max()),
        "masked_fraction": float(masked.mean()), "masked_per_pair": [round(float(m), 5) for m in masked],
        "notes": notes,
        "videos": [],
    }
    for i, p in enumerate([input_path] + list(outputs)):
        result["videos"].append({
            "path": p, "role": "input" if i == 0 else "stylized",
            "e_warp": float(e[i]), "ratio_to_input": float(e[i] / e[0]) if e[0] > 0 else None,
            "e_per_pair": [float(f"{v:.6g}") for v in errs[i]],
        })

    t_style = 0.0
    if style:
        t0 = time.perf_counter()
        k = max(1, min(style_frames, t_count))
        idx = sorted(set(int(round(v)) for v in np.linspace(0, t_count - 1, k)))
        sl = style_losses(videos, idx, style, style_frame_size, style_size,
                          vgg_path or os.path.join(ROOT, "models", "vgg16_features.onnx"))
        s = sl.mean(axis=1)
        result["style"] = {"painting": style, "frames": idx, "frame_size": style_frame_size,
                           "style_size": style_size, "layers": "conv_1..conv_5",
                           "loss": "sum_l mean((G_l - A_l)^2), G = F.F^T/(C.H.W)"}
        for i, r in enumerate(result["videos"]):
            r["style_loss"] = float(s[i])
            r["style_drop"] = float(s[0] / s[i]) if s[i] > 0 else None
        t_style = time.perf_counter() - t0
    result["seconds"] = {"decode": round(t_decode, 2), "flow_and_mask": round(t_flow, 2),
                         "warp": round(t_warp, 2), "style": round(t_style, 2),
                         "total": round(time.perf_counter() - t_start, 2)}
    return result


def report(r):
    """Markdown: one row per video, the input first."""
    lines = [f"input {r['input']}: {r['size']}, {r['frames']} frames ({r['pairs']} pairs); flow DIS "
             f"{r['flow']['preset']} at {r['flow']['computed_at']}; motion: mean flow {r['mean_flow_px']:.2f} px "
             f"per frame (pair with most: {r['max_mean_flow_px']:.2f}); masked (occlusion or motion boundary): "
             f"{100 * r['masked_fraction']:.1f}% of pixels (per pair {100 * min(r['masked_per_pair']):.1f}"
             f"-{100 * max(r['masked_per_pair']):.1f}%)"]
    bad = [t for t, m in enumerate(r["masked_per_pair"]) if m > 0.5]
    if bad:
        lines.append(f"warning: pairs {', '.join(f'{t}->{t + 1}' for t in bad[:8])}"
                     f"{' ...' if len(bad) > 8 else ''} mask over half the pixels: a scene cut or a flow failure")
    style = "style" in r
    head = ["video", "E_warp", "ratio to input"] + (["style loss", "style drop (in/out)"] if style else [])
    lines += ["", "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for v in r["videos"]:
        name = os.path.basename(v["path"]) + (" (input)" if v["role"] == "input" else "")
        ratio = f"{v['ratio_to_input']:.2f}" if v["ratio_to_input"] is not None else "-"
        cells = [name, f"{v['e_warp']:.5f}", ratio]
        if style:
            cells += [f"{v['style_loss']:.4g}", f"{v['style_drop']:.2f}" if v["style_drop"] is not None else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("E_warp: Lai et al. 2018, mean squared error per channel (RGB in [0,1]) between frame t and "
                 "frame t+1 warped back along the input's forward flow, over the pixels the mask keeps, "
                 "averaged over the pairs.")
    if style:
        s = r["style"]
        lines.append(f"Style loss against {os.path.basename(s['painting'])} ({s['style_size']} px) on frames "
                     f"{s['frames']} at {s['frame_size']} px, {s['layers']}, {s['loss']}; "
                     "style drop = input's style loss / the video's.")
    t = r["seconds"]
    lines.append(f"Time: decode {t['decode']} s, flow and mask {t['flow_and_mask']} s, warping {t['warp']} s, "
                 f"style loss {t['style']} s, total {t['total']} s.")
    return "\n".join(lines)


# ---------------------------------------------------------------- self-test
def _texture(h, w, seed):
    """Smooth seeded colour texture, uint8 [h, w, 3], with detail at two scales."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), 1.5)
    t += 2 * cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), 5)
    t -= t.min(axis=(0, 1))
    t /= t.max(axis=(0, 1))
    return (t * 255 + 0.5).astype(np.uint8)


def _stylize(img):
    """A fixed, pixel-wise 'stylization' (colour swap and a curve): consistent by construction."""
    f = img.astype(np.float32) / 255
    return ((1 - f[..., ::-1] ** 2) * 255 + 0.5).astype(np.uint8)


def self_test():
    failures = []
    t_start = time.perf_counter()

    def check(ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    # 1. The mask on hand-made flows: a 20x10 block moving 4 px right over a still background.
    h, w = 40, 60
    fw = np.zeros((h, w, 2), np.float32)
    bw = np.zeros((h, w, 2), np.float32)
    fw[10:30, 20:30, 0] = 4
    bw[10:30, 24:34, 0] = -4
    occ = occlusion(fw, bw)
    check(bool(occ[10:30, 30:34].all()), "mask: background the block covers at t+1 is flagged (forward-backward check)")
    check(not occ[11:29, 20:29].any(), "mask: the block's inside is kept (its flows agree)")
    check(bool(occ[10:30, 29].all() and occ[10:30, 19].all()), "mask: the block's edges are flagged (motion boundary)")
    check(not occ[:, 40:].any() and not occ[:5].any(), "mask: still background away from the block is kept")

    # 2. A textured scene shifted by a known integer motion per frame (a camera pan).
    dx, dy, n, fh, fw_ = 3, 2, 8, 120, 160
    canvas = _texture(fh + dy * n + 8, fw_ + dx * n + 8, seed=1)
    styled_canvas = _stylize(canvas)
    crop = lambda c, t: c[4 + dy * t:4 + dy * t + fh, 4 + dx * t:4 + dx * t + fw_]
    x = np.stack([crop(canvas, t) for t in range(n)])
    stable = np.stack([crop(styled_canvas, t) for t in range(n)])
    rng = np.random.default_rng(2)
    sigma = 0.05
    noisy = np.clip(stable.astype(np.float32) + rng.normal(0, 255 * sigma, stable.shape), 0, 255).round().astype(np.uint8)
    flow = Flow("medium")
    f = flow(grey(x[0]), grey(x[1]))
    med = np.median(f.reshape(-1, 2), axis=0)
    check(abs(med[0] + dx) < 0.2 and abs(med[1] + dy) < 0.2,
          f"flow: DIS finds the shift: median forward flow ({med[0]:.2f}, {med[1]:.2f}), expected ({-dx}, {-dy})")
    errs, masked, _, _, _ = warp_errors(x, [x, stable, noisy], flow)
    e_in, e_stable, e_noisy = errs.mean(axis=1)
    # The floor: the same error with the exact shift, all of it from the pixels whose match has left
    # the frame (the border repeats there; Lai et al.'s mask keeps them, and so does this one).
    exact = sample_maps(np.broadcast_to(np.array([-dx, -dy], np.float32), (fh, fw_, 2)).copy())
    floor = [np.mean([((v[t] / 255.0 - warp(v[t + 1].astype(np.float32) / 255, exact)) ** 2).mean()
                      for t in range(n - 1)]) for v in (x, stable)]
    expect = 2 * sigma ** 2  # two independent noises per pixel and channel
    print(f"     E_warp input {e_in:.2e} (exact shift: {floor[0]:.2e}), consistent stylization {e_stable:.2e} "
          f"(exact shift: {floor[1]:.2e}), per-frame noise {e_noisy:.2e} (about {expect:.1e} expected), "
          f"masked {100 * masked.mean():.1f}%")
    check(e_in < min(floor[0] + 2e-5, 0.1 * expect),
          "pan: E_warp of the input is near 0 (within 2e-5 of the exact shift's, which only the pixels "
          "leaving the frame make)")
    check(e_stable < min(floor[1] + 2e-5, 0.1 * expect),
          "pan: E_warp of a consistently shifted stylization is as near 0")
    check(0.5 * expect < e_noisy < 1.5 * expect and e_noisy > 10 * max(e_in, e_stable),
          "pan: E_warp of a stylization with independent per-frame noise is clearly larger")
    check(masked.mean() < 0.1, "pan: the mask keeps most of a pure translation")

    # 3. A synthetic occlusion: a textured square moving 4 px right over a still textured background.
    bg, fg = _texture(120, 160, seed=3), _texture(40, 40, seed=4)
    frames = []
    for t in range(3):
        im = bg.copy()
        im[40:80, 50 + 4 * t:90 + 4 * t] = fg
        frames.append(im)
    g0, g1 = grey(frames[0]), grey(frames[1])
    occ = occlusion(flow(g0, g1), flow(g1, g0))
    covered = occ[44:76, 90:94].mean()
    far = np.ones_like(occ)
    far[24:96, 34:110] = False
    check(covered > 0.7, f"occlusion: {100 * covered:.0f}% of the background the square covers is flagged")
    check(occ[far].mean() < 0.02, f"occlusion: {100 * occ[far].mean():.1f}% flagged far from the square")

    # 4. End to end through ffmpeg: lossless files, one stylized video at another size.
    with tempfile.TemporaryDirectory() as d:
        def write(arr, name, size=None):
            path = os.path.join(d, name)
            vf = ["-vf", f"scale={size[0]}:{size[1]}:flags=bicubic"] if size else []
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                            f"{arr.shape[2]}x{arr.shape[1]}", "-r", "10", "-i", "-", *vf, "-c:v", "ffv1",
                            "-pix_fmt", "bgr0", path], input=arr.tobytes(), check=True)
            return path
        pin, pst, pno = write(x, "in.mkv"), write(stable, "stable.mkv"), write(noisy, "noisy.mkv", (200, 150))
        check(np.array_equal(decode(pin), x), "decode: ffmpeg gives back the frames of a lossless file")
        r = measure(pin, [pst, pno], say=lambda s: None)
        ev = [v["e_warp"] for v in r["videos"]]
        check(abs(ev[0] - e_in) < 1e-9 and abs(ev[1] - e_stable) < 1e-9,
              "measure: files give the same E_warp as the frames in memory")
        check(any("resized" in s for s in r["notes"]) and ev[2] > 10 * ev[1],
              "measure: a stylized video of another size is resized, said so, and measured")
    print(f"{len(failures)} failed ({time.perf_counter() - t_start:.1f} s)")
    return 1 if failures else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", help="the input video (flow and mask come from it)")
    ap.add_argument("stylized", nargs="*", help="stylized videos of that input")
    ap.add_argument("--style", help="the painting: print each video's style loss against it and the style drop")
    ap.add_argument("--frames", type=int, default=0, help="measure the first N frames only [all]")
    ap.add_argument("--flow-size", type=int, default=0, metavar="PIXELS",
                    help="compute the flow at this long side and resize it back [full size]")
    ap.add_argument("--preset", choices=PRESETS, default="medium", help="DIS preset [%(default)s]")
    ap.add_argument("--style-frames", type=int, default=8, help="evenly spaced frames for the style loss [%(default)s]")
    ap.add_argument("--style-frame-size", type=int, default=512, help="frames' long side for the style loss [%(default)s]")
    ap.add_argument("--style-size", type=int, default=384, help="painting's long side [%(default)s]")
    ap.add_argument("--vgg", help="loss network [models/vgg16_features.onnx]")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    ap.add_argument("--self-test", action="store_true", help="synthetic checks of the measure (seconds), then exit")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    if not a.input or not a.stylized:
        ap.error("give the input video and at least one stylized video (or --self-test)")
    r = measure(a.input, a.stylized, a.frames, a.flow_size, a.preset, a.style, a.style_frames,
                a.style_frame_size, a.style_size, a.vgg)
    print(report(r))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(r, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
