//! Feed-forward stylization: one pass of an exported transformer network per frame (Johnson et
//! al. 2016) on ONNX Runtime.
//!
//! The model contract (see `models/README.md`): one float32 image input, `[N, 3, H, W]` or
//! channels last `[N, H, W, 3]`, RGB in 0..255 (or 0..1 when the metadata or `--value-range` says
//! so), one float32 output of the same shape and range (clamped here). A second input makes the
//! network style-conditioned:
//! - `style` float32 `[S]`: weights over the network's S styles (Dumoulin et al. 2017), picked
//!   by name or mixed ([`super::styles`]);
//! - a style vector of fixed shape (e.g. `[1,1,1,100]`) that a predictor network makes from a
//!   style image (Ghiasi et al. 2017), once per run ([`style_vector`]).
//!
//! Models with dynamic H/W run at the frame's size, padded to a multiple of 4 because the
//! networks halve the size twice and double it twice; models with a fixed size get frames scaled
//! to fit inside it, aspect kept, by the decoder, padded by repeating the edges, and the result
//! cropped and scaled back by the encoder. Everything is checked, including a trial run, before
//! the first frame.

use std::path::{Path, PathBuf};

use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;

use crate::error::{Error, Result};
use crate::frame::{
    Frame, chw_to_rgb_cropped, crop_rgb, hwc_to_rgb_cropped, reflect, rgb_to_chw_padded,
    rgb_to_hwc_padded, round_up,
};
use crate::progress::Progress;
use crate::runtime::{self, SessionOptions};
use crate::stylize::styles::{StyleChoice, Styles};
use crate::stylize::{Stylizer, limit_side};

mod contract;
pub mod tile_graphs;
pub mod tiled;
pub use contract::*;
pub use tiled::{TileMode, TileOptions};

use tile_graphs::TileGraphs;
use tiled::{Feeds, TiledRunner};

/// Dynamic-size networks need sizes that survive two stride-2 convolutions and two upsamplings.
const SIZE_MULTIPLE: usize = 4;
/// Frames smaller than this a side are mirrored up to it for the network (and cut back after):
/// the networks' reflection padding needs a few pixels more than it pads, and the load's trial
/// run proves this size works.
const MIN_SIDE: usize = 16;

/// Which style a style-conditioned network should paint.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StyleRequest {
    /// None given (fine for a single-style network).
    #[default]
    None,
    /// A style or mix of a multi-style network (`--style-name`, `--style-mix`).
    Choice(StyleChoice),
    /// Style images for an arbitrary-style network (`--style IMAGE`, repeatable), each with
    /// its weight: their style vectors are blended with the weights normalised to sum 1.
    Images(Vec<(PathBuf, f32)>),
}

/// Options for loading a feed-forward model.
#[derive(Debug, Clone)]
pub struct FeedForwardOptions {
    pub session: SessionOptions,
    /// Frames per network run (models with a dynamic batch dimension only).
    pub batch: usize,
    /// Bound on the processing resolution's longer side.
    pub max_side: Option<u32>,
    pub style: StyleRequest,
    /// Overrides the model's value range (its metadata, else 0..255).
    pub value_range: Option<ValueRange>,
    /// The predictor of an arbitrary-style network [default: named by its metadata].
    pub style_predictor: Option<PathBuf>,
    /// When frames run in tiles, and the memory budget that decides it.
    pub tiles: TileOptions,
    /// Sessions of this network working at once (they share the default memory budget).
    pub sessions: usize,
}

impl FeedForwardOptions {
    /// Options for a plain single-style network on `session`.
    pub fn new(session: SessionOptions) -> Self {
        Self {
            session,
            batch: 1,
            max_side: None,
            style: StyleRequest::None,
            value_range: None,
            style_predictor: None,
            tiles: TileOptions::default(),
            sessions: 1,
        }
    }
}

/// A loaded network that fits the contract.
pub struct FeedForward {
    path: PathBuf,
    session: Session,
    contract: Contract,
    batch: usize,
    max_side: Option<u32>,
    range: ValueRange,
    /// The styles of a multi-style network.
    styles: Option<Styles>,
    /// What is fed to the style input on every run: (shape, values).
    style_value: Option<(Vec<usize>, Vec<f32>)>,
    /// The style being painted, for the summary line.
    style_label: Option<String>,
    input: Vec<f32>,
    /// Non-finite output values since the last [`Stylizer::warnings`].
    non_finite: NonFinite,
    tiling: Tiling,
}

