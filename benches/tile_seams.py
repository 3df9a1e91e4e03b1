#!/usr/bin/env python3
"""Tiled against whole frames over many photos at 1080p: PSNR and the seam measure, from vstyle.

    .venv/bin/python benches/tile_seams.py [--model models/scream.onnx] [--tile 1024] PHOTO...

Each photo is scaled and cropped to 1920x1080 (as benches/tile_statistics.py does) and run twice
with the defaults (`--precision auto`): whole (`--tile off`) and in tiles (`--tile`). Columns:

- `psnr`: the tiled output against the whole one (dB, 8-bit);
- `seam_t`, `seam_w`: the seam measure of benches/tiles.sh (the mean gradient across the lines
  where two tiles' cores meet, over that on every other line of the same 4-pixel grid phase) on
  the tiled output and on the whole output at the same lines; content that happens to lie on a
  border lifts both alike, so `t/w` (their ratio) is what the tiling adds;
- `local_t`, `local_w`: the same with only the grid lines 4 to 16 pixels to either side of each
  border as the reference.

About 10 s a photo on 2 cores.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tile_statistics import frame_1080  # noqa: E402

NEAR = (-16, -12, -8, -4, 4, 8, 12, 16)


def seam(img, xs, ys):
    """(over the other lines of the grid phase, over the lines near the borders); NaN without
    borders. Borders lie on the network's 4-pixel grid, where its upsampling leaves a faint
    period of its own: hence the comparison with the other lines of the same phase."""
    gx = np.abs(np.diff(img, axis=1)).mean(axis=(0, 2))  # gx[i]: between columns i and i+1
    gy = np.abs(np.diff(img, axis=0)).mean(axis=(1, 2))
    on = [gx[x - 1] for x in xs] + [gy[y - 1] for y in ys]
    if not on:
        return float("nan"), float("nan")

    def phase(g, borders):
        return [g[i] for i in range(len(g)) if (i + 1) % 4 == 0 and i + 1 not in borders]

    off = phase(gx, xs) + phase(gy, ys)
    near = [gx[x - 1 + o] for x in xs for o in NEAR] + [gy[y - 1 + o] for y in ys for o in NEAR]
    return np.mean(on) / np.mean(off), np.mean(on) / np.mean(near)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/scream.onnx")
    ap.add_argument("--tile", default="1024", help="--tile of the tiled runs [1024]")
    ap.add_argument("--vstyle", default="target/release/vstyle")
    ap.add_argument("photos", nargs="+")
    a = ap.parse_args()
    work = tempfile.mkdtemp()

    def run(src, out, tile):
        cmd = [a.vstyle, src, "-m", a.model, "--tile", tile, "-o", out, "-y", "-v"]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stderr

    cols = ["psnr", "seam_t", "seam_w", "t/w", "local_t", "local_w"]
    print(f"{'photo':<32}" + "".join(f"{c:>8}" for c in cols))
    rows = []
    for p in a.photos:
        src, whole, tiled = (os.path.join(work, n) for n in ("in.png", "whole.png", "tiled.png"))
        frame_1080(p).save(src)
        run(src, whole, "off")
        log = run(src, tiled, a.tile)
        m = re.search(r"tile borders x=([0-9,]*) y=([0-9,]*)", log)
        if not m:
            sys.exit(f"{p}: the tiled run printed no tile borders (did it run whole?)")
        xs = [int(v) for v in m.group(1).split(",") if v]
        ys = [int(v) for v in m.group(2).split(",") if v]
        w = np.asarray(Image.open(whole).convert("RGB"), np.float64)
        t = np.asarray(Image.open(tiled).convert("RGB"), np.float64)
        psnr = 10 * np.log10(255**2 / max(((w - t) ** 2).mean(), 1e-12))
        (st, lt), (sw, lw) = seam(t, xs, ys), seam(w, xs, ys)
        rows.append([psnr, st, sw, st / sw, lt, lw])
        print(f"{os.path.basename(p)[:31]:<32}" + "".join(f"{v:8.3f}" for v in rows[-1]), flush=True)
    print(f"{'mean':<32}" + "".join(f"{v:8.3f}" for v in np.mean(rows, axis=0)))


if __name__ == "__main__":
    main()
