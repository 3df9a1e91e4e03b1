//! Tiled execution: a frame too large for one network call runs tile by tile, with the instance
//! norms' statistics taken once per frame from a thumbnail ([`super::tile_graphs`]), so memory
//! depends on the tile's size, not the frame's.
//!
//! The frame (padded to the network's grid, as the whole-frame path pads it) is cut into a grid
//! of cores whose edges lie on the network's coarsest grid; each tile is its core plus the
//! receptive margin on every side that has a neighbour, and only the core of its output is kept.
//! Every tile sees the same statistics, and inside the margin the network's output depends on
//! nothing the tile lacks, so the cores meet without a seam: with the frame's own statistics
//! (a thumbnail at full size), the tiles reproduce the whole-frame output (tested).

use std::path::Path;

use ndarray::{ArrayView3, ArrayViewMut3, Axis, Zip, s};
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;

use super::tile_graphs::TileGraphs;
use crate::error::{Error, Result};
use crate::frame::{Frame, reflect, rgb_to_chw_padded, round_up};
use crate::runtime::{self, SessionOptions};

/// `--tile`: when frames run in tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TileMode {
    /// When the whole frame would need more than the memory budget.
    #[default]
    Auto,
    /// Never (a frame that does not fit fails as it would without tiles).
    Off,
    /// Always, in tiles of at most this many pixels a side (their cores).
    Size(u32),
}

impl TileMode {
    /// Parses `auto`, `off` or a size in pixels (at least 1).
    ///
    /// # Errors
    /// Anything else, with what is accepted.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "off" => Ok(Self::Off),
            _ => match s.parse::<u32>() {
                Ok(0) => Err(
                    "a tile of 0 pixels is no tile; give auto, off or a size such as 512".into(),
                ),
                Ok(n) => Ok(Self::Size(n)),
                Err(_) => Err(format!(
                    "{s:?} is not auto, off or a size in pixels (such as 512)"
                )),
            },
        }
    }
}

/// Parses a memory size: `1.5G`, `512M`, `2GiB`, `800MB`, or plain bytes.
///
/// # Errors
/// Not a size, or one under 64 MiB (no network runs in less).
pub fn parse_memory(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 2G or 512M"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{s:?} is not a size such as 2G or 512M")),
    };
    let bytes = (value * scale) as u64;
    if bytes < MIN_MEMORY {
        return Err(format!(
            "{s} is too little memory for a network; give at least 64M"
        ));
    }
    Ok(bytes)
}

/// The least `--max-memory` accepted.
const MIN_MEMORY: u64 = 64 << 20;

/// Bytes of ONNX Runtime working memory per input pixel and per value that the network's widest
/// tensor holds per input pixel (float32), for a whole frame. Measured with scream.onnx, whose
/// widest tensor is the 64-channel map upsampled to full resolution before its last conv: peak
/// RSS grows by about 830 bytes per pixel from 1080p to 4K, 13 bytes per such value.
const WHOLE_BYTES_PER_VALUE: f64 = 13.0;
/// The same for the tile graph (no memory patterns, tiles of several sizes): 1,170 bytes per
/// pixel of tile for scream.onnx (4K in tiles of 512 and of 1024, the difference of peak RSS).
const TILE_BYTES_PER_VALUE: f64 = 18.0;
/// int8 networks need this share of float32's: scream.int8.onnx 450 bytes per pixel whole,
/// 460 in tiles.
const WHOLE_INT8_SHARE: f64 = 0.54;
const TILE_INT8_SHARE: f64 = 0.39;
/// The frame's own buffers per pixel through decode, stylize and encode (the decoded picture,
/// the RGB frame, the tiles' copy of the input, the encoder's picture): measured 735 MB for one
/// 8K picture with a network of negligible memory.
pub const FRAME_BYTES_PER_PIXEL: f64 = 24.0;
/// Working memory per pixel assumed for a network whose graph could not be read (that of
/// scream.onnx in float32, measured).
const FALLBACK_BYTES_PER_PIXEL: f64 = 830.0;

