//! One decoded picture on its way through the pipeline, and the conversions between the packed
//! RGB24 bytes that FFmpeg hands us and the float32 NCHW tensors that the networks take.
//!
//! Frames are always tightly packed RGB24 (`width * 3` bytes per row): the decoder copies rows out
//! of FFmpeg's padded planes once, so every later stage can treat `rgb` as a plain image.

/// A picture plus everything the encoder needs to put it back at the right place in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Dense decode order `0, 1, 2, …`; the reorder buffer restores this order before encoding.
    pub index: u64,
    /// Presentation timestamp in the input stream's time base (`None` when the input had none).
    pub pts: Option<i64>,
    /// Duration in the input stream's time base (0 when unknown).
    pub duration: i64,
    pub width: u32,
    pub height: u32,
    /// Packed RGB24, `width * height * 3` bytes.
    pub rgb: Vec<u8>,
    /// The motion from this frame's input back to the previous frame's (with `--temporal`).
    pub motion: Option<Box<crate::motion::Motion>>,
}

impl Frame {
    /// A frame of the given size with every byte zero.
    pub fn blank(index: u64, width: u32, height: u32) -> Self {
        Self {
            index,
            pts: None,
            duration: 0,
            width,
            height,
            rgb: vec![0; width as usize * height as usize * 3],
            motion: None,
        }
    }
}

/// The source index that padding position `i` mirrors in a line of `len` values (numpy's
/// `reflect`: `… 2 1 | 0 1 2 … n-1 | n-2 n-3 …`, periodic when the padding is longer than the line).
#[inline]
pub fn reflect(i: usize, len: usize) -> usize {
    if len <= 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let m = i % period;
    if m < len { m } else { period - m }
}

/// Writes `rgb` (packed HWC u8) into `out` (one CHW f32 image of `pad_w x pad_h`), mirroring the
/// picture at its right and bottom edges to fill the padding. The padding exists because the
/// transformer nets halve the size twice and double it twice (sizes that are not multiples of 4
/// come out shifted), and because fixed-size networks take frames of another aspect. Mirroring,
/// not repeating the edge, keeps the instance-norm statistics of a large padding close to the
/// picture's own (a repeated edge row over 40% of a 384x384 input shifts every colour).
pub fn rgb_to_chw_padded(
    rgb: &[u8],
    width: usize,
    height: usize,
    pad_w: usize,
    pad_h: usize,
    out: &mut [f32],
) {
    assert!(pad_w >= width && pad_h >= height && width > 0 && height > 0);
    assert_eq!(rgb.len(), width * height * 3);
    assert_eq!(out.len(), 3 * pad_w * pad_h);
    let plane = pad_w * pad_h;
    let (r_plane, rest) = out.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    for y in 0..pad_h {
        let src_row = &rgb[reflect(y, height) * width * 3..][..width * 3];
        let row = y * pad_w;
        let (r, g, b) = (
            &mut r_plane[row..row + pad_w],
            &mut g_plane[row..row + pad_w],
            &mut b_plane[row..row + pad_w],
        );
        for (x, px) in src_row.chunks_exact(3).enumerate() {
            r[x] = f32::from(px[0]);
            g[x] = f32::from(px[1]);
            b[x] = f32::from(px[2]);
        }
        for x in width..pad_w {
            let m = reflect(x, width);
            r[x] = r[m];
            g[x] = g[m];
            b[x] = b[m];
        }
    }
}