/// What the network needs to run frames in tiles, and when it does.
struct Tiling {
    options: TileOptions,
    /// The memory budget of one network call (bytes).
    budget: u64,
    /// The derived graphs, or why this network cannot run in tiles.
    graphs: std::result::Result<TileGraphs, String>,
    /// Estimated memory per pixel, whole and in tiles.
    memory: tiled::MemoryModel,
    /// The tile sessions, made for the first frame that needs them.
    runner: Option<TiledRunner>,
    session: SessionOptions,
    /// One-time notes for [`Stylizer::warnings`].
    notes: Vec<String>,
    /// The frame size the notes were last given for.
    noted: Option<(u32, u32)>,
}

impl Tiling {
    fn new(path: &Path, contract: &Contract, opts: &FeedForwardOptions) -> Result<Self> {
        let graphs = if contract.layout != Layout::Nchw {
            Err("takes channels-last images".to_string())
        } else if contract.fixed_size.is_some() {
            Err("has a fixed input size".to_string())
        } else {
            std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| tile_graphs::derive(&bytes, &contract.input))
        };
        let memory = tiled::MemoryModel::of(graphs.as_ref().ok());
        // The least budget that holds the statistics pass on the largest thumbnail (a square
        // one) and a tile of three margins.
        let side = opts.tiles.thumbnail;
        let thumb = tiled::thumbnail_pixels(side, side, side);
        let least = graphs.as_ref().ok().map(|g| {
            let tile = f64::from(3 * g.margin.max(g.align));
            ((thumb as f64 + tile * tile) * memory.tile) as u64
        });
        // The default never refuses the defaults: a quarter more than the least at the fewest
        // (float32 networks need about 1.5 GiB beside a 1024 px thumbnail).
        let budget = opts.tiles.max_memory.unwrap_or_else(|| {
            tiled::default_budget(opts.sessions).max(least.map_or(0, |l| l + l / 4))
        });
        if let TileMode::Size(n) = opts.tiles.mode {
            match &graphs {
                Err(why) => {
                    return Err(usage(
                        path,
                        format!("cannot run in tiles: it {why}; use --tile auto or off"),
                    ));
                }
                Ok(g) if n < g.margin.max(g.align) => {
                    return Err(usage(
                        path,
                        format!(
                            "--tile {n} is below this network's receptive margin ({} px): give at least {}",
                            g.margin,
                            g.margin.max(g.align)
                        ),
                    ));
                }
                Ok(_) => {}
            }
        }
        // The tiles must fit beside the statistics pass on the largest thumbnail.
        if let (TileMode::Auto, Ok(g), Some(least)) = (opts.tiles.mode, &graphs, least)
            && tiled::core_for_budget(budget, thumb, memory.tile, g.margin, g.align).is_none()
        {
            return Err(usage(
                path,
                format!(
                    "--max-memory {} MiB is too little for this network's tiles beside a {side} px thumbnail (about {} MiB at least; a smaller --tile-thumbnail needs less)",
                    budget >> 20,
                    least >> 20
                ),
            ));
        }
        Ok(Self {
            options: opts.tiles,
            budget,
            graphs,
            memory,
            runner: None,
            session: opts.session.clone(),
            notes: Vec::new(),
            noted: None,
        })
    }

    /// The core size to tile a `width x height` frame with, or `None` to run it whole.
    fn core_for(&mut self, path: &Path, width: u32, height: u32) -> Option<u32> {
        let (pw, ph) = (
            round_up(width as usize, SIZE_MULTIPLE),
            round_up(height as usize, SIZE_MULTIPLE),
        );
        let pixels = (pw * ph) as f64;
        let frame = tiled::FRAME_BYTES_PER_PIXEL * pixels;
        let whole = self.memory.whole * pixels + frame;
        match (self.options.mode, &self.graphs) {
            (TileMode::Off, _) => None,
            (TileMode::Size(n), Ok(_)) => (pw * ph > (n as usize).pow(2)).then_some(n),
            (TileMode::Size(_), Err(_)) => None, // refused at load
            (TileMode::Auto, _) if whole <= self.budget as f64 => None,
            (TileMode::Auto, Ok(g)) => {
                let thumb = tiled::thumbnail_pixels(width, height, self.options.thumbnail);
                // What the frame's buffers leave; at the least, tiles of four margins a side,
                // or as many pixels as the thumbnail when that is more (at 8K, where the frame's
                // buffers take most of the default budget: tiles of 656 instead of 224 px, two
                // thirds of the time for 3% more peak memory; benches/README.md).
                let least = (4 * g.margin.max(g.align))
                    .max(tiled::core_within_thumbnail(thumb, g.margin, g.align));
                let core = tiled::core_for_budget(
                    (self.budget as f64 - frame).max(0.0) as u64,
                    thumb,
                    self.memory.tile,
                    g.margin,
                    g.align,
                )
                .map_or(least, |c| c.max(least));
                if self.noted != Some((width, height)) {
                    self.noted = Some((width, height));
                    tracing::info!(
                        "{width}x{height} frames need about {} MiB whole, over the {} MiB budget: tiles of {} px",
                        whole as u64 >> 20,
                        self.budget >> 20,
                        core
                    );
                }
                Some(core)
            }
            (TileMode::Auto, Err(why)) => {
                if self.noted != Some((width, height)) {
                    self.noted = Some((width, height));
                    self.notes.push(format!(
                        "model {path:?}: {width}x{height} frames need about {} MiB, over the {} MiB budget, but this network cannot run in tiles (it {why}); they run whole (--max-side lowers the resolution)",
                        whole as u64 >> 20,
                        self.budget >> 20
                    ));
                }
                None
            }
        }
    }
}

