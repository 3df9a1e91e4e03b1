//! Stability in motion (`--temporal`): painted strokes that stay on the objects instead of
//! re-forming every frame.
//!
//! Each output frame is blended with the previous *output*, moved by the motion between the two
//! *input* frames, wherever the input shows the pixel is the same surface:
//!
//! 1. [`MotionEstimator`] (in the decode stage, which has time to spare while the network works)
//!    measures the dense motion from frame t back to frame t−1 with a small dense inverse search
//!    (after Kroeger et al. 2016, "Fast Optical Flow using Dense Inverse Search": patches moved
//!    by inverse-compositional Gauss–Newton steps, coarse to fine, then averaged into a dense
//!    field), at half the processing size; and a visibility weight per pixel from how well the
//!    moved previous input matches the current one (Lai et al. 2018's mask,
//!    `exp(−50·‖I_t − warp(I_{t−1})‖²)`, colours 0..1). A frame that matches little of the
//!    previous one is a scene cut: no motion, the blend starts afresh.
//! 2. [`TemporalBlend`] (in the encode stage, after the frames are back in order) warps the
//!    previous output to the current frame with Catmull–Rom interpolation — sharper than
//!    bilinear, whose blur would accumulate from frame to frame and wash out the strokes — mixes
//!    it in with weight `strength × visibility`, and keeps the network's own finest grain, which
//!    belongs to the picture's grid rather than to the objects (see [`keep_own_grain`]).

use crate::frame::Frame;
pub use crate::motion::{Flow, Motion};

/// The flow is measured at this fraction of the processing size.
const FLOW_SCALE: usize = 2;
/// Patch side and step of the inverse search (pixels of the level being searched).
const PATCH: usize = 8;
const STRIDE: usize = 4;
/// Gauss–Newton steps per patch per level.
const ITERATIONS: usize = 8;
/// Coarsest level's shorter side is at least this many pixels.
const COARSEST: usize = 12;
/// Lai et al.'s visibility: `exp(−VISIBILITY_K · ‖ΔRGB‖²)` with colours in 0..1.
const VISIBILITY_K: f32 = 50.0;
/// Below this mean visibility, frame t shows (mostly) something else than frame t−1.
const SCENE_CUT: f32 = 0.3;

/// A grey picture, values 0..255.
#[derive(Debug, Clone, PartialEq)]
struct Grey {
    w: usize,
    h: usize,
    px: Vec<f32>,
}

impl Grey {
    /// Full-range BT.601 luma of packed RGB24, box-filtered down by `factor`.
    fn from_rgb(rgb: &[u8], width: usize, height: usize, factor: usize) -> Self {
        let (w, h) = ((width / factor).max(1), (height / factor).max(1));
        let mut px = vec![0.0; w * h];
        let norm = 1.0 / (factor * factor) as f32;
        for (y, row) in px.chunks_exact_mut(w).enumerate() {
            for (x, out) in row.iter_mut().enumerate() {
                let mut sum = 0.0;
                for dy in 0..factor {
                    let sy = (y * factor + dy).min(height - 1);
                    let line = &rgb[sy * width * 3..][..width * 3];
                    for dx in 0..factor {
                        let sx = (x * factor + dx).min(width - 1);
                        let p = &line[sx * 3..sx * 3 + 3];
                        sum += 0.299 * f32::from(p[0])
                            + 0.587 * f32::from(p[1])
                            + 0.114 * f32::from(p[2]);
                    }
                }
                *out = sum * norm;
            }
        }
        Self { w, h, px }
    }

    fn half(&self) -> Self {
        let (w, h) = ((self.w / 2).max(1), (self.h / 2).max(1));
        let mut px = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let (x0, y0) = ((2 * x).min(self.w - 1), (2 * y).min(self.h - 1));
                let (x1, y1) = ((2 * x + 1).min(self.w - 1), (2 * y + 1).min(self.h - 1));
                px[y * w + x] =
                    0.25 * (self.at(x0, y0) + self.at(x1, y0) + self.at(x0, y1) + self.at(x1, y1));
            }
        }
        Self { w, h, px }
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> f32 {
        self.px[y * self.w + x]
    }

    /// Bilinear sample at `(x, y)`, clamped to the picture.
    #[inline]
    fn sample(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let top = self.at(x0, y0) * (1.0 - fx) + self.at(x1, y0) * fx;
        let bottom = self.at(x0, y1) * (1.0 - fx) + self.at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// The `PATCH x PATCH` patch at `(x + u, y + v)`, bilinear, as [`Grey::sample`] gives
    /// it pixel by pixel; where the patch lies wholly inside, all its pixels share one set of
    /// weights.
    #[inline]
    fn patch(&self, x: usize, y: usize, u: f32, v: f32, out: &mut [f32; PATCH * PATCH]) {
        let (sx, sy) = (x as f32 + u, y as f32 + v);
        if sx >= 0.0
            && sy >= 0.0
            && sx + (PATCH as f32) < (self.w - 1) as f32
            && sy + (PATCH as f32) < (self.h - 1) as f32
        {
            let (x0, y0) = (sx as usize, sy as usize);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let (w00, w01, w10, w11) = (
                (1.0 - fx) * (1.0 - fy),
                fx * (1.0 - fy),
                (1.0 - fx) * fy,
                fx * fy,
            );
            for (j, line) in out.chunks_exact_mut(PATCH).enumerate() {
                let top = &self.px[(y0 + j) * self.w + x0..][..PATCH + 1];
                let bottom = &self.px[(y0 + j + 1) * self.w + x0..][..PATCH + 1];
                for (i, o) in line.iter_mut().enumerate() {
                    *o = top[i] * w00 + top[i + 1] * w01 + bottom[i] * w10 + bottom[i + 1] * w11;
                }
            }
            return;
        }
        for (j, line) in out.chunks_exact_mut(PATCH).enumerate() {
            for (i, o) in line.iter_mut().enumerate() {
                *o = self.sample((x + i) as f32 + u, (y + j) as f32 + v);
            }
        }
    }

    /// Central-difference gradients.
    fn gradients(&self) -> (Vec<f32>, Vec<f32>) {
        let mut gx = vec![0.0; self.px.len()];
        let mut gy = vec![0.0; self.px.len()];
        for y in 0..self.h {
            for x in 0..self.w {
                let (xl, xr) = (x.saturating_sub(1), (x + 1).min(self.w - 1));
                let (yu, yd) = (y.saturating_sub(1), (y + 1).min(self.h - 1));
                gx[y * self.w + x] = (self.at(xr, y) - self.at(xl, y)) / (xr - xl).max(1) as f32;
                gy[y * self.w + x] = (self.at(x, yd) - self.at(x, yu)) / (yd - yu).max(1) as f32;
            }
        }
        (gx, gy)
    }
}

