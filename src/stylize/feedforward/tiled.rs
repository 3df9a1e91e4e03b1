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

/// The share of the earlier frames in a video frame's statistics (`--tile-smoothing`).
pub const DEFAULT_SMOOTHING: f32 = 0.0;

/// How many frames of a video share one measurement of the thumbnail statistics
/// (`--tile-refresh`), while the picture stays close to the one measured
/// ([`PICTURE_CHANGE`]).
pub const DEFAULT_REFRESH: u32 = 4;

/// How much of the trend between the two thumbnails' variances is followed on to the frame's
/// scale. On the six 1080p photos of benches/README.md (tiles of 1024, the 1024 px thumbnail):
/// none, PSNR against the whole frame 28.0-33.4 dB (mean 30.2); half of it 29.9-35.1 (32.3);
/// three quarters 29.6-34.3 (32.8); all of it 28.5-33.6 (32.3).
const VARIANCE_TREND: f32 = 0.75;

/// The smallest thumbnail whose statistics are used to extrapolate (a second thumbnail half the
/// size of `--tile-thumbnail`).
const MIN_THUMBNAIL: u32 = 64;

/// `near` (statistics on one thumbnail) with each variance carried on to the frame's scale:
/// multiplied by (near / far)^exponent, `far` being the variance on a thumbnail half the size
/// and `exponent` the octaves from `near`'s thumbnail to the frame over those from `far`'s to
/// `near`'s. The ratio is bounded to [1/4, 4] (a channel of almost no variance gives no trend).
/// Means are kept: carried on the same way, they measured worse than as they are.
pub fn extrapolate(mut near: Statistics, far: &Statistics, exponent: f32) -> Statistics {
    for (var_near, var_far) in near.iter_mut().zip(far).skip(1).step_by(2) {
        for (n, &f) in var_near.1.iter_mut().zip(&var_far.1) {
            let ratio = ((*n + 1e-8) / (f + 1e-8)).clamp(0.25, 4.0);
            *n *= ratio.powf(exponent);
        }
    }
    near
}

/// Parses `--tile-smoothing`: a share from 0 (each frame its own statistics) to below 1.
///
/// # Errors
/// Not a number in [0, 1).
pub fn parse_smoothing(s: &str) -> std::result::Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{s:?} is not a share from 0 (each frame its own statistics) to below 1, such as 0.8"
        )),
    }
}

/// Settings of the tiled execution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileOptions {
    pub mode: TileMode,
    /// The budget of one network call's working memory (bytes); `None`: from the machine.
    pub max_memory: Option<u64>,
    /// The thumbnail's longer side.
    pub thumbnail: u32,
    /// How much of a video frame's statistics come from the frames before it (0: none).
    pub smoothing: f32,
    /// Frames of a video that share one measurement of the statistics at most.
    pub refresh: u32,
}

impl Default for TileOptions {
    fn default() -> Self {
        Self {
            mode: TileMode::Auto,
            max_memory: None,
            thumbnail: DEFAULT_THUMBNAIL,
            smoothing: DEFAULT_SMOOTHING,
            refresh: DEFAULT_REFRESH,
        }
    }
}

