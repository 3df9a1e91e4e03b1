//! The objective L-BFGS minimises: the loss graph's loss and gradient at the image the free
//! variables give (`pixel = 127.5 (1 + tanh v)`, so every pixel stays in 0..255), run through an
//! IO binding that holds the targets, with a small cache for the points the line search asks
//! about twice.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argmin::core::observers::Observe;
use argmin::core::{CostFunction, Gradient, IterState, KV, State};
use ort::memory::MemoryInfo;
use ort::session::{IoBinding, Session};
use ort::value::Tensor;

use super::{Optimize, Targets, graph, image_tensor};
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::progress::{Event, Progress};

/// What the objective counts while the optimiser runs.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) evaluations: Cell<u32>,
    /// Time spent in the loss graph (ONNX Runtime), to tell it from the optimiser's own.
    pub(super) network: Cell<std::time::Duration>,
}

impl Optimize {
    /// The objective [`Optimize::minimise`] hands L-BFGS, at the image `init` (CHW, `width x
    /// height`): the targets bound once (on CUDA they are copied to the device here, not at
    /// every evaluation), the image bound anew for each evaluation.
    pub(super) fn objective<'a>(
        &'a mut self,
        init: &[f32],
        width: u32,
        height: u32,
        targets: &Targets,
        tally: &'a Tally,
        cancel: &'a Cancel,
    ) -> Result<Objective<'a>> {
        let image = image_tensor(init, width, height)?;
        let mut binding = self.loss.create_binding()?;
        for (name, t) in targets.content.iter().chain(&self.style_targets) {
            binding.bind_input(name.as_str(), t)?;
        }
        if let Some((target, mask)) = &targets.temporal {
            binding.bind_input(graph::TEMPORAL_TARGET, target)?;
            binding.bind_input(graph::TEMPORAL_MASK, mask)?;
        }
        let host = MemoryInfo::default();
        binding.bind_output_to_device(graph::LOSS, &host)?;
        binding.bind_output_to_device(graph::GRAD, &host)?;
        Ok(Objective {
            session: RefCell::new(&mut self.loss),
            binding: RefCell::new(binding),
            image: RefCell::new(image),
            cache: RefCell::new(Vec::new()),
            slope: RefCell::new(Vec::new()),
            evaluations: &tally.evaluations,
            network: &tally.network,
            scale: Cell::new(1.0),
            iteration: Arc::new(AtomicU64::new(0)),
            steps: 0,
            report: None,
            cancel,
        })
    }
}

/// Half of the pixel range: pixels are `127.5 (1 + tanh v)` of the free variables `v`.
pub(super) const PIXEL_HALF_RANGE: f64 = 127.5;

/// The pixel value (0..255, never outside) of a free variable.
pub(super) fn to_pixel(v: f64) -> f64 {
    PIXEL_HALF_RANGE * (1.0 + v.tanh())
}

/// The free variable of a pixel value; values at or beyond the ends of the range are taken half
/// a level inside, where the map is still steep enough to move.
pub(super) fn to_free(pixel: f64) -> f64 {
    (pixel.clamp(0.5, 254.5) / PIXEL_HALF_RANGE - 1.0).atanh()
}

pub(super) fn from_argmin(e: argmin::core::Error) -> Error {
    match e.downcast::<Error>() {
        Ok(e) => e,
        Err(e) => Error::Other(format!("optimiser: {e}")),
    }
}

/// What the optimiser minimises: the loss at the image the free variables give, one graph run
/// per new point.
pub(super) struct Objective<'a> {
    session: RefCell<&'a mut Session>,
    /// The targets and outputs, bound once; the image is re-bound for each evaluation.
    binding: RefCell<IoBinding>,
    /// The image input, allocated once and overwritten for each evaluation.
    image: RefCell<Tensor<f32>>,
    /// d pixel / d variable at the point being evaluated (reused buffer).
    slope: RefCell<Vec<f64>>,
    /// The last few evaluations: the line search asks for the cost and then the gradient at the
    /// same point, and L-BFGS asks again for the gradient where the line search stopped.
    cache: RefCell<Vec<Evaluation>>,
    evaluations: &'a Cell<u32>,
    /// Time spent in the loss graph (ONNX Runtime), to tell it from the optimiser's own.
    network: &'a Cell<std::time::Duration>,
    /// The factor the optimiser sees the loss multiplied by (see [`Optimize::minimise`]).
    pub(super) scale: Cell<f64>,
    pub(super) iteration: Arc<AtomicU64>,
    pub(super) steps: u32,
    pub(super) report: Option<(&'a dyn Progress, u64)>,
    /// Checked before each evaluation: a cancel stops within one graph run.
    cancel: &'a Cancel,
}