/// Estimated memory per input pixel of a network, whole and in tiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryModel {
    pub whole: f64,
    pub tile: f64,
}

impl MemoryModel {
    pub fn of(graphs: Option<&TileGraphs>) -> Self {
        let Some(g) = graphs else {
            return Self {
                whole: FALLBACK_BYTES_PER_PIXEL,
                tile: FALLBACK_BYTES_PER_PIXEL,
            };
        };
        let (ws, ts) = if g.quantized {
            (WHOLE_INT8_SHARE, TILE_INT8_SHARE)
        } else {
            (1.0, 1.0)
        };
        Self {
            whole: g.values_per_pixel * WHOLE_BYTES_PER_VALUE * ws,
            tile: g.values_per_pixel * TILE_BYTES_PER_VALUE * ts,
        }
    }
}

/// The thumbnail's longer side: the statistics come from the frame scaled to this size.
pub const DEFAULT_THUMBNAIL: u32 = 1024;

/// Settings of the tiled execution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileOptions {
    pub mode: TileMode,
    /// The budget of one network call's working memory (bytes); `None`: from the machine.
    pub max_memory: Option<u64>,
    /// The thumbnail's longer side.
    pub thumbnail: u32,
}

impl Default for TileOptions {
    fn default() -> Self {
        Self {
            mode: TileMode::Auto,
            max_memory: None,
            thumbnail: DEFAULT_THUMBNAIL,
        }
    }
}

/// The default memory budget of one session's frame and network calls: a quarter of the memory
/// available now, shared by `sessions` sessions, and at most 1.5 GiB (a 1080p frame runs whole
/// in int8 within it; larger tiles gain little: the margins are then a small share of each).
pub fn default_budget(sessions: usize) -> u64 {
    let available = available_memory().unwrap_or(4 << 30);
    (available / 4 / sessions.max(1) as u64).clamp(MIN_MEMORY, 3 << 29)
}

/// `MemAvailable` of /proc/meminfo, in bytes.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One rectangle of the padded frame: `x0..x1` by `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl Rect {
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }
}

/// Where a tile's core lies and which region the network sees for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub core: Rect,
    pub region: Rect,
}

/// The cut points of `len` into `parts` pieces of near-equal length on multiples of `align`.
fn cuts(len: usize, parts: usize, align: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..=parts)
        .map(|i| (i * len / parts) / align * align)
        .collect();
    v[parts] = len;
    v.dedup();
    v
}

/// The tiles of a padded frame of `width x height`: cores of at most `core²` pixels whose
/// regions (core plus `margin` on every side inside the frame) hold at most the pixels of a
/// square core of side `core` with its margins, which bounds the memory of a call; among such
/// grids, the one that makes the network see the fewest pixels in all (the least margin
/// overhead: at 1080p two tiles of 960x1080 rather than four of 960x540). Cores are cut on
/// multiples of `align`.
pub fn plan(width: usize, height: usize, core: usize, margin: usize, align: usize) -> Vec<Tile> {
    let core = (core / align).max(1) * align;
    let limit = (core + 2 * margin).pow(2);
    let grid = |cols: usize, rows: usize| -> Vec<Tile> {
        let xs = cuts(width, cols, align);
        let ys = cuts(height, rows, align);
        let mut tiles = Vec::new();
        for y in ys.windows(2) {
            for x in xs.windows(2) {
                let core = Rect {
                    x0: x[0],
                    y0: y[0],
                    x1: x[1],
                    y1: y[1],
                };
                let region = Rect {
                    x0: core.x0.saturating_sub(margin),
                    y0: core.y0.saturating_sub(margin),
                    x1: (core.x1 + margin).min(width),
                    y1: (core.y1 + margin).min(height),
                };
                tiles.push(Tile { core, region });
            }
        }
        tiles
    };
    let area = |t: &Tile| t.region.width() * t.region.height();
    let (max_cols, max_rows) = (
        (4 * width.div_ceil(core) + 1).min(width.div_ceil(align)),
        (4 * height.div_ceil(core) + 1).min(height.div_ceil(align)),
    );
    let mut best: Option<(usize, Vec<Tile>)> = None;
    for cols in 1..=max_cols {
        for rows in 1..=max_rows {
            let tiles = grid(cols, rows);
            let core_area = |t: &Tile| t.core.width() * t.core.height();
            if tiles.iter().map(area).max().unwrap_or(0) > limit
                || tiles.iter().map(core_area).max().unwrap_or(0) > core * core
            {
                continue;
            }
            let total: usize = tiles.iter().map(area).sum();
            if best
                .as_ref()
                .is_none_or(|(b, t)| total < *b || (total == *b && tiles.len() < t.len()))
            {
                best = Some((total, tiles));
            }
        }
    }
    // No grid within the limit (a core smaller than the grid allows): square cores of `core`.
    best.map_or_else(
        || grid(width.div_ceil(core), height.div_ceil(core)),
        |(_, t)| t,
    )
}