/// Where a network gave NaN or infinite values (drawn as black or white).
#[derive(Debug, Default)]
struct NonFinite {
    values: usize,
    frames: u64,
    first_frame: Option<u64>,
}

impl NonFinite {
    fn record(&mut self, frame: u64, values: usize) {
        self.values += values;
        self.frames += 1;
        self.first_frame = Some(self.first_frame.map_or(frame, |f| f.min(frame)));
    }
}

fn usage(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Usage(format!("model {path:?}: {message}"))
}

/// The style vector of the weighted `images` (weights normalised to sum 1; the vectors are
/// blended linearly, as Ghiasi et al. interpolate styles), and its label: the image's name, or
/// `a 0.70 + b 0.30`.
fn blend_styles(
    predictor: &Path,
    images: &[(PathBuf, f32)],
    shape: &[i64],
    range: ValueRange,
    session: &SessionOptions,
) -> Result<(Vec<f32>, Option<String>)> {
    let total: f32 = images.iter().map(|(_, w)| w).sum();
    if !(total.is_finite() && total > 0.0) || images.iter().any(|(_, w)| *w < 0.0) {
        return Err(Error::Usage(
            "--style IMAGE=WEIGHT: weights are 0 or more, and not all 0".into(),
        ));
    }
    let mut blend: Vec<f32> = Vec::new();
    let mut names = Vec::new();
    for (image, w) in images {
        let w = w / total;
        let v = style_vector(predictor, image, shape, range, session)?;
        blend.resize(v.len(), 0.0);
        blend.iter_mut().zip(&v).for_each(|(b, x)| *b += w * x);
        let stem = image
            .file_stem()
            .map_or_else(|| "style".into(), |s| s.to_string_lossy().into_owned());
        names.push(if images.len() == 1 {
            stem
        } else {
            format!("{stem} {w:.2}")
        });
    }
    Ok((blend, Some(names.join(" + "))))
}