/// Reads the top-left `width x height` of a CHW f32 image of `pad_w` columns back into packed
/// RGB24, multiplying by `scale` (1 for 0..255 networks, 255 for 0..1 ones), rounding and
/// clamping to 0..255 (the model contract leaves the output unclamped). Returns how many values
/// were not finite (NaN or ±inf, which come out as 0 or 255): a broken network shows here, in
/// the one pass that touches every value anyway.
pub fn chw_to_rgb_cropped(
    chw: &[f32],
    pad_w: usize,
    pad_h: usize,
    width: usize,
    height: usize,
    scale: f32,
    rgb: &mut [u8],
) -> usize {
    assert!(pad_w >= width && pad_h >= height);
    assert_eq!(chw.len(), 3 * pad_w * pad_h);
    assert_eq!(rgb.len(), width * height * 3);
    let plane = pad_w * pad_h;
    let mut non_finite = 0u32;
    for y in 0..height {
        let row = y * pad_w;
        let r = &chw[row..row + width];
        let g = &chw[plane + row..plane + row + width];
        let b = &chw[2 * plane + row..2 * plane + row + width];
        let dst = &mut rgb[y * width * 3..(y + 1) * width * 3];
        // Zipped iterators, not indexing: no bounds checks in the hot loop, so it vectorises.
        let mut row_bad = 0u32;
        for (px, ((&r, &g), &b)) in dst.chunks_exact_mut(3).zip(r.iter().zip(g).zip(b)) {
            px[0] = to_u8(r * scale);
            px[1] = to_u8(g * scale);
            px[2] = to_u8(b * scale);
            row_bad +=
                u32::from(!is_finite(r)) + u32::from(!is_finite(g)) + u32::from(!is_finite(b));
        }
        non_finite += row_bad;
    }
    non_finite as usize
}

/// `v.is_finite()` written as one comparison on the bits, which vectorises.
#[inline]
fn is_finite(v: f32) -> bool {
    (v.to_bits() & 0x7f80_0000) != 0x7f80_0000
}

/// Writes `rgb` (packed HWC u8) into `out` (one HWC f32 image of `pad_w x pad_h`, channels
/// last), mirroring the picture into the padding like [`rgb_to_chw_padded`].
pub fn rgb_to_hwc_padded(
    rgb: &[u8],
    width: usize,
    height: usize,
    pad_w: usize,
    pad_h: usize,
    out: &mut [f32],
) {
    assert!(pad_w >= width && pad_h >= height && width > 0 && height > 0);
    assert_eq!(rgb.len(), width * height * 3);
    assert_eq!(out.len(), 3 * pad_w * pad_h);
    for (y, row) in out.chunks_exact_mut(3 * pad_w).enumerate() {
        let src_row = &rgb[reflect(y, height) * width * 3..][..width * 3];
        for (o, &v) in row[..width * 3].iter_mut().zip(src_row) {
            *o = f32::from(v);
        }
        for x in width..pad_w {
            let m = reflect(x, width);
            row.copy_within(3 * m..3 * m + 3, 3 * x);
        }
    }
}

/// Reads the top-left `width x height` of an HWC f32 image of `pad_w` columns back into packed
/// RGB24, scaled, rounded and clamped as [`chw_to_rgb_cropped`] does; returns the number of
/// values that were not finite.
pub fn hwc_to_rgb_cropped(
    hwc: &[f32],
    pad_w: usize,
    pad_h: usize,
    width: usize,
    height: usize,
    scale: f32,
    rgb: &mut [u8],
) -> usize {
    assert!(pad_w >= width && pad_h >= height);
    assert_eq!(hwc.len(), 3 * pad_w * pad_h);
    assert_eq!(rgb.len(), width * height * 3);
    let mut non_finite = 0usize;
    for (dst, src) in rgb
        .chunks_exact_mut(3 * width)
        .zip(hwc.chunks_exact(3 * pad_w))
    {
        let mut row_bad = 0u32;
        for (o, &v) in dst.iter_mut().zip(&src[..3 * width]) {
            *o = to_u8(v * scale);
            row_bad += u32::from(!is_finite(v));
        }
        non_finite += row_bad as usize;
    }
    non_finite
}

/// The `width x height` window at `(x, y)` of packed RGB24 `rgb` of `stride_w` columns.
pub fn crop_rgb(
    rgb: &[u8],
    stride_w: usize,
    x: usize,
    y: usize,
    width: usize,
    height: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * height * 3);
    for row in y..y + height {
        out.extend_from_slice(&rgb[(row * stride_w + x) * 3..][..width * 3]);
    }
    out
}

#[inline]
#[allow(clippy::manual_clamp)] // clamp keeps NaN; max/min turn it into 0, as wanted here
pub(crate) fn to_u8(v: f32) -> u8 {
    // max/min (not clamp) so NaN becomes 0; then the value is in 0.5..=255.5 and the plain
    // truncating conversion is exact and vectorises, where a saturating `as u8` does not.
    let x = (v + 0.5).max(0.0).min(255.0);
    // SAFETY: x is finite and within 0..=255, so it fits an i32.
    unsafe { x.to_int_unchecked::<i32>() as u8 }
}