/// The pixels of the thumbnail of a `width x height` frame (its longer side at most `thumbnail`).
pub fn thumbnail_pixels(width: u32, height: u32, thumbnail: u32) -> u64 {
    let (w, h) = crate::stylize::limit_side(width, height, Some(thumbnail));
    u64::from(w) * u64::from(h)
}

/// The largest core side whose tile (core plus two margins) fits `budget` bytes at
/// `bytes_per_pixel` beside the statistics pass on a thumbnail of `thumbnail_pixels`, on the
/// network's grid; `None` when not even a core of one margin fits.
pub fn core_for_budget(
    budget: u64,
    thumbnail_pixels: u64,
    bytes_per_pixel: f64,
    margin: u32,
    align: u32,
) -> Option<u32> {
    let left = budget as f64 - thumbnail_pixels as f64 * bytes_per_pixel;
    if left <= 0.0 {
        return None;
    }
    let side = (left / bytes_per_pixel).sqrt() as u32;
    let core = side.checked_sub(2 * margin)? / align * align;
    (core >= margin.max(align)).then_some(core)
}

/// The tile and statistics sessions of one network, and their buffers.
pub struct TiledRunner {
    graphs: TileGraphs,
    stats: Session,
    tile: Session,
    /// The frame's input pixels, kept while the tiles overwrite the frame.
    original: Vec<u8>,
    input: Vec<f32>,
    /// The frame size and core the last plan was logged for.
    planned: Option<(usize, usize, u32)>,
}

/// What a tiled run feeds besides the image: the model's input names and its style input.
pub struct Feeds<'a> {
    pub input: &'a str,
    pub output: &'a str,
    pub style: Option<(&'a str, &'a [usize], &'a [f32])>,
    /// Multiplies 0..255 pixels into the model's range (1 or 1/255).
    pub in_scale: f32,
}

impl TiledRunner {
    /// Builds the two sessions from the derived graphs.
    ///
    /// # Errors
    /// A session that ONNX Runtime refuses.
    pub fn new(path: &Path, graphs: TileGraphs, opts: &SessionOptions) -> Result<Self> {
        let env = opts.environment()?;
        let (stats, _) = runtime::session_for_varying_sizes(env, path, &graphs.stats, opts)?;
        let (tile, _) = runtime::session_for_varying_sizes(env, path, &graphs.tile, opts)?;
        Ok(Self {
            graphs,
            stats,
            tile,
            original: Vec::new(),
            input: Vec::new(),
            planned: None,
        })
    }

    pub fn margin(&self) -> u32 {
        self.graphs.margin
    }

    pub fn align(&self) -> u32 {
        self.graphs.align
    }