/// The loss and gradient at one point.
struct Evaluation {
    x: Vec<f64>,
    cost: f64,
    grad: Vec<f64>,
}

/// Evaluations kept in [`Objective::cache`].
const CACHED: usize = 3;

impl Objective<'_> {
    pub(super) fn evaluate(
        &self,
        x: &[f64],
    ) -> std::result::Result<(f64, Vec<f64>), argmin::core::Error> {
        self.evaluate_with(x, true)
    }

    /// The scaled loss at `x`, and its scaled gradient when `with_gradient` (else an empty one:
    /// the line search often wants only the cost, and copying 3·H·W values costs time).
    fn evaluate_with(
        &self,
        x: &[f64],
        with_gradient: bool,
    ) -> std::result::Result<(f64, Vec<f64>), argmin::core::Error> {
        let scale = self.scale.get();
        let scaled = |e: &Evaluation| {
            let grad = if with_gradient {
                e.grad.iter().map(|g| g * scale).collect()
            } else {
                Vec::new()
            };
            (e.cost * scale, grad)
        };
        if let Some(e) = self.cache.borrow().iter().find(|e| e.x == x) {
            return Ok(scaled(e));
        }
        if self.cancel.is_cancelled() {
            // Ctrl-C: stop within one evaluation rather than after the frame's last step.
            return Err(argmin::core::Error::new(Error::Cancelled));
        }
        let (cost, grad) = self.run(x).map_err(argmin::core::Error::new)?;
        self.evaluations.set(self.evaluations.get() + 1);
        if let Some((progress, index)) = self.report {
            let step = (self.iteration.load(Ordering::Relaxed) + 1).min(u64::from(self.steps));
            progress.event(Event::OptimizeStep {
                index,
                step: step as u32,
                of: self.steps,
                loss: cost,
            });
        }
        let mut cache = self.cache.borrow_mut();
        if cache.len() == CACHED {
            cache.remove(0);
        }
        cache.push(Evaluation {
            x: x.to_vec(),
            cost,
            grad,
        });
        Ok(scaled(cache.last().expect("just pushed")))
    }

    fn run(&self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let mut image = self.image.borrow_mut();
        let (_, pixels) = image.extract_tensor_mut();
        let mut slope = self.slope.borrow_mut();
        slope.resize(x.len(), 0.0);
        // One tanh per variable: the pixel, and d pixel / d v = 127.5 (1 − tanh² v) for the
        // chain rule below.
        for ((p, d), &v) in pixels.iter_mut().zip(slope.iter_mut()).zip(x) {
            let t = v.tanh();
            *p = (PIXEL_HALF_RANGE * (1.0 + t)) as f32;
            *d = PIXEL_HALF_RANGE * (1.0 - t * t);
        }
        let mut binding = self.binding.borrow_mut();
        let mut session = self.session.borrow_mut();
        let t0 = std::time::Instant::now();
        // Binding copies the image's current values (to the device, on CUDA).
        binding.bind_input(graph::IMAGE, &*image)?;
        let outputs = session.run_binding(&binding)?;
        let (_, loss) = outputs[graph::LOSS].try_extract_tensor::<f32>()?;
        let (_, grad) = outputs[graph::GRAD].try_extract_tensor::<f32>()?;
        self.network.set(self.network.get() + t0.elapsed());
        let grad = grad
            .iter()
            .zip(slope.iter())
            .map(|(&g, &d)| f64::from(g) * d)
            .collect();
        Ok((f64::from(loss[0]), grad))
    }
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.evaluate_with(x, false)?.0)
    }
}

impl Gradient for Objective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, x: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.evaluate(x)?.1)
    }
}

/// Shares the iteration count with the objective, which reports progress.
pub(super) struct IterationCounter(pub(super) Arc<AtomicU64>);

