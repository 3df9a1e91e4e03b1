//! Optimisation mode (Gatys et al. 2016): each frame's pixels are optimised with L-BFGS until its
//! deep features match the content frame's and its feature correlations (Gram matrices) match
//! the style image's. Content weight 0 gives texture synthesis, style weight 0 content
//! reconstruction.
//!
//! ```text
//! style image ─ targets graph ─▶ Gram targets (once per run) ─┐
//! frame ──────── targets graph ─▶ content target (per frame) ──┼─▶ loss graph ─▶ loss, grad ─▶ L-BFGS
//!                         image being optimised ───────────────┘        ▲                      │
//!                                                                       └──────────────────────┘
//! ```
//!
//! Both graphs are generated at load time from the loss network's layers ([`graph`]), so one
//! ONNX Runtime run gives one evaluation of the loss and its gradient. The targets are made once
//! and handed to every run as the same tensors, never copied again.
//!
//! The optimiser is `argmin`'s L-BFGS with a More-Thuente line search (strong Wolfe
//! conditions). It knows no bounds, so it works on free variables `v`, one per pixel value, with
//! pixel = `127.5 (1 + tanh v)`: every point it tries is an image in 0..255, and the gradient
//! with respect to `v` is exact (the chain rule through `tanh`). Two simpler ways were tried and
//! dropped: evaluating the loss at the clamped image (the optimiser then sees `L(clamp(x))`)
//! stalls, because a pixel that a line-search step pushes out of range gets a zero gradient and
//! stays there (content reconstruction stopped near 20 dB PSNR); optimising unbounded pixels and
//! clamping the result lets strong styles drive many pixels far out of range, and the clamped
//! image lost most of what the optimiser had gained (its loss was 25 times the optimiser's).
//! Runs stop after `steps` L-BFGS iterations (or when no step lowers the loss further); the
//! gradient and cost tolerances are off, because the loss and its gradient are tiny in absolute
//! terms and default tolerances stop some runs before the first step.
//!
//! For video ([`motion`], after Ruder et al. 2016), frame k > 0 starts from frame k − 1's
//! result moved by the input's motion (`--temporal`'s motion estimate and warp), with the
//! current frame where the previous one showed something else, and gets `steps_next`
//! iterations; a temporal term in the loss graph ties each pixel to that moved result where the
//! motion can be trusted. The painted texture then moves with the picture instead of staying on
//! the screen. [`Stylizer::reset`] forgets the previous result and the motion between files.
//! That dependency is why the stylizer runs as a single worker.

pub mod graph;
pub mod motion;
mod objective;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use argmin::core::observers::ObserverMode;
use argmin::core::{Executor, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use prost::Message;

use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::frame::{Frame, chw_to_rgb_cropped, rgb_to_chw_padded};
use crate::progress::Progress;
use crate::runtime::{self, SessionOptions};
use crate::stylize::{Stylizer, limit_side};
use crate::temporal::MotionEstimator;
pub use graph::{LossNetwork, LossSpec, Pool};
pub use motion::VideoStart;
use objective::{IterationCounter, Tally, from_argmin, to_free, to_pixel};

/// The largest change of a free variable (see [`to_pixel`]) in the first L-BFGS trial step:
/// about 13 grey levels for a mid-grey pixel.
const FIRST_STEP: f64 = 0.1;

/// Without an explicit style scale, the style image's long side is the content's but at least
/// this many pixels: below it the loss network no longer resolves a painting's brushwork, and
/// small frames came out speckled, with less of their subject (docs/optimize.md has the sweep).
pub const MIN_STYLE_SIDE: u32 = 384;

/// Correction pairs L-BFGS keeps. Ten is the usual choice (SciPy's default); more pairs cost
/// memory (two images each) for little gain on this problem.
const HISTORY: usize = 10;

/// Where the optimisation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Init {
    /// The content image (style transfer).
    Content,
    /// Seeded uniform noise in 64..191 (texture synthesis, content reconstruction).
    Noise,
}