    /// Every instance norm's statistics (shape, values) on the frame scaled so its longer side
    /// is at most `thumbnail` (the frame itself when it is that small).
    fn statistics(
        &mut self,
        frame: &Frame,
        thumbnail: u32,
        feeds: &Feeds<'_>,
    ) -> Result<Vec<(Vec<i64>, Vec<f32>)>> {
        let (w, h) = (frame.width, frame.height);
        let (tw, th) = crate::stylize::limit_side(w, h, Some(thumbnail));
        let small;
        let rgb: &[u8] = if (tw, th) == (w, h) {
            &frame.rgb
        } else {
            let img = image::ImageBuffer::<image::Rgb<u8>, &[u8]>::from_raw(w, h, &frame.rgb[..])
                .ok_or_else(|| Error::Other("internal: frame buffer size".into()))?;
            small = image::imageops::resize(&img, tw, th, image::imageops::FilterType::Triangle);
            small.as_raw()
        };
        let align = self.graphs.align as usize;
        let (tw, th) = (tw as usize, th as usize);
        let (pw, ph) = (round_up(tw, align), round_up(th, align));
        let mut input = vec![0f32; 3 * pw * ph];
        rgb_to_chw_padded(rgb, tw, th, pw, ph, &mut input);
        if feeds.in_scale != 1.0 {
            input.iter_mut().for_each(|v| *v *= feeds.in_scale);
        }
        let image = TensorRef::from_array_view(([1usize, 3, ph, pw], &input[..]))?;
        let mut inputs: Vec<(std::borrow::Cow<'_, str>, SessionInputValue<'_>)> =
            ort::inputs![feeds.input => image];
        let wants_style = self.stats.inputs().iter().any(|i| i.name() != feeds.input);
        if let (true, Some((name, dims, values))) = (wants_style, feeds.style) {
            let style = TensorRef::from_array_view((dims.to_vec(), values))?;
            inputs.push((name.into(), style.into()));
        }
        let outputs = self.stats.run(inputs).map_err(|e| {
            Error::Runtime(format!(
                "statistics of a {pw}x{ph} thumbnail failed: {}",
                e.message()
            ))
        })?;
        let mut stats = Vec::with_capacity(2 * self.graphs.stat_names.len());
        for (mean, var) in &self.graphs.stat_names {
            for name in [mean, var] {
                let (shape, data) = outputs[name.as_str()].try_extract_tensor::<f32>()?;
                stats.push((shape.iter().copied().collect(), data.to_vec()));
            }
        }
        Ok(stats)
    }