impl Observe<IterState<Vec<f64>, Vec<f64>, (), (), (), f64>> for IterationCounter {
    fn observe_iter(
        &mut self,
        state: &IterState<Vec<f64>, Vec<f64>, (), (), (), f64>,
        _: &KV,
    ) -> std::result::Result<(), argmin::core::Error> {
        self.0.store(state.get_iter(), Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::runtime::{self, SessionOptions};
    use crate::stylize::optimize::{Init, OptimizeOptions, Pool, VideoStart, noise};

    /// A smooth CHW picture in 0..255 that differs with `seed`.
    fn picture(width: u32, height: u32, seed: u32) -> Vec<f32> {
        let (w, h) = (width as usize, height as usize);
        let s = seed as f32;
        let mut out = vec![0.0; 3 * w * h];
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
                    let v = (fx * (3.0 + s + c as f32) + fy * (2.0 + s * 0.5)).sin()
                        * (fy * (4.0 + c as f32) - fx * s).cos();
                    out[c * w * h + y * w + x] = 127.5 + 110.0 * v;
                }
            }
        }
        out
    }

    /// The objective L-BFGS sees (IO binding, the tanh change of variables, the cache), with
    /// all four terms: its gradient matches central differences of its own cost in the free
    /// variables.
    #[test]
    fn the_production_objective_has_the_gradient_of_its_cost() {
        let opts = OptimizeOptions {
            session: SessionOptions {
                device: runtime::Device::Cpu,
                threads: 1,
                ort_lib: None,
            },
            loss_net: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_vgg.onnx"),
            style: None,
            content_layer: "conv_4".into(),
            style_layers: (1..=5).map(|k| format!("conv_{k}")).collect(),
            content_weight: 1.0,
            style_weight: 1e6,
            tv_weight: 1.0,
            temporal_weight: 1e3,
            style_scale: None,
            steps: 20,
            steps_next: 5,
            video_start: VideoStart::Warped,
            init: Init::Content,
            seed: 0,
            size: Some(64),
            pool: Pool::Max,
        };
        let (width, height) = (21u32, 18u32);
        let style = picture(31, 27, 5);
        let (mut opt, _) = Optimize::with_style(&opts, Some((&style, 31, 27))).unwrap();
        let content = picture(width, height, 1);
        let mut targets = opt.targets_for(Some(&content), width, height).unwrap();
        let plane = (width * height) as usize;
        let mask: Vec<f32> = noise(plane, 17)
            .iter()
            .map(|v| ((v / 255.0) * 1.6 - 0.3).clamp(0.0, 1.0))
            .collect();
        targets
            .set_previous(&picture(width, height, 3), &mask, width, height)
            .unwrap();
        // Pixels away from 0 and 255, where the change of variables is steep.
        let pixels: Vec<f32> = noise(content.len(), 3)
            .iter()
            .map(|v| 20.0 + v * (215.0 / 255.0))
            .collect();
        let tally = Tally::default();
        let cancel = Cancel::new();
        let objective = opt
            .objective(&pixels, width, height, &targets, &tally, &cancel)
            .unwrap();
        let x: Vec<f64> = pixels.iter().map(|&p| to_free(f64::from(p))).collect();
        let (_, grad) = objective.evaluate(&x).unwrap();
        let mut picks = noise(200, 11).into_iter().map(|v| v / 255.0);
        let (mut diff, mut norm) = (0.0f64, 0.0f64);
        for _ in 0..200 {
            let i = ((picks.next().unwrap() * x.len() as f32) as usize).min(x.len() - 1);
            // A quarter of a grey level, in the free variable: d pixel / d v = 127.5 (1 − tanh² v).
            let t = x[i].tanh();
            let eps = 0.25 / (PIXEL_HALF_RANGE * (1.0 - t * t));
            let mut xp = x.clone();
            xp[i] += eps;
            let mut xm = x.clone();
            xm[i] -= eps;
            let (lp, _) = objective.evaluate_with(&xp, false).unwrap();
            let (lm, _) = objective.evaluate_with(&xm, false).unwrap();
            let fd = (lp - lm) / (2.0 * eps);
            diff += (fd - grad[i]).powi(2);
            norm += grad[i].powi(2);
        }
        assert!(norm > 0.0, "the gradient is not zero");
        let err = (diff / norm).sqrt();
        assert!(err < 1e-2, "relative error {err}");
        // The last point evaluated is answered from the cache, without another graph run.
        let runs = tally.evaluations.get();
        assert!(runs > 1 && runs <= 1 + 2 * 200, "{runs} graph runs");
        let (c1, _) = objective.evaluate_with(&x, false).unwrap();
        let (c2, _) = objective.evaluate_with(&x, false).unwrap();
        assert_eq!(c1, c2);
        assert_eq!(
            tally.evaluations.get(),
            runs + 1,
            "one graph run per new point"
        );
    }
}