impl Flow {
    fn zero(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            u: vec![0.0; w * h],
            v: vec![0.0; w * h],
        }
    }

    /// The field at another resolution, displacements scaled with it (bilinear).
    fn resized(&self, w: usize, h: usize) -> Self {
        let (sx, sy) = (self.w as f32 / w as f32, self.h as f32 / h as f32);
        let mut out = Self::zero(w, h);
        let (cols, rows) = (flow_taps(w, self.w), flow_taps(h, self.h));
        for (y, &(y0, y1, fy)) in rows.iter().enumerate() {
            let (r0, r1) = (y0 * self.w, y1 * self.w);
            let (ou, ov) = (&mut out.u[y * w..][..w], &mut out.v[y * w..][..w]);
            for ((&(x0, x1, fx), u), v) in cols.iter().zip(ou).zip(ov) {
                let lerp = |f: &[f32]| {
                    let top = f[r0 + x0] * (1.0 - fx) + f[r0 + x1] * fx;
                    let bottom = f[r1 + x0] * (1.0 - fx) + f[r1 + x1] * fx;
                    top * (1.0 - fy) + bottom * fy
                };
                *u = lerp(&self.u) / sx;
                *v = lerp(&self.v) / sy;
            }
        }
        out
    }

    /// The displacement at `(x, y)` (bilinear).
    pub fn at(&self, x: f32, y: f32) -> (f32, f32) {
        let sample = |f: &[f32]| {
            let x = x.clamp(0.0, (self.w - 1) as f32);
            let y = y.clamp(0.0, (self.h - 1) as f32);
            let (x0, y0) = (x as usize, y as usize);
            let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
            let (fx, fy) = (x - x0 as f32, y - y0 as f32);
            let at = |x: usize, y: usize| f[y * self.w + x];
            (at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx) * (1.0 - fy)
                + (at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx) * fy
        };
        (sample(&self.u), sample(&self.v))
    }
}