    /// Stylizes `frame` in place, tile by tile, with cores of at most `core` pixels a side.
    /// Returns the number of non-finite output values (drawn black or white).
    ///
    /// # Errors
    /// A network run that fails.
    pub fn run(
        &mut self,
        frame: &mut Frame,
        core: u32,
        thumbnail: u32,
        feeds: &Feeds<'_>,
        out_scale: f32,
    ) -> Result<usize> {
        let stats = self.statistics(frame, thumbnail, feeds)?;
        let (w, h) = (frame.width as usize, frame.height as usize);
        let align = self.graphs.align as usize;
        let (pw, ph) = (round_up(w, align), round_up(h, align));
        let tiles = plan(pw, ph, core as usize, self.graphs.margin as usize, align);
        if self.planned != Some((w, h, core)) {
            self.planned = Some((w, h, core));
            let borders = |mut v: Vec<usize>| {
                v.sort_unstable();
                v.dedup();
                v.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
            };
            tracing::info!(
                "{w}x{h} in {} tiles (margin {} px, thumbnail {thumbnail} px): tile borders x={} y={}",
                tiles.len(),
                self.graphs.margin,
                borders(tiles.iter().map(|t| t.core.x0).filter(|&x| x > 0).collect()),
                borders(tiles.iter().map(|t| t.core.y0).filter(|&y| y > 0).collect())
            );
        }
        self.original.clear();
        self.original.extend_from_slice(&frame.rgb);
        let source = ArrayView3::from_shape((h, w, 3), &self.original[..])
            .map_err(|e| Error::Other(format!("internal: {e}")))?;
        let mut target = ArrayViewMut3::from_shape((h, w, 3), &mut frame.rgb[..])
            .map_err(|e| Error::Other(format!("internal: {e}")))?;
        let mut bad = 0;
        for tile in &tiles {
            let r = tile.region;
            let (rw, rh) = (r.width(), r.height());
            self.input.resize(3 * rw * rh, 0.0);
            {
                let mut dst = ArrayViewMut3::from_shape((3, rh, rw), &mut self.input[..])
                    .map_err(|e| Error::Other(format!("internal: {e}")))?;
                fill_region(&source, r, &mut dst, feeds.in_scale);
            }
            let image = TensorRef::from_array_view(([1usize, 3, rh, rw], &self.input[..]))?;
            let mut inputs: Vec<(std::borrow::Cow<'_, str>, SessionInputValue<'_>)> =
                ort::inputs![feeds.input => image];
            if let Some((name, dims, values)) = feeds.style {
                let style = TensorRef::from_array_view((dims.to_vec(), values))?;
                inputs.push((name.into(), style.into()));
            }
            for ((mean, var), pair) in self.graphs.stat_names.iter().zip(stats.chunks_exact(2)) {
                for (name, (shape, values)) in [mean, var].into_iter().zip(pair) {
                    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
                    let t = TensorRef::from_array_view((dims, &values[..]))?;
                    inputs.push((name.as_str().into(), t.into()));
                }
            }
            let outputs = self.tile.run(inputs).map_err(|e| {
                Error::Runtime(format!(
                    "inference failed on a {rw}x{rh} tile ({})",
                    e.message()
                ))
            })?;
            let (_, data) = outputs[feeds.output].try_extract_tensor::<f32>()?;
            let out = ArrayView3::from_shape((3, rh, rw), data)
                .map_err(|e| Error::Other(format!("internal: tile output: {e}")))?;
            // The core, cropped to the frame (the padding beyond it is dropped).
            let c = tile.core;
            let (cx1, cy1) = (c.x1.min(w), c.y1.min(h));
            if cx1 <= c.x0 || cy1 <= c.y0 {
                continue;
            }
            let part = out.slice(s![.., c.y0 - r.y0..cy1 - r.y0, c.x0 - r.x0..cx1 - r.x0]);
            let mut dst = target.slice_mut(s![c.y0..cy1, c.x0..cx1, ..]);
            let mut dst = dst.view_mut().permuted_axes([2, 0, 1]);
            Zip::from(&mut dst).and(&part).for_each(|d, &v| {
                if !v.is_finite() {
                    bad += 1;
                }
                *d = crate::frame::to_u8(v * out_scale);
            });
        }
        Ok(bad)
    }
}