/// Everything that shapes an optimisation run.
#[derive(Debug, Clone)]
pub struct OptimizeOptions {
    pub session: SessionOptions,
    /// The prepared loss network (`models/vgg16_features.onnx`).
    pub loss_net: PathBuf,
    /// The style image; needed when `style_weight > 0`.
    pub style: Option<PathBuf>,
    pub content_layer: String,
    pub style_layers: Vec<String>,
    pub content_weight: f32,
    pub style_weight: f32,
    pub tv_weight: f32,
    /// Weight of the temporal term (video frames after the first): the mean of
    /// `c · (x − warp(x_{t−1}))²`, see [`graph::video_loss_model`]; 0 leaves it out.
    pub temporal_weight: f32,
    /// The style image's long side relative to the content's (the processing size): 1 shows the
    /// painting at the frame's size, smaller makes its strokes finer. `None`: 1, but the painting
    /// at least [`MIN_STYLE_SIDE`] pixels (or its own size, when smaller).
    pub style_scale: Option<f32>,
    /// L-BFGS iterations for a still image or a video's first frame.
    pub steps: u32,
    /// L-BFGS iterations for each later frame, which starts from the previous result.
    pub steps_next: u32,
    /// Where a video frame after the first starts.
    pub video_start: VideoStart,
    pub init: Init,
    pub seed: u64,
    /// The processing resolution's longer side (frames and the style image are scaled down to
    /// it); `None` picks 512 on CUDA and 256 on the CPU.
    pub size: Option<u32>,
    pub pool: Pool,
}

/// The result of one optimisation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The optimised image, CHW float32 in 0..255.
    pub image: Vec<f32>,
    pub initial_loss: f64,
    pub loss: f64,
    /// L-BFGS iterations done.
    pub iterations: u64,
    /// Runs of the loss graph (line searches may take more than one per iteration).
    pub evaluations: u32,
}

/// The loss graph's inputs besides the image, for one content image.
pub struct Targets {
    content: Option<(String, Tensor<f32>)>,
    /// The temporal term's target and mask when the graph has that term (all zeros, the term
    /// off, until [`Targets::set_previous`]).
    temporal: Option<(Tensor<f32>, Tensor<f32>)>,
}

impl Targets {
    /// Gives the temporal term the previous result moved to this frame (`warped`, CHW
    /// `width x height`) and the trust in each pixel (`mask`, `width x height`, 0..1). Without
    /// a temporal term in the loss (weight 0) this does nothing.
    ///
    /// # Errors
    /// ONNX Runtime failures.
    pub fn set_previous(
        &mut self,
        warped: &[f32],
        mask: &[f32],
        width: u32,
        height: u32,
    ) -> Result<()> {
        if let Some(t) = &mut self.temporal {
            assert_eq!(warped.len(), 3 * mask.len());
            *t = (
                image_tensor(warped, width, height)?,
                mask_tensor(mask, width, height)?,
            );
        }
        Ok(())
    }
}