/// Rotates packed RGB24 clockwise by `quarter_turns * 90` degrees; returns the new (w, h).
pub fn rotate_rgb(
    rgb: &[u8],
    width: usize,
    height: usize,
    quarter_turns: u32,
) -> (Vec<u8>, usize, usize) {
    let mut out = vec![0u8; width * height * 3];
    let (nw, nh) = rotated_size(width, height, quarter_turns);
    rotate_rgb_into(
        rgb,
        width * 3,
        width,
        height,
        quarter_turns,
        &mut out,
        nw * 3,
    );
    (out, nw, nh)
}

/// The size of a `width x height` picture turned `quarter_turns` times.
pub fn rotated_size(width: usize, height: usize, quarter_turns: u32) -> (usize, usize) {
    if quarter_turns % 2 == 1 {
        (height, width)
    } else {
        (width, height)
    }
}

/// [`rotate_rgb`] from rows `src_stride` bytes apart into rows `dst_stride` bytes apart (an
/// FFmpeg frame's padded rows, or a packed buffer): the one copy a rotated frame needs.
pub fn rotate_rgb_into(
    src: &[u8],
    src_stride: usize,
    width: usize,
    height: usize,
    quarter_turns: u32,
    dst: &mut [u8],
    dst_stride: usize,
) {
    let turns = quarter_turns % 4;
    let row = width * 3;
    match turns {
        0 => {
            for y in 0..height {
                dst[y * dst_stride..y * dst_stride + row]
                    .copy_from_slice(&src[y * src_stride..y * src_stride + row]);
            }
        }
        2 => {
            for ny in 0..height {
                let from = &src[(height - 1 - ny) * src_stride..][..row];
                let to = &mut dst[ny * dst_stride..][..row];
                for (d, s) in to.chunks_exact_mut(3).zip(from.chunks_exact(3).rev()) {
                    d.copy_from_slice(s);
                }
            }
        }
        _ => {
            // A quarter turn writes the destination by columns: in tiles of the source, so the
            // destination rows a tile writes stay in the cache meanwhile.
            const TILE: usize = 16;
            for ty in (0..height).step_by(TILE) {
                for tx in (0..width).step_by(TILE) {
                    for y in ty..(ty + TILE).min(height) {
                        let from = &src[y * src_stride..][..row];
                        for x in tx..(tx + TILE).min(width) {
                            let (nx, ny) = if turns == 1 {
                                (height - 1 - y, x)
                            } else {
                                (y, width - 1 - x)
                            };
                            let d = ny * dst_stride + nx * 3;
                            dst[d..d + 3].copy_from_slice(&from[x * 3..x * 3 + 3]);
                        }
                    }
                }
            }
        }
    }
}