/// Refines `init` (at `cur`'s resolution) by inverse search of patches of `cur` in `prev`, and
/// densifies the patch displacements into a field.
fn inverse_search(cur: &Grey, prev: &Grey, init: &Flow) -> Flow {
    let (w, h) = (cur.w, cur.h);
    if w < PATCH || h < PATCH {
        return init.clone();
    }
    let (gx, gy) = cur.gradients();
    let xs: Vec<usize> = grid(w);
    let ys: Vec<usize> = grid(h);
    let mut acc_u = vec![0.0f32; w * h];
    let mut acc_v = vec![0.0f32; w * h];
    let mut acc_w = vec![0.0f32; w * h];
    let n = (PATCH * PATCH) as f32;
    let mut tmpl = [0.0f32; PATCH * PATCH];
    let mut tgx = [0.0f32; PATCH * PATCH];
    let mut tgy = [0.0f32; PATCH * PATCH];
    for &py in &ys {
        for &px in &xs {
            // Template: the patch of the current frame, mean removed (robust to light changes).
            let (mut hxx, mut hxy, mut hyy, mut mean) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
            for j in 0..PATCH {
                for i in 0..PATCH {
                    let k = (py + j) * w + px + i;
                    let t = j * PATCH + i;
                    tmpl[t] = cur.px[k];
                    tgx[t] = gx[k];
                    tgy[t] = gy[k];
                    mean += cur.px[k];
                    hxx += gx[k] * gx[k];
                    hxy += gx[k] * gy[k];
                    hyy += gy[k] * gy[k];
                }
            }
            mean /= n;
            let gsum = (tgx.iter().sum::<f32>(), tgy.iter().sum::<f32>());
            let tdot = tmpl
                .iter()
                .zip(&tgx)
                .zip(&tgy)
                .fold((0.0f32, 0.0f32), |(a, b), ((t, x), y)| {
                    (a + x * (t - mean), b + y * (t - mean))
                });
            let det = hxx * hyy - hxy * hxy;
            let centre = (
                px as f32 + PATCH as f32 / 2.0,
                py as f32 + PATCH as f32 / 2.0,
            );
            let (mut u, mut v) = init.at(centre.0, centre.1);
            if det > 1e-3 * (hxx + hyy).powi(2).max(1e-6) {
                for _ in 0..ITERATIONS {
                    // The moved patch of the previous frame, its mean removed too.
                    let mut warped = [0.0f32; PATCH * PATCH];
                    prev.patch(px, py, u, v, &mut warped);
                    // b = Σ g·((warped − wmean) − (tmpl − mean)) = Σ g·warped − wmean·Σ g − Σ
                    // g·(tmpl − mean), the last two known before the loop; the sums in eight
                    // lanes, so they vectorise.
                    let (mut sw, mut sx, mut sy) =
                        ([0.0f32; PATCH], [0.0f32; PATCH], [0.0f32; PATCH]);
                    for ((wr, gxr), gyr) in warped
                        .chunks_exact(PATCH)
                        .zip(tgx.chunks_exact(PATCH))
                        .zip(tgy.chunks_exact(PATCH))
                    {
                        for i in 0..PATCH {
                            sw[i] += wr[i];
                            sx[i] += gxr[i] * wr[i];
                            sy[i] += gyr[i] * wr[i];
                        }
                    }
                    let wmean = sw.iter().sum::<f32>() / n;
                    let bx = sx.iter().sum::<f32>() - wmean * gsum.0 - tdot.0;
                    let by = sy.iter().sum::<f32>() - wmean * gsum.1 - tdot.1;
                    // Inverse compositional step: solve H·Δ = b, move against it.
                    let du = (hyy * bx - hxy * by) / det;
                    let dv = (hxx * by - hxy * bx) / det;
                    u -= du;
                    v -= dv;
                    if du * du + dv * dv < 1e-4 {
                        break;
                    }
                }
            }
            // Densify: every pixel of the patch gets the patch's displacement, weighted by how
            // well the patch matches there.
            let mut moved = [0.0f32; PATCH * PATCH];
            prev.patch(px, py, u, v, &mut moved);
            for j in 0..PATCH {
                for i in 0..PATCH {
                    let k = (py + j) * w + px + i;
                    let e = moved[j * PATCH + i] - cur.px[k];
                    let weight = 1.0 / e.abs().max(1.0);
                    acc_u[k] += weight * u;
                    acc_v[k] += weight * v;
                    acc_w[k] += weight;
                }
            }
        }
    }
    let mut out = Flow::zero(w, h);
    for k in 0..w * h {
        if acc_w[k] > 0.0 {
            out.u[k] = acc_u[k] / acc_w[k];
            out.v[k] = acc_v[k] / acc_w[k];
        } else {
            out.u[k] = init.u[k];
            out.v[k] = init.v[k];
        }
    }
    out
}

/// Patch positions along a side of `len`: every STRIDE pixels, and one flush with the end.
fn grid(len: usize) -> Vec<usize> {
    let last = len - PATCH;
    let mut v: Vec<usize> = (0..=last).step_by(STRIDE).collect();
    if v.last() != Some(&last) {
        v.push(last);
    }
    v
}

/// Where `--temporal` takes the motion from (`--temporal-motion`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum MotionSource {
    /// A dense flow computed from the decoded frames.
    #[default]
    Flow,
    /// The decoder's motion vectors where they point at the previous frame (P frames right after
    /// an I or P frame), the flow on the other frames.
    Decoder,
}

/// One block's motion vector from the decoder, in pixels of the processing size: the `w x h`
/// block centred at `(x, y)` shows what was at `(x + u, y + v)` in the previous frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockVector {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub u: f32,
    pub v: f32,
}

/// Radius (flow pixels) of the normalised box filter that turns the decoder's block vectors into
/// a smooth field: about one 16x16 macroblock at half size, so block edges do not tear the warp.
const BLOCK_SMOOTHING: usize = 4;

/// The block vectors as a dense field at `w x h` (`1/FLOW_SCALE` of the processing size): each
/// block's vector over its area, then a normalised box filter (which also fills small gaps, such
/// as intra blocks, from their neighbours); where no block is near, no motion.
fn densify(vectors: &[BlockVector], w: usize, h: usize) -> Flow {
    // (Σu, Σv, count) per flow pixel, packed for the 3-channel box filter.
    let mut acc = vec![0.0f32; w * h * 3];
    let s = FLOW_SCALE as f32;
    for b in vectors {
        let span = |c: f32, size: f32, n: usize| {
            let lo = ((c - size / 2.0) / s).round().clamp(0.0, n as f32) as usize;
            let hi = ((c + size / 2.0) / s).round().clamp(0.0, n as f32) as usize;
            lo..hi
        };
        let (xs, ys) = (span(b.x, b.w, w), span(b.y, b.h, h));
        let (u, v) = (b.u / s, b.v / s);
        if !(u.is_finite() && v.is_finite()) {
            continue;
        }
        for y in ys {
            for a in acc[(y * w + xs.start) * 3..(y * w + xs.end) * 3].chunks_exact_mut(3) {
                a[0] += u;
                a[1] += v;
                a[2] += 1.0;
            }
        }
    }
    let mut scratch = BoxScratch::default();
    let smooth = box_blur_into(&acc, w, h, BLOCK_SMOOTHING, &mut scratch);
    let mut flow = Flow::zero(w, h);
    for (k, a) in smooth.chunks_exact(3).enumerate() {
        if a[2] > 1e-3 {
            flow.u[k] = a[0] / a[2];
            flow.v[k] = a[1] / a[2];
        }
    }
    flow
}