impl FeedForward {
    /// Loads `path`, checks the contract, prepares the requested style and makes a trial run.
    ///
    /// # Errors
    /// A missing or unreadable model, one that does not fit the contract, a style request that
    /// does not fit the model (a usage error), or a provider failure.
    pub fn load(path: &Path, opts: &FeedForwardOptions) -> Result<(Self, &'static str)> {
        let env = opts.session.environment()?;
        let (session, provider) = runtime::session(env, path, &opts.session)?;
        let contract = Contract::check(&io(session.inputs()), &io(session.outputs()))
            .map_err(|m| Error::model(path, m))?;
        let range = match opts.value_range {
            Some(r) => r,
            None => match metadata(&session, META_VALUE_RANGE) {
                Some(v) => ValueRange::parse(&v)
                    .map_err(|e| Error::model(path, format!("metadata {META_VALUE_RANGE}: {e}")))?,
                None => ValueRange::Byte,
            },
        };
        let mut styles = None;
        let (style_value, style_label) = match (&contract.style, &opts.style) {
            (None, StyleRequest::None) => (None, metadata_single_name(&session)),
            (None, StyleRequest::Choice(_)) => {
                return Err(usage(
                    path,
                    "is a single-style network; --style-name and --style-mix need a multi-style model (see --list-styles)",
                ));
            }
            (None, StyleRequest::Images(_)) => {
                return Err(usage(
                    path,
                    "is a trained style network and takes no style image; drop --style, or use --mode optimize --style IMAGE without --model",
                ));
            }
            (Some(StyleInput::Weights { count, .. }), request) => {
                let list =
                    Styles::from_metadata(metadata(&session, META_STYLES).as_deref(), *count)
                        .map_err(|m| Error::model(path, m))?;
                let choice = match request {
                    StyleRequest::Choice(c) => c,
                    StyleRequest::None => {
                        return Err(usage(
                            path,
                            format!(
                                "holds {} styles; pick one with --style-name NAME or mix them with --style-mix NAME=W,NAME=W ({})",
                                list.len(),
                                list.names()
                            ),
                        ));
                    }
                    StyleRequest::Images(_) => {
                        return Err(usage(
                            path,
                            format!(
                                "holds {} trained styles and takes no style image; pick one with --style-name ({})",
                                list.len(),
                                list.names()
                            ),
                        ));
                    }
                };
                let (w, label) = list.weights(choice).map_err(|m| usage(path, m))?;
                styles = Some(list);
                (Some((vec![w.len()], w)), Some(label))
            }
            (Some(StyleInput::Vector { shape, .. }), StyleRequest::Images(images))
                if !images.is_empty() =>
            {
                let predictor = match &opts.style_predictor {
                    Some(p) => p.clone(),
                    None => {
                        let named = metadata(&session, META_STYLE_PREDICTOR).ok_or_else(|| {
                            usage(
                                path,
                                "takes a style vector but names no predictor network; pass --style-predictor PREDICTOR.onnx",
                            )
                        })?;
                        path.parent().unwrap_or(Path::new(".")).join(named)
                    }
                };
                let (v, label) = blend_styles(&predictor, images, shape, range, &opts.session)?;
                let dims = shape.iter().map(|&d| d as usize).collect();
                (Some((dims, v)), label)
            }
            (Some(StyleInput::Vector { .. }), _) => {
                return Err(usage(
                    path,
                    "paints the style of an image: pass --style IMAGE (any painting)",
                ));
            }
        };
        let batch = if contract.dynamic_batch {
            opts.batch.max(1)
        } else {
            1
        };
        let tiling = Tiling::new(path, &contract, opts)?;
        let mut me = Self {
            path: path.to_path_buf(),
            session,
            contract,
            batch,
            max_side: opts.max_side,
            range,
            styles,
            style_value,
            style_label,
            input: Vec::new(),
            non_finite: NonFinite::default(),
            tiling,
        };
        me.trial_run()?;
        Ok((me, provider))
    }

    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The styles of a multi-style network.
    pub fn styles(&self) -> Option<&Styles> {
        self.styles.as_ref()
    }

    /// The style being painted ("starry_night", a mix, or the style image's name), when known.
    pub fn style_label(&self) -> Option<&str> {
        self.style_label.as_deref()
    }

    /// Switches a multi-style network to style `index` (the contact sheet paints them all).
    ///
    /// # Errors
    /// Not a multi-style network, or no such style.
    pub fn set_style(&mut self, index: usize) -> Result<()> {
        let styles = self
            .styles
            .as_ref()
            .filter(|s| index < s.len())
            .ok_or_else(|| Error::Other(format!("internal: no style {index}")))?;
        let w = styles.one_hot(index);
        self.style_label = Some(styles.list[index].name.clone());
        self.style_value = Some((vec![w.len()], w));
        Ok(())
    }

    /// Runs the model once on a small grey picture so a broken model fails before any frame.
    fn trial_run(&mut self) -> Result<()> {
        let (w, h) = self
            .contract
            .fixed_size
            .unwrap_or((MIN_SIDE as u32, MIN_SIDE as u32));
        let mut f = Frame::blank(0, w, h);
        f.rgb.fill(128);
        self.run(std::slice::from_mut(&mut f)).map_err(|e| match e {
            Error::Model { .. } => e,
            other => Error::model(&self.path, format!("trial run failed: {other}")),
        })
    }