/// Rounds `v` up to a multiple of `m`.
pub fn round_up(v: usize, m: usize) -> usize {
    v.div_ceil(m) * m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Vec<u8> {
        (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn padded_round_trip_restores_every_pixel_at_odd_sizes() {
        for (w, h) in [(1, 1), (66, 38), (67, 37), (5, 3)] {
            let rgb = ramp(w, h);
            let (pw, ph) = (round_up(w, 4), round_up(h, 4));
            let mut chw = vec![f32::NAN; 3 * pw * ph];
            rgb_to_chw_padded(&rgb, w, h, pw, ph, &mut chw);
            assert!(
                chw.iter().all(|v| v.is_finite()),
                "every padded element is written"
            );
            let mut back = vec![0u8; rgb.len()];
            chw_to_rgb_cropped(&chw, pw, ph, w, h, 1.0, &mut back);
            assert_eq!(back, rgb, "{w}x{h}");
        }
    }

    #[test]
    fn planes_hold_red_green_blue_in_that_order() {
        let rgb = [10u8, 20, 30, 40, 50, 60];
        let mut chw = vec![0.0; 6];
        rgb_to_chw_padded(&rgb, 2, 1, 2, 1, &mut chw);
        assert_eq!(chw, [10.0, 40.0, 20.0, 50.0, 30.0, 60.0]);
    }

    #[test]
    fn padding_mirrors_the_picture() {
        let rgb = [1u8, 2, 3, 4, 5, 6]; // 1x2: two rows of one pixel
        let mut chw = vec![0.0; 3 * 2 * 3];
        rgb_to_chw_padded(&rgb, 1, 2, 2, 3, &mut chw);
        // One column is mirrored as itself; rows 0 1 | 0.
        assert_eq!(&chw[0..6], &[1.0, 1.0, 4.0, 4.0, 1.0, 1.0]);
        let mirrored: Vec<usize> = (0..9).map(|i| reflect(i, 3)).collect();
        assert_eq!(mirrored, [0, 1, 2, 1, 0, 1, 2, 1, 0]);
        assert_eq!(reflect(5, 1), 0);
    }

    #[test]
    fn channels_last_round_trip_pads_and_scales() {
        let rgb = [10u8, 20, 30, 40, 50, 60]; // 2x1
        let mut hwc = vec![0.0; 3 * 3 * 2];
        rgb_to_hwc_padded(&rgb, 2, 1, 3, 2, &mut hwc);
        assert_eq!(
            &hwc[..9],
            &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 10.0, 20.0, 30.0]
        );
        assert_eq!(&hwc[9..], &hwc[..9], "one row is mirrored as itself");
        let unit: Vec<f32> = hwc.iter().map(|v| v / 255.0).collect();
        let mut back = [0u8; 6];
        hwc_to_rgb_cropped(&unit, 3, 2, 2, 1, 255.0, &mut back);
        assert_eq!(back, rgb);
        assert_eq!(crop_rgb(&rgb, 2, 1, 0, 1, 1), vec![40, 50, 60]);
    }

    #[test]
    fn output_is_clamped_and_rounded_and_non_finite_values_are_counted() {
        let chw = [-5.0, 300.0, 127.4, 127.6, f32::NAN, 0.49];
        let mut rgb = [0u8; 6];
        assert_eq!(chw_to_rgb_cropped(&chw, 2, 1, 2, 1, 1.0, &mut rgb), 1);
        assert_eq!(rgb, [0, 127, 0, 255, 128, 0]);
        let hwc = [
            f32::INFINITY,
            f32::NEG_INFINITY,
            1.0,
            f32::MAX,
            f32::MIN_POSITIVE,
            0.0,
        ];
        assert_eq!(hwc_to_rgb_cropped(&hwc, 2, 1, 2, 1, 1.0, &mut rgb), 2);
        assert_eq!(rgb[..3], [255, 0, 1]);
    }

    #[test]
    fn rotation_between_padded_rows_matches_the_packed_one() {
        let (w, h) = (5, 3);
        let rgb = ramp(w, h);
        // The source rows padded to 20 bytes, the destination's to 16 (as FFmpeg pads).
        let mut padded = vec![0xAA; 20 * h];
        for y in 0..h {
            padded[y * 20..y * 20 + w * 3].copy_from_slice(&rgb[y * w * 3..(y + 1) * w * 3]);
        }
        for turns in 0..4 {
            let (packed, nw, nh) = rotate_rgb(&rgb, w, h, turns);
            let mut out = vec![0x55; 16 * nh];
            rotate_rgb_into(&padded, 20, w, h, turns, &mut out, 16);
            for y in 0..nh {
                assert_eq!(
                    out[y * 16..y * 16 + nw * 3],
                    packed[y * nw * 3..(y + 1) * nw * 3],
                    "{turns} turns, row {y}"
                );
                assert!(
                    out[y * 16 + nw * 3..(y + 1) * 16]
                        .iter()
                        .all(|&v| v == 0x55)
                );
            }
        }
    }

    #[test]
    fn four_quarter_turns_are_the_identity_and_one_turn_moves_corners() {
        let (w, h) = (3, 2);
        let rgb = ramp(w, h);
        let (r1, w1, h1) = rotate_rgb(&rgb, w, h, 1);
        assert_eq!((w1, h1), (2, 3));
        // The top-left pixel goes to the top-right corner after a clockwise turn.
        assert_eq!(&r1[(w1 - 1) * 3..w1 * 3], &rgb[0..3]);
        let mut cur = (rgb.clone(), w, h);
        for _ in 0..4 {
            cur = rotate_rgb(&cur.0, cur.1, cur.2, 1);
        }
        assert_eq!(cur.0, rgb);
        let (r3, ..) = rotate_rgb(&r1, w1, h1, 3);
        assert_eq!(r3, rgb);
    }
}