/// Measures the motion between consecutive frames of one video, in decode order.
#[derive(Debug, Default)]
pub struct MotionEstimator {
    /// The previous frame: its pyramid (finest first) and its colours at flow resolution.
    prev: Option<(Vec<Grey>, Vec<[f32; 3]>)>,
}

impl MotionEstimator {
    /// The motion from this frame back to the previous one; `None` for the first frame, after a
    /// size change, and at a scene cut.
    pub fn next(&mut self, rgb: &[u8], width: usize, height: usize) -> Option<Motion> {
        self.next_with(rgb, width, height, None)
    }

    /// As [`MotionEstimator::next`], with the decoder's motion vectors back to the previous frame
    /// when there are some: then the field comes from them instead of the search.
    pub fn next_with(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
        vectors: Option<&[BlockVector]>,
    ) -> Option<Motion> {
        let base = Grey::from_rgb(rgb, width, height, FLOW_SCALE);
        let colours = colours_at(rgb, width, height, base.w, base.h);
        let mut pyramid = vec![base];
        while pyramid.last().is_some_and(|g| g.w.min(g.h) / 2 >= COARSEST) {
            let next = pyramid.last().expect("non-empty").half();
            pyramid.push(next);
        }
        let prev = self.prev.replace((pyramid, colours));
        let (prev_pyr, prev_colours) = prev?;
        let (cur_pyr, cur_colours) = self.prev.as_ref().expect("just set");
        if prev_pyr[0].w != cur_pyr[0].w || prev_pyr[0].h != cur_pyr[0].h {
            return None;
        }
        let fine = &cur_pyr[0];
        let flow = match vectors {
            Some(v) => densify(v, fine.w, fine.h),
            None => {
                let coarsest = cur_pyr.last().expect("non-empty");
                let mut flow = Flow::zero(coarsest.w, coarsest.h);
                for level in (0..cur_pyr.len()).rev() {
                    let (c, p) = (&cur_pyr[level], &prev_pyr[level]);
                    if flow.w != c.w || flow.h != c.h {
                        flow = flow.resized(c.w, c.h);
                    }
                    flow = inverse_search(c, p, &flow);
                }
                flow
            }
        };
        let visibility = visibility(&flow, cur_colours, &prev_colours, fine.w, fine.h);
        let motion = Motion { flow, visibility };
        (motion.coverage() >= SCENE_CUT).then_some(motion)
    }
}

/// The colours (0..1) of packed RGB24 box-filtered to `w x h`.
fn colours_at(rgb: &[u8], width: usize, height: usize, w: usize, h: usize) -> Vec<[f32; 3]> {
    let (fx, fy) = (width / w.max(1), height / h.max(1));
    let (fx, fy) = (fx.max(1), fy.max(1));
    let mut out = vec![[0.0f32; 3]; w * h];
    let norm = 1.0 / (255.0 * (fx * fy) as f32);
    for y in 0..h {
        for x in 0..w {
            let mut s = [0.0f32; 3];
            for dy in 0..fy {
                let sy = (y * fy + dy).min(height - 1);
                for dx in 0..fx {
                    let sx = (x * fx + dx).min(width - 1);
                    let p = &rgb[(sy * width + sx) * 3..][..3];
                    for c in 0..3 {
                        s[c] += f32::from(p[c]);
                    }
                }
            }
            out[y * w + x] = s.map(|v| v * norm);
        }
    }
    out
}

/// Lai et al.'s visibility of each pixel: `exp(−50·‖I_t − warp(I_{t−1})‖²)`.
fn visibility(flow: &Flow, cur: &[[f32; 3]], prev: &[[f32; 3]], w: usize, h: usize) -> Vec<f32> {
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let k = y * w + x;
            let (sx, sy) = (x as f32 + flow.u[k], y as f32 + flow.v[k]);
            if sx < 0.0 || sy < 0.0 || sx > (w - 1) as f32 || sy > (h - 1) as f32 {
                continue; // came in from outside the picture
            }
            let p = bilinear3(prev, w, h, sx, sy);
            let d: f32 = (0..3).map(|c| (cur[k][c] - p[c]).powi(2)).sum();
            out[k] = (-VISIBILITY_K * d).exp();
        }
    }
    out
}

fn bilinear3(px: &[[f32; 3]], w: usize, h: usize, x: f32, y: f32) -> [f32; 3] {
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = px[y0 * w + x0][c] * (1.0 - fx) + px[y0 * w + x1][c] * fx;
        let bottom = px[y1 * w + x0][c] * (1.0 - fx) + px[y1 * w + x1][c] * fx;
        *o = top * (1.0 - fy) + bottom * fy;
    }
    out
}