    fn run(&mut self, frames: &mut [Frame]) -> Result<()> {
        let (w, h) = (frames[0].width as usize, frames[0].height as usize);
        let (pw, ph) = match self.contract.fixed_size {
            Some((fw, fh)) => (fw as usize, fh as usize),
            None => (
                round_up(w.max(MIN_SIDE), SIZE_MULTIPLE),
                round_up(h.max(MIN_SIDE), SIZE_MULTIPLE),
            ),
        };
        if w > pw || h > ph {
            return Err(Error::Other(format!(
                "internal: frame {w}x{h} given to a {pw}x{ph} model"
            )));
        }
        let n = frames.len();
        let image = 3 * pw * ph;
        let layout = self.contract.layout;
        self.input.resize(n * image, 0.0);
        for (f, chunk) in frames.iter().zip(self.input.chunks_exact_mut(image)) {
            match layout {
                Layout::Nchw => rgb_to_chw_padded(&f.rgb, w, h, pw, ph, chunk),
                Layout::Nhwc => rgb_to_hwc_padded(&f.rgb, w, h, pw, ph, chunk),
            }
        }
        if self.range == ValueRange::Unit {
            self.input.iter_mut().for_each(|v| *v *= 1.0 / 255.0);
        }
        let shape = layout.shape(n, ph, pw);
        let tensor = TensorRef::from_array_view((shape, &self.input[..]))?;
        let mut inputs: Vec<(std::borrow::Cow<'_, str>, SessionInputValue<'_>)> =
            ort::inputs![self.contract.input.as_str() => tensor];
        if let (
            Some(StyleInput::Weights { name, .. } | StyleInput::Vector { name, .. }),
            Some((dims, values)),
        ) = (&self.contract.style, &self.style_value)
        {
            let style = TensorRef::from_array_view((dims.clone(), &values[..]))?;
            inputs.push((name.as_str().into(), style.into()));
        }
        let outputs = self.session.run(inputs).map_err(|e| {
            Error::Runtime(format!(
                "model {:?}: inference failed on a {pw}x{ph} frame ({})",
                self.path,
                e.message()
            ))
        })?;
        let (out_shape, data) =
            outputs[self.contract.output.as_str()].try_extract_tensor::<f32>()?;
        let dims: Vec<i64> = out_shape.iter().copied().collect();
        let want: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        if dims != want {
            return Err(Error::model(
                &self.path,
                format!(
                    "output shape {dims:?} differs from the input shape {want:?}; vstyle needs the same shape out as in"
                ),
            ));
        }
        let scale = 255.0 / self.range.max();
        for (f, chunk) in frames.iter_mut().zip(data.chunks_exact(image)) {
            let bad = match layout {
                Layout::Nchw => chw_to_rgb_cropped(chunk, pw, ph, w, h, scale, &mut f.rgb),
                Layout::Nhwc => hwc_to_rgb_cropped(chunk, pw, ph, w, h, scale, &mut f.rgb),
            };
            if bad > 0 {
                if bad == 3 * w * h {
                    return Err(Error::Runtime(format!(
                        "model {:?}: gave NaN or infinite values for every pixel of frame {}; the network is broken for this input",
                        self.path, f.index
                    )));
                }
                self.non_finite.record(f.index, bad);
            }
        }
        Ok(())
    }
}