/// Writes the pixels of `region` of the padded frame (`source` is the frame, `[H, W, 3]`; pixels
/// beyond it mirror it, as the whole-frame path pads) into `dst` (`[3, rows, cols]`).
fn fill_region(
    source: &ArrayView3<'_, u8>,
    region: Rect,
    dst: &mut ArrayViewMut3<'_, f32>,
    scale: f32,
) {
    let (h, w) = (source.len_of(Axis(0)), source.len_of(Axis(1)));
    // The part inside the frame, in one go.
    let (ix1, iy1) = (region.x1.min(w), region.y1.min(h));
    let (iw, ih) = (ix1.saturating_sub(region.x0), iy1.saturating_sub(region.y0));
    let inside = source
        .slice(s![region.y0..iy1, region.x0..ix1, ..])
        .permuted_axes([2, 0, 1]);
    Zip::from(dst.slice_mut(s![.., ..ih, ..iw]))
        .and(&inside)
        .for_each(|d, &v| *d = f32::from(v) * scale);
    // The padding beyond the frame's right and bottom edges (fewer than `align` columns and
    // rows), mirrored from the frame.
    let column = |x: usize| reflect(region.x0 + x, w);
    for y in 0..region.height() {
        let sy = reflect(region.y0 + y, h);
        let xs = if y < ih {
            iw..region.width()
        } else {
            0..region.width()
        };
        for x in xs {
            for c in 0..3 {
                dst[[c, y, x]] = f32::from(source[[sy, column(x), c]]) * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_frame_once_on_the_grid_with_margins_inside_it() {
        for (w, h, core, margin) in [(1920, 1080, 512, 56), (64, 40, 16, 8), (100, 100, 100, 8)] {
            let tiles = plan(w, h, core, margin, 4);
            let mut seen = vec![0u8; w * h];
            for t in &tiles {
                let c = t.core;
                assert!(c.x0 % 4 == 0 && c.y0 % 4 == 0, "{c:?}");
                assert!(t.region.width() * t.region.height() <= (core + 2 * margin).pow(2));
                assert!(c.width() * c.height() <= core * core);
                assert!(
                    t.region.x0 == c.x0.saturating_sub(margin)
                        && t.region.x1 == (c.x1 + margin).min(w)
                );
                for y in c.y0..c.y1 {
                    for x in c.x0..c.x1 {
                        seen[y * w + x] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{w}x{h} core {core}");
        }
        assert_eq!(plan(100, 100, 100, 8, 4).len(), 1);
        // 1080p in tiles of 1024: two side by side see the fewest pixels.
        let t = plan(1920, 1080, 1024, 56, 4);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].core.width(), t[0].core.height()), (960, 1080));
        // 8K in tiles of 1024: many, each within the memory of one.
        assert!(plan(7680, 4320, 1024, 56, 4).len() >= 28);
    }

    #[test]
    fn a_region_past_the_frame_mirrors_it_as_the_whole_frame_padding_does() {
        let (w, h) = (6, 5);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let (pw, ph) = (8, 8);
        let mut whole = vec![0f32; 3 * pw * ph];
        rgb_to_chw_padded(&rgb, w, h, pw, ph, &mut whole);
        let src = ArrayView3::from_shape((h, w, 3), &rgb[..]).unwrap();
        let region = Rect {
            x0: 4,
            y0: 2,
            x1: 8,
            y1: 8,
        };
        let mut buf = vec![0f32; 3 * 6 * 4];
        let mut dst = ArrayViewMut3::from_shape((3, 6, 4), &mut buf[..]).unwrap();
        fill_region(&src, region, &mut dst, 1.0);
        for c in 0..3 {
            for y in 0..6 {
                for x in 0..4 {
                    assert_eq!(
                        dst[[c, y, x]],
                        whole[c * pw * ph + (y + 2) * pw + x + 4],
                        "{c} {y} {x}"
                    );
                }
            }
        }
    }

    #[test]
    fn sizes_and_modes_parse_and_nonsense_is_refused() {
        assert_eq!(TileMode::parse("auto"), Ok(TileMode::Auto));
        assert_eq!(TileMode::parse("off"), Ok(TileMode::Off));
        assert_eq!(TileMode::parse("512"), Ok(TileMode::Size(512)));
        assert!(TileMode::parse("0").is_err());
        assert!(TileMode::parse("big").is_err());
        assert_eq!(parse_memory("2G"), Ok(2 << 30));
        assert_eq!(parse_memory("512MiB"), Ok(512 << 20));
        assert_eq!(parse_memory("1.5g"), Ok(3 << 29));
        assert!(parse_memory("1K").unwrap_err().contains("at least 64M"));
        assert!(parse_memory("lots").is_err());
    }

    #[test]
    fn the_budget_gives_a_core_on_the_grid_or_none() {
        assert_eq!(core_for_budget(1 << 30, 0, 830.0, 56, 4), Some(1024));
        assert_eq!(core_for_budget(64 << 20, 0, 830.0, 56, 4), Some(172));
        assert_eq!(core_for_budget(1 << 20, 0, 830.0, 56, 4), None);
        // The statistics pass on the thumbnail takes its share first.
        let thumb = thumbnail_pixels(1920, 1080, 1024);
        assert_eq!(thumb, 1024 * 576);
        assert_eq!(core_for_budget(1 << 30, thumb, 830.0, 56, 4), Some(724));
        assert_eq!(core_for_budget(256 << 20, thumb, 830.0, 56, 4), None);
    }
}