/// Catmull–Rom weights for a fractional offset `t` in 0..1 (taps at −1, 0, 1, 2).
#[inline]
fn catmull_rom(t: f32) -> [f32; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ]
}

/// Packed RGB24 as four floats a pixel (RGB and a zero), so that each Catmull–Rom tap is one
/// four-lane multiply-add.
fn to_rgbx(rgb: &[u8], out: &mut Vec<[f32; 4]>) {
    out.clear();
    out.extend(
        rgb.chunks_exact(3)
            .map(|p| [f32::from(p[0]), f32::from(p[1]), f32::from(p[2]), 0.0]),
    );
}

/// Samples an RGBX `w x h` picture at `(x, y)`, both `>= 0`, with Catmull–Rom interpolation
/// (edges clamped).
#[inline]
fn sample_cubic(px: &[[f32; 4]], w: usize, h: usize, x: f32, y: f32) -> [f32; 4] {
    // Not negative: truncation is the floor (`floor` itself is a library call on baseline x86-64).
    let (xi, yi) = (x as usize, y as usize);
    let (wx, wy) = (catmull_rom(x - xi as f32), catmull_rom(y - yi as f32));
    let mut out = [0.0f32; 4];
    if xi >= 1 && yi >= 1 && xi + 2 < w && yi + 2 < h {
        // Inside: four rows of four pixels, no clamping.
        for (j, &wyj) in wy.iter().enumerate() {
            let row = &px[(yi - 1 + j) * w + xi - 1..][..4];
            let mut acc = [0.0f32; 4];
            for (p, &wxi) in row.iter().zip(&wx) {
                for c in 0..4 {
                    acc[c] += wxi * p[c];
                }
            }
            for c in 0..4 {
                out[c] += wyj * acc[c];
            }
        }
        return out;
    }
    for (j, &wyj) in wy.iter().enumerate() {
        let sy = (yi + j).saturating_sub(1).min(h - 1);
        let mut acc = [0.0f32; 4];
        for (i, &wxi) in wx.iter().enumerate() {
            let p = px[sy * w + (xi + i).saturating_sub(1).min(w - 1)];
            for c in 0..4 {
                acc[c] += wxi * p[c];
            }
        }
        for c in 0..4 {
            out[c] += wyj * acc[c];
        }
    }
    out
}

/// For each of `n` frame pixels along a side, the two flow pixels (of `flow_n`) around its
/// centre and the second one's bilinear weight.
fn flow_taps(n: usize, flow_n: usize) -> Vec<(usize, usize, f32)> {
    let s = flow_n as f32 / n as f32;
    let max = (flow_n - 1) as f32;
    (0..n)
        .map(|i| {
            let f = ((i as f32 + 0.5) * s - 0.5).clamp(0.0, max);
            let i0 = f as usize;
            (i0, (i0 + 1).min(flow_n - 1), f - i0 as f32)
        })
        .collect()
}

/// Calls `each(k, colour, weight)` for every pixel `k` of a `w x h` frame whose source in the
/// previous output `prev` (RGBX, moved by `motion`) lies inside the picture: the Catmull–Rom
/// sample there and its visibility.
fn for_each_warped(
    prev: &[[f32; 4]],
    w: usize,
    h: usize,
    motion: &Motion,
    mut each: impl FnMut(usize, [f32; 4], f32),
) {
    let flow = &motion.flow;
    let fw = flow.w;
    let (cols, rows) = (flow_taps(w, fw), flow_taps(h, flow.h));
    let (to_x, to_y) = (w as f32 / fw as f32, h as f32 / flow.h as f32);
    let (max_x, max_y) = ((w - 1) as f32, (h - 1) as f32);
    let (fu, fv, vis) = (&flow.u[..], &flow.v[..], &motion.visibility[..]);
    for (y, &(y0, y1, fy)) in rows.iter().enumerate() {
        let (r0, r1) = (y0 * fw, y1 * fw);
        for (x, &(x0, x1, fx)) in cols.iter().enumerate() {
            let (w00, w01, w10, w11) = (
                (1.0 - fx) * (1.0 - fy),
                fx * (1.0 - fy),
                (1.0 - fx) * fy,
                fx * fy,
            );
            let lerp = |f: &[f32]| {
                f[r0 + x0] * w00 + f[r0 + x1] * w01 + f[r1 + x0] * w10 + f[r1 + x1] * w11
            };
            let weight = lerp(vis);
            if weight.is_nan() || weight <= 0.0 {
                continue;
            }
            let (sx, sy) = (x as f32 + lerp(fu) * to_x, y as f32 + lerp(fv) * to_y);
            // Also false for NaN.
            if !(sx >= 0.0 && sy >= 0.0 && sx <= max_x && sy <= max_y) {
                continue;
            }
            each(y * w + x, sample_cubic(prev, w, h, sx, sy), weight);
        }
    }
}