enum StyleImage<'a> {
    File(&'a Path),
    Pixels(&'a [f32], u32, u32),
}

/// Where the style targets come from: a file, decoded at the size the content asks for, or
/// pixels given at their own size.
enum StyleSource {
    File(PathBuf),
    Pixels(Vec<f32>, u32, u32),
}

struct Previous {
    width: u32,
    height: u32,
    /// The result as the optimiser left it (CHW, 0..255).
    image: Vec<f32>,
    /// The result as output (packed RGB24), which the next frame's start is moved from.
    rgb: Vec<u8>,
}

/// The optimisation-mode stylizer.
pub struct Optimize {
    opts: OptimizeOptions,
    /// The processing resolution's longer side.
    size: u32,
    spec: LossSpec,
    /// Forward graph giving the content features and Gram matrices.
    targets: Option<Session>,
    /// Loss-and-gradient graph.
    loss: Session,
    style_targets: Vec<(String, Tensor<f32>)>,
    style_names: Vec<String>,
    style_source: Option<StyleSource>,
    /// The content's long side that `style_targets` were made for.
    style_for: Option<u32>,
    content_name: Option<String>,
    previous: Option<Previous>,
    /// The input's motion from each frame back to the previous one.
    motion: MotionEstimator,
}

impl Optimize {
    /// Reads the loss network, builds and loads both graphs, and computes the style targets from
    /// `opts.style`.
    ///
    /// # Errors
    /// A missing or unsuitable loss network, an unknown layer, a missing or unreadable style
    /// image, nothing to optimise, or an ONNX Runtime failure.
    pub fn load(opts: &OptimizeOptions) -> Result<(Self, &'static str)> {
        Self::build(opts, opts.style.as_deref().map(StyleImage::File))
    }

    /// As [`Optimize::load`], with the style image given as pixels (CHW float32 0..255,
    /// `width x height`) instead of `opts.style`.
    ///
    /// # Errors
    /// As [`Optimize::load`].
    pub fn with_style(
        opts: &OptimizeOptions,
        style: Option<(&[f32], u32, u32)>,
    ) -> Result<(Self, &'static str)> {
        Self::build(opts, style.map(|(p, w, h)| StyleImage::Pixels(p, w, h)))
    }

    fn build(
        opts: &OptimizeOptions,
        style: Option<StyleImage<'_>>,
    ) -> Result<(Self, &'static str)> {
        let path = &opts.loss_net;
        let bytes = std::fs::read(path).map_err(|e| {
            Error::model(
                path,
                format!(
                    "cannot read the loss network ({}); models/README.md says how to prepare it",
                    e.kind().to_string().to_lowercase()
                ),
            )
        })?;
        let net = LossNetwork::parse(&bytes).map_err(|m| Error::model(path, m))?;
        drop(bytes);
        let spec = loss_spec(&net, opts).map_err(|m| Error::model(path, m))?;
        if let Some(s) = opts.style_scale
            && !(s.is_finite() && s > 0.0)
        {
            return Err(Error::Usage(format!(
                "style scale {s} is not a positive number"
            )));
        }
        if spec.deepest().is_none() && spec.tv_weight == 0.0 {
            return Err(Error::Usage(
                "nothing to optimise: content, style and total-variation weights are all 0".into(),
            ));
        }
        let env = opts.session.environment()?;
        let (loss, provider) = runtime::session_from_memory(
            env,
            path,
            &graph::video_loss_model(&net, &spec, opts.temporal_weight).encode_to_vec(),
            &opts.session,
        )?;
        let targets = match spec.deepest() {
            Some(_) => Some(
                runtime::session_from_memory(
                    env,
                    path,
                    &graph::targets_model(&net, &spec).encode_to_vec(),
                    &opts.session,
                )?
                .0,
            ),
            None => None,
        };
        let content_name = spec
            .content_layer
            .map(|c| graph::content_name(&net.layers[c].name));
        let style_names: Vec<String> = spec
            .style_layers
            .iter()
            .map(|&s| graph::gram_name(&net.layers[s].name))
            .collect();
        // The CPU is several times slower per pixel: a smaller default keeps a run in minutes.
        let size = opts
            .size
            .unwrap_or(if provider == "CUDA" { 512 } else { 256 });
        let style_source = if style_names.is_empty() {
            None
        } else {
            Some(match style {
                Some(StyleImage::File(path)) => StyleSource::File(path.to_path_buf()),
                Some(StyleImage::Pixels(p, w, h)) => StyleSource::Pixels(p.to_vec(), w, h),
                None => {
                    return Err(Error::Usage(
                        "a style weight above 0 needs a style image: pass --style IMAGE (or --style-weight 0 to reconstruct the content)".into(),
                    ));
                }
            })
        };
        let mut me = Self {
            opts: opts.clone(),
            size,
            spec,
            targets,
            loss,
            style_targets: Vec::new(),
            style_names,
            style_source,
            style_for: None,
            content_name,
            previous: None,
            motion: MotionEstimator::default(),
        };
        // Made now for content at the processing size, so an unreadable style image fails
        // before any frame; a frame of another size remakes them.
        me.prepare_style(size)?;
        Ok((me, provider))
    }

    /// Makes the style targets for content whose long side is `content_side`, with the style
    /// image at the size [`style_side`] gives (pixels given with [`Optimize::with_style`] are
    /// taken at their own size).
    fn prepare_style(&mut self, content_side: u32) -> Result<()> {
        let Some(source) = &self.style_source else {
            return Ok(());
        };
        if self.style_for == Some(content_side) {
            return Ok(());
        }
        let (image, w, h) = match source {
            StyleSource::Pixels(..) if self.style_for.is_some() => return Ok(()),
            StyleSource::Pixels(p, w, h) => (Cow::Borrowed(p.as_slice()), *w, *h),
            StyleSource::File(path) => {
                let scale = self.opts.style_scale;
                let frame = crate::decode::first_picture(path, |w, h| {
                    fit_long_side(w, h, style_side(content_side, scale, w.max(h)))
                })?;
                let (w, h) = (frame.width, frame.height);
                let mut chw = vec![0.0; 3 * w as usize * h as usize];
                rgb_to_chw_padded(
                    &frame.rgb, w as usize, h as usize, w as usize, h as usize, &mut chw,
                );
                (Cow::Owned(chw), w, h)
            }
        };
        let session = self
            .targets
            .as_mut()
            .expect("style layers need the targets graph");
        let outputs = session.run(vec![(
            Cow::Borrowed(graph::IMAGE),
            SessionInputValue::from(image_tensor(&image, w, h)?),
        )])?;
        self.style_targets.clear();
        for name in &self.style_names {
            let gram = owned(&outputs[name.as_str()])?;
            self.style_targets.push((name.clone(), gram));
        }
        tracing::debug!("style targets made from the style image at {w}x{h}");
        self.style_for = Some(content_side);
        Ok(())
    }

    /// The loss being minimised.
    pub fn spec(&self) -> &LossSpec {
        &self.spec
    }

    /// The targets for a content image (CHW, 0..255, `width x height`); `None` in texture mode.
    ///
    /// # Errors
    /// ONNX Runtime failures.
    pub fn targets_for(
        &mut self,
        content: Option<&[f32]>,
        width: u32,
        height: u32,
    ) -> Result<Targets> {
        self.prepare_style(width.max(height))?;
        let plane = width as usize * height as usize;
        let temporal = if self.opts.temporal_weight != 0.0 {
            Some((
                image_tensor(&vec![0.0; 3 * plane], width, height)?,
                mask_tensor(&vec![0.0; plane], width, height)?,
            ))
        } else {
            None
        };
        let (Some(name), Some(session)) = (&self.content_name, self.targets.as_mut()) else {
            return Ok(Targets {
                content: None,
                temporal,
            });
        };
        let content = content
            .ok_or_else(|| Error::Other("a content weight above 0 needs a content image".into()))?;
        let outputs = session.run(vec![(
            Cow::Borrowed(graph::IMAGE),
            SessionInputValue::from(image_tensor(content, width, height)?),
        )])?;
        let features = owned(&outputs[name.as_str()])?;
        Ok(Targets {
            content: Some((name.clone(), features)),
            temporal,
        })
    }

    /// One evaluation of the loss and its gradient at `image` (CHW, `width x height`), as the
    /// graph computes them.
    ///
    /// # Errors
    /// ONNX Runtime failures.
    pub fn evaluate(
        &mut self,
        image: &[f32],
        width: u32,
        height: u32,
        targets: &Targets,
    ) -> Result<(f64, Vec<f32>)> {
        let tensor = image_tensor(image, width, height)?;
        let inputs = loss_inputs(&tensor, targets, &self.style_targets);
        let outputs = self.loss.run(inputs)?;
        let (_, loss) = outputs[graph::LOSS].try_extract_tensor::<f32>()?;
        let (_, grad) = outputs[graph::GRAD].try_extract_tensor::<f32>()?;
        Ok((f64::from(loss[0]), grad.to_vec()))
    }

    /// Minimises the loss from `init` (CHW, `width x height`) for at most `steps` L-BFGS
    /// iterations; reports each evaluation as frame `index`'s progress, and stops with
    /// `Error::Cancelled` within one evaluation once `cancel` fires.
    ///
    /// # Errors
    /// ONNX Runtime failures; `Cancelled`.
    // The image, its size, the targets and the step budget, plus the caller's progress and
    // cancel: one call, no options struct worth its name.
    #[allow(clippy::too_many_arguments)]
    pub fn minimise(
        &mut self,
        init: &[f32],
        width: u32,
        height: u32,
        targets: &Targets,
        steps: u32,
        report: Option<(&dyn Progress, u64)>,
        cancel: &Cancel,
    ) -> Result<Outcome> {
        let iteration = Arc::new(AtomicU64::new(0));
        let tally = Tally::default();
        let (evaluations, network) = (&tally.evaluations, &tally.network);
        let started = std::time::Instant::now();
        let mut objective = self.objective(init, width, height, targets, &tally, cancel)?;
        objective.iteration = iteration.clone();
        objective.steps = steps;
        objective.report = report;
        let x0: Vec<f64> = init.iter().map(|&v| to_free(f64::from(v))).collect();
        let (c0, g0) = objective.evaluate(&x0).map_err(from_argmin)?;
        // The first L-BFGS step has no curvature to go by and tries a step of the raw gradient,
        // which for these losses (up to 1e12) is absurdly long; the line search then cannot
        // shrink it enough. Scaling the loss so the largest gradient entry is FIRST_STEP makes
        // that trial sensible; later steps are scale-free (L-BFGS rescales by its history).
        let largest = g0.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let scale = if largest > 0.0 {
            FIRST_STEP / largest
        } else {
            1.0
        };
        objective.scale.set(scale);
        let (c0, g0) = (c0 * scale, g0.iter().map(|g| g * scale).collect::<Vec<_>>());
        let mut best = (c0, x0.clone());
        let mut iterations = 0;
        if steps > 0 {
            let solver = LBFGS::new(MoreThuenteLineSearch::new(), HISTORY)
                .with_tolerance_grad(0.0)
                .and_then(|s| s.with_tolerance_cost(0.0))
                .map_err(from_argmin)?;
            let result = Executor::new(objective, solver)
                .configure(|s| {
                    s.param(x0)
                        .cost(c0)
                        .gradient(g0)
                        .max_iters(u64::from(steps))
                })
                .add_observer(IterationCounter(iteration), ObserverMode::Always)
                .timer(false)
                .run()
                .map_err(from_argmin)?;
            let mut state = result.state;
            iterations = state.get_iter();
            tracing::debug!(
                "L-BFGS stopped after {iterations} iterations: {:?}",
                state.get_termination_reason()
            );
            let cost = state.get_best_cost();
            if let Some(p) = state.take_best_param().filter(|_| cost <= best.0) {
                best = (cost, p);
            }
        }
        tracing::debug!(
            "{} evaluations in {:.2} s, {:.2} s of them in the loss graph",
            evaluations.get(),
            started.elapsed().as_secs_f64(),
            network.get().as_secs_f64()
        );
        Ok(Outcome {
            image: best.1.iter().map(|&v| to_pixel(v) as f32).collect(),
            initial_loss: c0 / scale,
            loss: best.0 / scale,
            iterations,
            evaluations: evaluations.get(),
        })
    }
}

impl Stylizer for Optimize {
    fn processing_size(&self, width: u32, height: u32) -> (u32, u32) {
        limit_side(width, height, Some(self.size))
    }

    fn stylize(
        &mut self,
        frames: &mut [Frame],
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<()> {
        for frame in frames {
            let (w, h) = (frame.width, frame.height);
            let (wu, hu) = (w as usize, h as usize);
            // Every input frame goes through the estimator, in order, so it always holds the
            // one before; `None` for the first frame, after a size change and at a scene cut.
            let motion = self.motion.next(&frame.rgb, wu, hu);
            let mut content = vec![0.0; 3 * wu * hu];
            rgb_to_chw_padded(&frame.rgb, wu, hu, wu, hu, &mut content);
            let mut targets = self.targets_for(Some(&content), w, h)?;
            let previous = self
                .previous
                .take()
                .filter(|p| (p.width, p.height) == (w, h));
            // The previous result moved to this frame, where the input moved (for the start and
            // the temporal term; an independent frame has neither).
            let warped = match (&previous, &motion, self.opts.video_start) {
                (_, _, VideoStart::Independent) => None,
                (Some(p), Some(m), _) => Some(motion::warp_result(&p.rgb, wu, hu, m)),
                _ => None,
            };
            if let Some(warped) = &warped {
                targets.set_previous(&warped.image, &warped.mask, w, h)?;
            }
            let first = |content: Vec<f32>| match self.opts.init {
                Init::Content => (content, self.opts.steps),
                Init::Noise => (start_noise(content.len(), self.opts.seed), self.opts.steps),
            };
            let (init, steps) = match (self.opts.video_start, previous, warped) {
                (VideoStart::Warped, _, Some(warped)) => (
                    motion::warped_start(&warped, &content),
                    self.opts.steps_next,
                ),
                (VideoStart::Previous, Some(p), _) => (p.image, self.opts.steps_next),
                // The first frame, a scene cut, or every frame on its own: a fresh start.
                _ => first(content),
            };
            tracing::info!("frame {}: optimising, {steps} iterations", frame.index);
            let outcome = self.minimise(
                &init,
                w,
                h,
                &targets,
                steps,
                Some((progress, frame.index)),
                cancel,
            )?;
            tracing::info!(
                "frame {}: loss {:.4e} → {:.4e} in {} iterations, {} evaluations",
                frame.index,
                outcome.initial_loss,
                outcome.loss,
                outcome.iterations,
                outcome.evaluations
            );
            let _ = chw_to_rgb_cropped(&outcome.image, wu, hu, wu, hu, 1.0, &mut frame.rgb);
            self.previous = Some(Previous {
                width: w,
                height: h,
                image: outcome.image,
                rgb: frame.rgb.clone(),
            });
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.previous = None;
        self.motion = MotionEstimator::default();
    }

    fn output_at_processing_size(&self) -> bool {
        self.spec.content_layer.is_none()
    }
}

/// Resolves layer names and weights into the graph's loss terms.
fn loss_spec(net: &LossNetwork, opts: &OptimizeOptions) -> std::result::Result<LossSpec, String> {
    let content_layer = if opts.content_weight != 0.0 {
        Some(net.layer(&opts.content_layer)?)
    } else {
        None
    };
    let style_layers = if opts.style_weight != 0.0 {
        if opts.style_layers.is_empty() {
            return Err("no style layers given".into());
        }
        opts.style_layers
            .iter()
            .map(|l| net.layer(l))
            .collect::<std::result::Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    Ok(LossSpec {
        content_layer,
        content_weight: opts.content_weight,
        style_layers,
        style_weight: opts.style_weight,
        tv_weight: opts.tv_weight,
        pool: opts.pool,
    })
}

/// The style image's long side for content whose long side is `content_side`, the painting's
/// own being `painting_side`: `scale` times the content's, or without a scale the content's but
/// at least [`MIN_STYLE_SIDE`] (never enlarged past its own size for that).
pub fn style_side(content_side: u32, scale: Option<f32>, painting_side: u32) -> u32 {
    match scale {
        Some(s) => ((f64::from(content_side) * f64::from(s)).round() as u32).max(16),
        None => content_side.max(MIN_STYLE_SIDE.min(painting_side)),
    }
}

/// `width x height` scaled so the longer side is `long_side` (up or down), aspect kept.
fn fit_long_side(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    let scale = f64::from(long_side) / f64::from(width.max(height).max(1));
    let w = ((f64::from(width) * scale).round() as u32).max(1);
    let h = ((f64::from(height) * scale).round() as u32).max(1);
    (w, h)
}

/// How far the starting noise reaches from mid-grey, as a share of half the pixel range.
const START_NOISE_SPREAD: f32 = 0.5;

/// The noise an optimisation from noise starts at: seeded uniform noise in 64..191. The full
/// 0..255 put pixels near the ends of the range, where the tanh change of variables is flat
/// (d pixel / d v is 1/100 of its value at mid-grey half a level from an end): they got almost
/// no gradient and stayed saturated dots through hundreds of steps.
pub fn start_noise(len: usize, seed: u64) -> Vec<f32> {
    let mid = objective::PIXEL_HALF_RANGE as f32;
    noise(len, seed)
        .into_iter()
        .map(|v| mid + (v - mid) * START_NOISE_SPREAD)
        .collect()
}

/// Seeded uniform noise in 0..255 (SplitMix64, so a seed gives the same image everywhere).
pub fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 24) as f32 * 255.0
        })
        .collect()
}