impl FeedForward {
    /// Stylizes one frame in tiles of at most `core` pixels a side, with the instance norms'
    /// statistics from its thumbnail.
    fn run_tiled(&mut self, frame: &mut Frame, core: u32) -> Result<()> {
        if self.tiling.runner.is_none() {
            let graphs =
                self.tiling.graphs.clone().map_err(|why| {
                    Error::Other(format!("internal: tiles for a network that {why}"))
                })?;
            self.tiling.runner = Some(TiledRunner::new(
                &self.path,
                graphs,
                &self.tiling.session,
                self.tiling.options.smoothing,
                self.tiling.options.refresh,
            )?);
        }
        let runner = self.tiling.runner.as_mut().expect("made above");
        let style = match (&self.contract.style, &self.style_value) {
            (
                Some(StyleInput::Weights { name, .. } | StyleInput::Vector { name, .. }),
                Some((dims, values)),
            ) => Some((name.as_str(), &dims[..], &values[..])),
            _ => None,
        };
        let feeds = Feeds {
            input: &self.contract.input,
            output: &self.contract.output,
            style,
            in_scale: if self.range == ValueRange::Unit {
                1.0 / 255.0
            } else {
                1.0
            },
        };
        let out_scale = 255.0 / self.range.max();
        let bad = runner
            .run(
                frame,
                core,
                self.tiling.options.thumbnail,
                &feeds,
                out_scale,
            )
            .map_err(|e| match e {
                Error::Runtime(m) => Error::Runtime(format!("model {:?}: {m}", self.path)),
                other => other,
            })?;
        if bad > 0 {
            if bad == 3 * frame.width as usize * frame.height as usize {
                return Err(Error::Runtime(format!(
                    "model {:?}: gave NaN or infinite values for every pixel of frame {}; the network is broken for this input",
                    self.path, frame.index
                )));
            }
            self.non_finite.record(frame.index, bad);
        }
        Ok(())
    }
}

/// Pixels of the frame mirrored past its right and bottom edges for the network, and cut off
/// its output. A stride-2 convolution never reaches past the last column and row, and trained
/// networks paint a stripe there: `scream.onnx` a bright one 1 to 3 pixels wide on the right
/// edge (the last column's mean 78 against 48 to 60 beside it on a frame of samples/clip.mp4,
/// 56 against 56 to 58 with this margin).
const EDGE_MARGIN: u32 = 4;

/// `frame` with [`EDGE_MARGIN`] mirrored pixels added on the right and at the bottom.
fn with_edge_margin(frame: &Frame) -> Frame {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (ww, wh) = (w + EDGE_MARGIN as usize, h + EDGE_MARGIN as usize);
    let mut rgb = Vec::with_capacity(ww * wh * 3);
    for y in 0..wh {
        let row = &frame.rgb[reflect(y, h) * w * 3..][..w * 3];
        rgb.extend_from_slice(row);
        for x in w..ww {
            let m = reflect(x, w) * 3;
            rgb.extend_from_slice(&row[m..m + 3]);
        }
    }
    Frame {
        index: frame.index,
        pts: frame.pts,
        duration: frame.duration,
        width: ww as u32,
        height: wh as u32,
        rgb,
        motion: None,
    }
}

impl FeedForward {
    /// Runs `frames` whole or in tiles, as the memory budget says.
    fn dispatch(&mut self, frames: &mut [Frame]) -> Result<()> {
        let (w, h) = (frames[0].width, frames[0].height);
        match self.tiling.core_for(&self.path, w, h) {
            None => self.run(frames),
            Some(core) => frames.iter_mut().try_for_each(|f| self.run_tiled(f, core)),
        }
    }
}

impl Stylizer for FeedForward {
    fn batch_size(&self) -> usize {
        self.batch
    }

    fn processing_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.contract.fixed_size {
            Some((fw, fh)) => fit_inside(width, height, fw, fh),
            None => limit_side(width, height, self.max_side),
        }
    }

    fn stylize(
        &mut self,
        frames: &mut [Frame],
        _progress: &dyn Progress,
        _cancel: &crate::cancel::Cancel,
    ) -> Result<()> {
        if frames.is_empty() {
            return Ok(());
        }
        if self.contract.fixed_size.is_some() {
            return self.dispatch(frames);
        }
        // The network paints a mirrored margin past the right and bottom edges, cut off after.
        let mut wide: Vec<Frame> = frames.iter().map(with_edge_margin).collect();
        self.dispatch(&mut wide)?;
        for (f, w) in frames.iter_mut().zip(wide) {
            f.rgb = crop_rgb(
                &w.rgb,
                w.width as usize,
                0,
                0,
                f.width as usize,
                f.height as usize,
            );
        }
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(runner) = &mut self.tiling.runner {
            runner.reset();
        }
    }

    fn warnings(&mut self) -> Vec<String> {
        let n = std::mem::take(&mut self.non_finite);
        let notes = std::mem::take(&mut self.tiling.notes);
        match n.first_frame {
            None => notes,
            Some(first) => notes.into_iter().chain([format!(
                "model {:?} gave {} NaN or infinite value(s) in {} frame(s), from frame {first} on; they are drawn black or white",
                self.path, n.values, n.frames
            )]).collect(),
        }
    }
}