/// The previous output moved by `motion` to the current frame's place (Catmull–Rom), and the
/// weight of each pixel (visibility; 0 where the source lies outside the picture).
pub fn warp_previous(prev: &[u8], w: usize, h: usize, motion: &Motion) -> (Vec<u8>, Vec<f32>) {
    let mut rgbx = Vec::new();
    to_rgbx(prev, &mut rgbx);
    let mut out = vec![0u8; w * h * 3];
    let mut weight = vec![0.0f32; w * h];
    for_each_warped(&rgbx, w, h, motion, |k, c, vis| {
        for (o, &v) in out[k * 3..k * 3 + 3].iter_mut().zip(&c) {
            *o = crate::frame::to_u8(v);
        }
        weight[k] = vis;
    });
    (out, weight)
}

/// Blends each output frame, in order, with the previous output moved by the input's motion.
#[derive(Debug)]
pub struct TemporalBlend {
    strength: f32,
    /// The previous output's size, and its pixels as RGBX floats.
    previous: Option<(u32, u32)>,
    prev: Vec<[f32; 4]>,
    /// Buffers kept from frame to frame: the blend's change to the frame and the box filter's.
    change: Vec<f32>,
    scratch: BoxScratch,
}

impl TemporalBlend {
    /// `strength` in 0..1: the previous output's weight where the surface continues.
    pub fn new(strength: f32) -> Self {
        Self {
            strength: strength.clamp(0.0, 1.0),
            previous: None,
            prev: Vec::new(),
            change: Vec::new(),
            scratch: BoxScratch::default(),
        }
    }

    /// Blends `frame` (stylized, at the processing size, carrying the motion its input had) in
    /// place and keeps it as the next frame's previous output. A frame without motion (the
    /// first, a scene cut) starts afresh.
    ///
    /// The blend `(1 − a)·own + a·warped` (`a` = strength × visibility) with the network's own
    /// grain kept ([`keep_own_grain`]) is `own + box(a·(warped − own))`: one box filter, of the
    /// change alone.
    pub fn apply(&mut self, frame: &mut Frame) {
        let (w, h) = (frame.width as usize, frame.height as usize);
        if let (Some(motion), Some(size)) = (&frame.motion, self.previous)
            && size == (frame.width, frame.height)
        {
            let change = &mut self.change;
            change.clear();
            change.resize(w * h * 3, 0.0);
            let (own, strength) = (&frame.rgb, self.strength);
            for_each_warped(&self.prev, w, h, motion, |k, p, vis| {
                let a = strength * vis;
                let (o, d) = (&own[k * 3..k * 3 + 3], &mut change[k * 3..k * 3 + 3]);
                for c in 0..3 {
                    d[c] = a * (p[c] - f32::from(o[c]));
                }
            });
            let low = box_blur_into(change, w, h, GRAIN_RADIUS, &mut self.scratch);
            for (o, &d) in frame.rgb.iter_mut().zip(low.iter()) {
                *o = crate::frame::to_u8(f32::from(*o) + d);
            }
        }
        self.previous = Some((frame.width, frame.height));
        to_rgbx(&frame.rgb, &mut self.prev);
        frame.motion = None;
    }
}

/// Radius of the box filter that splits off a frame's finest grain (its detail at 1-2 pixels).
const GRAIN_RADIUS: usize = 2;

/// Puts the network's own finest grain back into the blend: `blend − box(blend) + (own −
/// box(own))` at [`GRAIN_RADIUS`], computed as `own + box(blend − own)` (the box is linear).
///
/// The networks paint a fine grain (a hatching a pixel or two across) that belongs to the
/// picture's grid rather than to the objects, so moved with the objects it lands between the
/// grain of the new frame, and the blend of the two cancels it: the painting loses its finest
/// texture, which is most of what its style statistics see (measured: the Gram style loss rose
/// by 20-40% on real clips). The strokes and colours above that scale follow the motion; the
/// grain stays the network's own.
#[cfg(test)]
fn keep_own_grain(stylized: &[u8], blended: &mut [f32], w: usize, h: usize) {
    let change: Vec<f32> = blended
        .iter()
        .zip(stylized)
        .map(|(b, &o)| b - f32::from(o))
        .collect();
    let low = box_blur(&change, w, h, GRAIN_RADIUS);
    for ((b, &o), l) in blended.iter_mut().zip(stylized).zip(&low) {
        *b = f32::from(o) + l;
    }
}

/// The box filter's buffers, kept between frames.
#[derive(Debug, Default)]
struct BoxScratch {
    /// One row with its edge pixels repeated `r` times on each side.
    padded: Vec<f32>,
    /// The horizontal pass.
    rows: Vec<f32>,
    /// The result.
    out: Vec<f32>,
}

/// Box filter of side `2r + 1` over packed 3-channel `w x h` values (edges clamped): each pass
/// adds `2r + 1` shifted copies of a row, which vectorises (`r` is small).
#[cfg(test)]
fn box_blur(px: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut scratch = BoxScratch::default();
    box_blur_into(px, w, h, r, &mut scratch);
    scratch.out
}