fn image_tensor(chw: &[f32], width: u32, height: u32) -> Result<Tensor<f32>> {
    Ok(Tensor::from_array((
        [1usize, 3, height as usize, width as usize],
        chw.to_vec(),
    ))?)
}

fn mask_tensor(mask: &[f32], width: u32, height: u32) -> Result<Tensor<f32>> {
    Ok(Tensor::from_array((
        [1usize, 1, height as usize, width as usize],
        mask.to_vec(),
    ))?)
}

/// Copies a session output into a tensor that outlives the run.
fn owned(value: &ort::value::DynValue) -> Result<Tensor<f32>> {
    let (shape, data) = value.try_extract_tensor::<f32>()?;
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    Ok(Tensor::from_array((dims, data.to_vec()))?)
}

fn loss_inputs<'v>(
    image: &'v Tensor<f32>,
    targets: &'v Targets,
    style: &'v [(String, Tensor<f32>)],
) -> Vec<(Cow<'v, str>, SessionInputValue<'v>)> {
    let mut inputs = vec![(Cow::Borrowed(graph::IMAGE), SessionInputValue::from(image))];
    for (name, t) in targets.content.iter().chain(style) {
        inputs.push((Cow::Borrowed(name.as_str()), SessionInputValue::from(t)));
    }
    if let Some((target, mask)) = &targets.temporal {
        inputs.push((
            Cow::Borrowed(graph::TEMPORAL_TARGET),
            SessionInputValue::from(target),
        ));
        inputs.push((
            Cow::Borrowed(graph::TEMPORAL_MASK),
            SessionInputValue::from(mask),
        ));
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_style_image_follows_the_content_size_and_is_never_too_small_by_default() {
        // Default: the content's long side, at least MIN_STYLE_SIDE, never enlarged past the
        // painting's own size for that.
        assert_eq!(style_side(192, None, 1528), MIN_STYLE_SIDE);
        assert_eq!(style_side(512, None, 1528), 512);
        assert_eq!(style_side(192, None, 300), 300);
        assert_eq!(style_side(512, None, 300), 512);
        // An explicit scale is taken as it is.
        assert_eq!(style_side(192, Some(0.5), 1528), 96);
        assert_eq!(style_side(192, Some(2.0), 1528), 384);
        assert_eq!(fit_long_side(1200, 1528, 384), (302, 384));
    }
}