/// The default memory budget of one session's frame and network calls: a quarter of the memory
/// available now, shared by `sessions` sessions, and at most 1 GiB: a 1080p frame runs whole in
/// int8 within it, and larger tiles gain nothing measurable (a 4K picture in tiles of 1052 px ran
/// as fast as in tiles of 1484 px), while the encoder of a 4K video needs the rest of 2 GB.
pub fn default_budget(sessions: usize) -> u64 {
    let available = available_memory().unwrap_or(4 << 30);
    (available / 4 / sessions.max(1) as u64).clamp(MIN_MEMORY, 1 << 30)
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

/// The core side whose tile (core plus two margins) has no more pixels than the thumbnail, on the
/// network's grid. The two passes share one arena and run one after the other, so such a tile
/// adds little to the memory the thumbnail's pass holds anyway (8K int8: 907 MiB peak against
/// 879 with tiles of 224 px), while smaller tiles spend more and more of their work on margins.
pub fn core_within_thumbnail(thumbnail_pixels: u64, margin: u32, align: u32) -> u32 {
    let side = (thumbnail_pixels as f64).sqrt() as u32;
    side.saturating_sub(2 * margin) / align * align
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
    /// The statistics over time of the video being stylized.
    history: StatsHistory,
    /// The last measurement, for the next frames that look alike.
    reuse: StatsReuse,
}

/// Every instance norm's statistics: (shape, values) of each mean and each variance, in the
/// order of [`TileGraphs::stat_names`].
pub type Statistics = Vec<(Vec<i64>, Vec<f32>)>;

/// The statistics of a video's frames smoothed over time: an exponential moving average that
/// starts afresh at the first frame, after a change of size and at a scene cut.
#[derive(Debug, Default)]
pub struct StatsHistory {
    /// The share of the past in each new frame's statistics (0: none).
    smoothing: f32,
    average: Option<Statistics>,
}

/// How far a frame's statistics may move from the running average before it counts as a scene
/// cut: the mean over the first norm's channels of |mean change| / standard deviation. The
/// first norm's statistics are the picture's own (those of deeper norms also depend on the
/// norms before them, and channels of almost no variance make them jumpy).
const SCENE_CUT_DISTANCE: f32 = 0.25;

impl StatsHistory {
    pub fn new(smoothing: f32) -> Self {
        Self {
            smoothing,
            average: None,
        }
    }

    /// Forgets the past (a new video).
    pub fn reset(&mut self) {
        self.average = None;
    }

    /// The statistics a frame runs with, given those of its own thumbnail.
    pub fn next(&mut self, own: Statistics) -> Statistics {
        if self.smoothing <= 0.0 {
            return own;
        }
        let a = self.smoothing;
        let moved = self
            .average
            .as_ref()
            .filter(|past| same_shapes(past, &own))
            .map(|past| distance(&past[..2], &own[..2]));
        tracing::debug!("thumbnail statistics moved {moved:?} from the average");
        let smoothed = match self.average.take() {
            Some(past) if moved.is_some_and(|d| d < SCENE_CUT_DISTANCE) => past
                .into_iter()
                .zip(own)
                .map(|((shape, p), (_, o))| {
                    let v = p
                        .iter()
                        .zip(&o)
                        .map(|(p, o)| a * p + (1.0 - a) * o)
                        .collect();
                    (shape, v)
                })
                .collect(),
            _ => own,
        };
        self.average = Some(smoothed.clone());
        smoothed
    }
}

/// How far a frame may look from the one whose statistics it would reuse before they are
/// measured again: the mean absolute difference of the two [`Glance`]s, in 8-bit levels.
const PICTURE_CHANGE: f32 = 3.0;

/// Cells of a [`Glance`] across and down.
const GLANCE_CELLS: usize = 16;

/// A frame in brief: the mean colour of each cell of a 16x16 grid over it (every other pixel
/// of every other row sampled), enough to tell whether two frames look alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    size: (u32, u32),
    cells: Vec<f32>,
}

impl Glance {
    pub fn of(frame: &Frame) -> Self {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let mut sums = vec![0f32; GLANCE_CELLS * GLANCE_CELLS * 3];
        let mut counts = vec![0u32; GLANCE_CELLS * GLANCE_CELLS];
        for y in (0..h).step_by(2) {
            let cy = y * GLANCE_CELLS / h;
            let row = &frame.rgb[y * w * 3..][..w * 3];
            for x in (0..w).step_by(2) {
                let cell = cy * GLANCE_CELLS + x * GLANCE_CELLS / w;
                counts[cell] += 1;
                for c in 0..3 {
                    sums[cell * 3 + c] += f32::from(row[x * 3 + c]);
                }
            }
        }
        for (i, s) in sums.iter_mut().enumerate() {
            *s /= counts[i / 3].max(1) as f32;
        }
        Self {
            size: (frame.width, frame.height),
            cells: sums,
        }
    }

    /// The mean absolute difference of the cells' colours; `None` for frames of other sizes.
    pub fn distance(&self, other: &Self) -> Option<f32> {
        (self.size == other.size).then(|| {
            let sum: f32 = self
                .cells
                .iter()
                .zip(&other.cells)
                .map(|(a, b)| (a - b).abs())
                .sum();
            sum / self.cells.len() as f32
        })
    }
}

/// The statistics measured on one frame of a video, reused by the next ones (`--tile-refresh`)
/// while they look like it ([`PICTURE_CHANGE`]): a camera move or a cut measures afresh.
#[derive(Debug)]
pub struct StatsReuse {
    /// Frames per measurement at most (1: every frame its own).
    refresh: u32,
    last: Option<Measured>,
}

#[derive(Debug)]
struct Measured {
    glance: Glance,
    stats: Statistics,
    /// Frames that ran with these statistics so far.
    uses: u32,
}

impl StatsReuse {
    pub fn new(refresh: u32) -> Self {
        Self {
            refresh: refresh.max(1),
            last: None,
        }
    }

    /// Whether frames may reuse statistics at all (a [`Glance`] is only needed then).
    pub fn reuses(&self) -> bool {
        self.refresh > 1
    }