fn box_blur_into<'a>(
    px: &[f32],
    w: usize,
    h: usize,
    r: usize,
    scratch: &'a mut BoxScratch,
) -> &'a [f32] {
    let n = w * 3;
    let norm = 1.0 / (2 * r + 1) as f32;
    let BoxScratch { padded, rows, out } = scratch;
    rows.clear();
    rows.resize(px.len(), 0.0);
    out.clear();
    out.resize(px.len(), 0.0);
    padded.clear();
    padded.resize(n + 6 * r, 0.0);
    for (line, row) in px.chunks_exact(n).zip(rows.chunks_exact_mut(n)) {
        for t in 0..r {
            padded[3 * t..3 * t + 3].copy_from_slice(&line[..3]);
            padded[n + 3 * (r + t)..n + 3 * (r + t) + 3].copy_from_slice(&line[n - 3..]);
        }
        padded[3 * r..3 * r + n].copy_from_slice(line);
        row.copy_from_slice(&padded[..n]);
        for t in 1..=2 * r {
            for (o, &p) in row.iter_mut().zip(&padded[3 * t..3 * t + n]) {
                *o += p;
            }
        }
        for o in row.iter_mut() {
            *o *= norm;
        }
    }
    let row = |y: isize| &rows[y.clamp(0, h as isize - 1) as usize * n..][..n];
    for (y, line) in out.chunks_exact_mut(n).enumerate() {
        let y = y as isize;
        line.copy_from_slice(row(y - r as isize));
        for t in 1..=2 * r as isize {
            for (o, &p) in line.iter_mut().zip(row(y - r as isize + t)) {
                *o += p;
            }
        }
        for o in line.iter_mut() {
            *o *= norm;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth texture (no flat areas, no aliasing): sums of sines.
    fn texture(w: usize, h: usize, dx: f32, dy: f32) -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32 - dx, y as f32 - dy);
                let a = 128.0
                    + 60.0 * (fx * 0.21).sin() * (fy * 0.17).cos()
                    + 40.0 * ((fx + fy) * 0.09).sin();
                let b = 128.0 + 70.0 * (fy * 0.13 + 1.0).sin();
                v.extend_from_slice(&[a as u8, b as u8, ((a + b) / 2.0) as u8]);
            }
        }
        v
    }

    #[test]
    fn a_shifted_texture_gives_its_shift_back() {
        let (w, h) = (160, 120);
        let mut est = MotionEstimator::default();
        assert!(
            est.next(&texture(w, h, 0.0, 0.0), w, h).is_none(),
            "first frame"
        );
        // The content moves right by 6 px and down by 4: pixel (x, y) of frame t was at
        // (x − 6, y − 4) in frame t−1.
        let m = est.next(&texture(w, h, 6.0, 4.0), w, h).expect("motion");
        let (fw, fh) = (m.flow.w, m.flow.h);
        let mut errs = Vec::new();
        for y in fh / 4..3 * fh / 4 {
            for x in fw / 4..3 * fw / 4 {
                let k = y * fw + x;
                // At half resolution: −3, −2.
                errs.push(((m.flow.u[k] + 3.0).powi(2) + (m.flow.v[k] + 2.0).powi(2)).sqrt());
            }
        }
        errs.sort_by(f32::total_cmp);
        let median = errs[errs.len() / 2];
        assert!(median < 0.15, "median end-point error {median} px");
        assert!(m.coverage() > 0.8, "coverage {}", m.coverage());
    }

    /// 16x16 blocks over a `w x h` frame, each with the vector `(u, v)`, but for `missing`.
    fn blocks(w: usize, h: usize, u: f32, v: f32, missing: &[(usize, usize)]) -> Vec<BlockVector> {
        let mut out = Vec::new();
        for by in 0..h / 16 {
            for bx in 0..w / 16 {
                if !missing.contains(&(bx, by)) {
                    out.push(BlockVector {
                        x: (bx * 16 + 8) as f32,
                        y: (by * 16 + 8) as f32,
                        w: 16.0,
                        h: 16.0,
                        u,
                        v,
                    });
                }
            }
        }
        out
    }

    #[test]
    fn decoder_vectors_of_a_shift_give_the_shift_back() {
        let (w, h) = (160, 128);
        let mut est = MotionEstimator::default();
        est.next_with(&texture(w, h, 0.0, 0.0), w, h, None);
        // One block without a vector (an intra block): its neighbours fill it in.
        let v = blocks(w, h, -6.0, -4.0, &[(4, 3)]);
        let m = est
            .next_with(&texture(w, h, 6.0, 4.0), w, h, Some(&v))
            .expect("motion");
        let worst = (0..m.flow.u.len())
            .map(|k| (m.flow.u[k] + 3.0).abs().max((m.flow.v[k] + 2.0).abs()))
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "worst error {worst} px");
        assert!(m.coverage() > 0.8, "coverage {}", m.coverage());
        // Vectors that do not fit the picture leave it unblended (low visibility), not moved.
        let mut est = MotionEstimator::default();
        est.next_with(&texture(w, h, 0.0, 0.0), w, h, None);
        let wrong = blocks(w, h, 6.0, 4.0, &[]);
        let m = est.next_with(&texture(w, h, 6.0, 4.0), w, h, Some(&wrong));
        assert!(
            m.is_none_or(|m| m.coverage() < 0.5),
            "wrong vectors trusted"
        );
    }

    #[test]
    fn warping_the_previous_frame_by_the_motion_gives_the_current_one() {
        let (w, h) = (160, 120);
        let (a, b) = (texture(w, h, 0.0, 0.0), texture(w, h, 5.0, -3.0));
        let mut est = MotionEstimator::default();
        est.next(&a, w, h);
        let m = est.next(&b, w, h).unwrap();
        let (warped, weight) = warp_previous(&a, w, h, &m);
        let (mut diffs, mut visible) = (Vec::new(), 0);
        for y in 10..h - 10 {
            for x in 10..w - 10 {
                let k = (y * w + x) * 3;
                diffs.push(i32::from(warped[k]).abs_diff(i32::from(b[k])));
                visible += usize::from(weight[y * w + x] > 0.5);
            }
        }
        diffs.sort_unstable();
        assert!(
            diffs[diffs.len() / 2] <= 2,
            "median difference {}",
            diffs[diffs.len() / 2]
        );
        assert!(
            visible * 100 >= 95 * diffs.len(),
            "visible: {visible} of {}",
            diffs.len()
        );
    }

    #[test]
    fn an_occluding_object_is_masked_out() {
        let (w, h) = (160, 120);
        let a = texture(w, h, 0.0, 0.0);
        let mut b = a.clone();
        // A flat block appears over the middle in frame t.
        for y in 40..80 {
            for x in 60..100 {
                b[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[250, 10, 10]);
            }
        }
        let mut est = MotionEstimator::default();
        est.next(&a, w, h);
        let m = est.next(&b, w, h).unwrap();
        let at = |x: usize, y: usize| m.visibility[(y / 2) * m.flow.w + x / 2];
        assert!(at(80, 60) < 0.05, "the new object: {}", at(80, 60));
        assert!(at(20, 20) > 0.9, "the unchanged background: {}", at(20, 20));
    }

    #[test]
    fn a_scene_cut_resets_the_blend() {
        let (w, h) = (96, 64);
        let mut est = MotionEstimator::default();
        est.next(&texture(w, h, 0.0, 0.0), w, h);
        let other: Vec<u8> = texture(w, h, 0.0, 0.0).iter().map(|v| 255 - v).collect();
        assert!(est.next(&other, w, h).is_none(), "a cut has no motion");

        // The blend: a frame without motion comes out as it went in.
        let mut blend = TemporalBlend::new(0.8);
        let mut f0 = Frame::blank(0, w as u32, h as u32);
        f0.rgb.fill(200);
        blend.apply(&mut f0);
        let mut f1 = Frame::blank(1, w as u32, h as u32);
        f1.rgb.fill(40);
        blend.apply(&mut f1);
        assert!(f1.rgb.iter().all(|&v| v == 40), "no motion: no blend");
        // With full visibility and no movement, it takes `strength` of the previous output.
        let mut f2 = Frame::blank(2, w as u32, h as u32);
        f2.rgb.fill(140);
        let (fw, fh) = (w / FLOW_SCALE, h / FLOW_SCALE);
        f2.motion = Some(Box::new(Motion {
            flow: Flow::zero(fw, fh),
            visibility: vec![1.0; fw * fh],
        }));
        blend.apply(&mut f2);
        // 0.2 * 140 + 0.8 * 40 = 60
        assert!(f2.rgb.iter().all(|&v| v == 60), "{:?}", &f2.rgb[..6]);
        assert!(f2.motion.is_none(), "the motion is dropped once used");
    }

    #[test]
    fn the_box_filter_averages_and_keeps_flat_areas() {
        let (w, h) = (9, 5);
        let flat = vec![7.0f32; w * h * 3];
        assert!(
            box_blur(&flat, w, h, 2)
                .iter()
                .all(|&v| (v - 7.0).abs() < 1e-4)
        );
        let mut spike = vec![0.0f32; w * h * 3];
        spike[(2 * w + 4) * 3] = 49.0;
        let b = box_blur(&spike, w, h, 3);
        assert!((b[(2 * w + 4) * 3] - 1.0).abs() < 1e-4, "49 over a 7x7 box");
    }

    #[test]
    fn the_blend_keeps_the_networks_own_grain() {
        // The new frame: a one-pixel checkerboard (grain) on grey; the blend: a flat colour.
        // What comes out has the blend's local mean and the new frame's grain.
        let (w, h) = (16, 16);
        let own: Vec<u8> = (0..w * h)
            .flat_map(|k| {
                let v = if (k % w + k / w) % 2 == 0 { 140 } else { 100 };
                [v, v, v]
            })
            .collect();
        let mut blended = vec![60.0f32; w * h * 3];
        keep_own_grain(&own, &mut blended, w, h);
        let at = |x: usize, y: usize| blended[(y * w + x) * 3];
        let (a, b) = (at(8, 8), at(9, 8));
        assert!((a - b).abs() > 30.0, "the grain is there: {a} {b}");
        assert!(
            ((a + b) / 2.0 - 60.0).abs() < 3.0,
            "around the blend's mean: {a} {b}"
        );
    }

    #[test]
    fn catmull_rom_keeps_values_at_whole_pixels_and_sums_to_one() {
        assert_eq!(catmull_rom(0.0), [0.0, 1.0, 0.0, 0.0]);
        for t in [0.25f32, 0.5, 0.9] {
            assert!((catmull_rom(t).iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }
}