    /// Forgets the last measurement (a new video).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The statistics measured on an earlier frame, for a frame that looks like `glance`; `None`
    /// when they must be measured afresh.
    pub fn reuse(&mut self, glance: &Glance) -> Option<Statistics> {
        let last = self.last.as_mut()?;
        if last.uses >= self.refresh {
            return None;
        }
        let moved = last.glance.distance(glance);
        tracing::debug!(
            "frame moved {moved:?} levels from the one its statistics were measured on"
        );
        if !moved.is_some_and(|d| d <= PICTURE_CHANGE) {
            return None;
        }
        last.uses += 1;
        Some(last.stats.clone())
    }

    /// Keeps the statistics just measured on the frame that looks like `glance`.
    pub fn measured(&mut self, glance: Glance, stats: &Statistics) {
        self.last = Some(Measured {
            glance,
            stats: stats.clone(),
            uses: 1,
        });
    }
}

fn same_shapes(a: &Statistics, b: &Statistics) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1.len() == y.1.len())
}

/// The mean over every norm's channels of |mean(b) - mean(a)| / sqrt(var(a)): how far `b`'s
/// statistics are from `a`'s, in `a`'s standard deviations.
fn distance(a: &[(Vec<i64>, Vec<f32>)], b: &[(Vec<i64>, Vec<f32>)]) -> f32 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (pa, pb) in a.chunks_exact(2).zip(b.chunks_exact(2)) {
        let (mean_a, var_a, mean_b) = (&pa[0].1, &pa[1].1, &pb[0].1);
        for ((ma, va), mb) in mean_a.iter().zip(var_a).zip(mean_b) {
            sum += f64::from((mb - ma).abs() / (va + 1e-5).sqrt());
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { (sum / n as f64) as f32 }
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
    pub fn new(
        path: &Path,
        graphs: TileGraphs,
        opts: &SessionOptions,
        smoothing: f32,
        refresh: u32,
    ) -> Result<Self> {
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
            history: StatsHistory::new(smoothing),
            reuse: StatsReuse::new(refresh),
        })
    }

    /// Forgets the statistics of earlier frames (a new video).
    pub fn reset(&mut self) {
        self.history.reset();
        self.reuse.reset();
    }

    pub fn margin(&self) -> u32 {
        self.graphs.margin
    }

    pub fn align(&self) -> u32 {
        self.graphs.align
    }

    /// Every instance norm's statistics (shape, values) for the frame, from its thumbnail
    /// (longer side at most `thumbnail`; the frame itself when it is that small).
    ///
    /// A thumbnail's maps are busier than the frame's (the same detail in fewer pixels), so
    /// its variances are off, by a factor that grows with the scale: the variances come from
    /// two thumbnails, `thumbnail` and half that, extrapolated towards the frame's size
    /// ([`extrapolate`], [`VARIANCE_TREND`]). At 1080p with the 1024 px thumbnail this takes
    /// the tiled output from 30.2 to 32.8 dB of the whole frame's on average over six photos
    /// (benches/README.md), for a second pass a quarter the size of the first.
    fn statistics(
        &mut self,
        frame: &Frame,
        thumbnail: u32,
        feeds: &Feeds<'_>,
    ) -> Result<Statistics> {
        let near = self.statistics_at(frame, thumbnail, feeds)?;
        let (w, h) = (frame.width, frame.height);
        let (tw, th) = crate::stylize::limit_side(w, h, Some(thumbnail));
        let half = thumbnail / 2;
        if (tw, th) == (w, h) || half < MIN_THUMBNAIL {
            return Ok(near);
        }
        let (hw, _) = crate::stylize::limit_side(w, h, Some(half));
        let far = self.statistics_at(frame, half, feeds)?;
        // Octaves from the half thumbnail to the thumbnail, and on to the frame.
        let exponent = (f64::from(w) / f64::from(tw)).ln() / (f64::from(tw) / f64::from(hw)).ln();
        Ok(extrapolate(near, &far, VARIANCE_TREND * exponent as f32))
    }

    /// The statistics of the frame scaled so its longer side is at most `thumbnail`.
    fn statistics_at(
        &mut self,
        frame: &Frame,
        thumbnail: u32,
        feeds: &Feeds<'_>,
    ) -> Result<Statistics> {
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
        let started = std::time::Instant::now();
        let glance = self.reuse.reuses().then(|| Glance::of(frame));
        let stats = match glance.as_ref().and_then(|g| self.reuse.reuse(g)) {
            Some(stats) => stats,
            None => {
                let own = self.statistics(frame, thumbnail, feeds)?;
                let stats = self.history.next(own);
                if let Some(g) = glance {
                    self.reuse.measured(g, &stats);
                }
                stats
            }
        };
        let measured = started.elapsed();
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
        tracing::debug!(
            "frame in tiles: statistics {:.3} s, tiles {:.3} s",
            measured.as_secs_f64(),
            (started.elapsed() - measured).as_secs_f64()
        );
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

    /// Two norms of two channels: means `m`, variances 1.
    fn stats(m: [f32; 2]) -> Statistics {
        let shape = vec![1, 2, 1, 1];
        vec![
            (shape.clone(), m.to_vec()),
            (shape.clone(), vec![1.0; 2]),
            (shape.clone(), m.to_vec()),
            (shape, vec![1.0; 2]),
        ]
    }

    #[test]
    fn variances_are_carried_on_to_the_frames_scale_and_means_kept() {
        // Variance 1 on the half thumbnail, 2 on the thumbnail: the frame, one octave further,
        // gets 4; two octaves further (exponent 2), 8.
        let mut near = stats([0.5, 0.5]);
        near[1].1 = vec![2.0, 2.0];
        let mut far = stats([0.1, 0.1]);
        far[3].1 = vec![0.001, 1.0];
        let out = extrapolate(near.clone(), &far, 1.0);
        assert_eq!(out[0], near[0], "means kept");
        assert_eq!(out[1].1, vec![4.0, 4.0]);
        // Bounded: 1 against 0.001 counts as 4.
        assert_eq!(out[3].1, vec![4.0, 1.0]);
        let out = extrapolate(near.clone(), &far, 2.0);
        assert_eq!(out[1].1, vec![8.0, 8.0]);
        // At the thumbnail's own scale nothing changes.
        assert_eq!(extrapolate(near.clone(), &far, 0.0), near);
    }

    #[test]
    fn statistics_over_time_are_a_moving_average_that_starts_afresh_at_a_cut() {
        let mut off = StatsHistory::new(0.0);
        assert_eq!(off.next(stats([0.0, 0.0])), stats([0.0, 0.0]));
        assert_eq!(off.next(stats([0.2, 0.2])), stats([0.2, 0.2]));

        let mut h = StatsHistory::new(0.75);
        assert_eq!(
            h.next(stats([0.0, 0.0])),
            stats([0.0, 0.0]),
            "the first frame"
        );
        assert_eq!(h.next(stats([0.4, 0.0])), stats([0.1, 0.0]));
        assert_eq!(
            h.next(stats([0.1, 0.0])),
            stats([0.1, 0.0]),
            "a still picture stays"
        );
        assert_eq!(h.next(stats([0.1, 0.0])), stats([0.1, 0.0]));
        // A scene cut: the first norm's means move by more than a quarter of a standard
        // deviation.
        assert_eq!(h.next(stats([3.0, -2.0])), stats([3.0, -2.0]));
        assert_eq!(h.next(stats([3.0, -2.0])), stats([3.0, -2.0]));
        // A new video, or another size.
        h.reset();
        assert_eq!(h.next(stats([0.0, 0.0])), stats([0.0, 0.0]));
        let mut other = stats([0.0, 0.0]);
        other[0].1.push(0.0);
        assert_eq!(h.next(other.clone()), other);
    }

    fn frame(w: u32, h: u32, value: u8) -> Frame {
        Frame {
            index: 0,
            pts: Some(0),
            duration: 1,
            width: w,
            height: h,
            rgb: vec![value; (w * h * 3) as usize],
            motion: None,
        }
    }

    #[test]
    fn statistics_are_reused_only_for_frames_of_the_same_size_that_look_alike() {
        let mut reuse = StatsReuse::new(3);
        let stats = stats([1.0, 2.0]);
        assert!(reuse.reuse(&Glance::of(&frame(64, 48, 100))).is_none());
        reuse.measured(Glance::of(&frame(64, 48, 100)), &stats);
        assert_eq!(
            reuse.reuse(&Glance::of(&frame(64, 48, 102))),
            Some(stats.clone())
        );
        // Another size, or a picture that moved more than the threshold: measured again.
        assert!(reuse.reuse(&Glance::of(&frame(48, 64, 100))).is_none());
        assert!(reuse.reuse(&Glance::of(&frame(64, 48, 104))).is_none());
        // The third frame on one measurement is the last.
        assert!(reuse.reuse(&Glance::of(&frame(64, 48, 100))).is_some());
        assert!(reuse.reuse(&Glance::of(&frame(64, 48, 100))).is_none());
        assert!(!StatsReuse::new(1).reuses());
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
        // A tile of the thumbnail's pixels: 768 px a side for 1024x576, less two margins.
        assert_eq!(core_within_thumbnail(thumb, 56, 4), 656);
        assert_eq!(
            core_within_thumbnail(thumbnail_pixels(640, 360, 1024), 56, 4),
            368
        );
        assert_eq!(core_within_thumbnail(100, 56, 4), 0);
    }
}
