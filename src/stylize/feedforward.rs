//! Feed-forward stylization: one pass of an exported transformer network per frame (Johnson et
//! al. 2016) on ONNX Runtime.
//!
//! The model contract (see `models/README.md`): one float32 input `[N, 3, H, W]`, RGB in 0..255,
//! one float32 output of the same shape and range (clamped here). Models with dynamic H/W run at
//! the frame's size, padded to a multiple of 4 because the networks halve the size twice and
//! double it twice; models with a fixed size get frames scaled to fit by the decoder and back by
//! the encoder. Everything is checked, including a trial run, before the first frame.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::error::{Error, Result};
use crate::frame::{Frame, chw_to_rgb_cropped, rgb_to_chw_padded, round_up};
use crate::progress::Progress;
use crate::runtime::{self, SessionOptions};
use crate::stylize::{Stylizer, limit_side};

/// Dynamic-size networks need sizes that survive two stride-2 convolutions and two upsamplings.
const SIZE_MULTIPLE: usize = 4;

/// What the model's signature says, once checked against the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub input: String,
    pub output: String,
    /// `Some((w, h))` for models with a fixed spatial size.
    pub fixed_size: Option<(u32, u32)>,
    /// True when the batch dimension is dynamic.
    pub dynamic_batch: bool,
}

fn shape_of(t: &ValueType) -> Option<(TensorElementType, Vec<i64>)> {
    match t {
        ValueType::Tensor { ty, shape, .. } => Some((*ty, shape.iter().copied().collect())),
        _ => None,
    }
}

fn describe(ty: TensorElementType, shape: &[i64]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| if *d < 0 { "?".into() } else { d.to_string() })
        .collect();
    format!("{ty:?} [{}]", dims.join(","))
}

impl Contract {
    /// Checks a model's inputs and outputs against the contract.
    ///
    /// # Errors
    /// A message that says what was expected and what was found.
    pub fn check(
        inputs: &[(String, ValueType)],
        outputs: &[(String, ValueType)],
    ) -> std::result::Result<Self, String> {
        const EXPECTED: &str =
            "vstyle needs one float32 input [N,3,H,W] (RGB 0..255) and an output of the same shape";
        let [(in_name, in_ty)] = inputs else {
            return Err(format!("has {} inputs; {EXPECTED}", inputs.len()));
        };
        let Some((out_name, out_ty)) = outputs.first() else {
            return Err(format!("has no outputs; {EXPECTED}"));
        };
        let (ity, ishape) = shape_of(in_ty)
            .ok_or_else(|| format!("input {in_name:?} is not a tensor; {EXPECTED}"))?;
        let (oty, oshape) = shape_of(out_ty)
            .ok_or_else(|| format!("output {out_name:?} is not a tensor; {EXPECTED}"))?;
        let found = format!(
            "found input {in_name:?} {} and output {out_name:?} {}",
            describe(ity, &ishape),
            describe(oty, &oshape)
        );
        if ity != TensorElementType::Float32 || oty != TensorElementType::Float32 {
            return Err(format!("takes {}; {EXPECTED}", found));
        }
        if ishape.len() != 4 || oshape.len() != 4 {
            return Err(format!("is not 4-dimensional ({found}); {EXPECTED}"));
        }
        if ishape[1] != 3 {
            let hint = if ishape[3] == 3 {
                " (channels last, NHWC)"
            } else {
                ""
            };
            return Err(format!(
                "does not take 3 channels in dimension 1{hint} ({found}); {EXPECTED}"
            ));
        }
        if oshape[1] != 3 && oshape[1] >= 0 {
            return Err(format!("does not give 3 channels ({found}); {EXPECTED}"));
        }
        let fixed_size = match (ishape[2], ishape[3]) {
            (h, w) if h > 0 && w > 0 => Some((w as u32, h as u32)),
            (h, w) if h < 0 && w < 0 => None,
            _ => {
                return Err(format!(
                    "has one fixed and one dynamic spatial dimension ({found}); {EXPECTED}"
                ));
            }
        };
        if ishape[0] > 1 {
            return Err(format!(
                "takes a fixed batch of {} ({found}); {EXPECTED}",
                ishape[0]
            ));
        }
        Ok(Self {
            input: in_name.clone(),
            output: out_name.clone(),
            fixed_size,
            dynamic_batch: ishape[0] < 0,
        })
    }
}

/// A loaded network that fits the contract.
pub struct FeedForward {
    path: PathBuf,
    session: Session,
    contract: Contract,
    batch: usize,
    max_side: Option<u32>,
    input: Vec<f32>,
}

/// Options for loading a feed-forward model.
#[derive(Debug, Clone)]
pub struct FeedForwardOptions {
    pub session: SessionOptions,
    /// Frames per network run (models with a dynamic batch dimension only).
    pub batch: usize,
    /// Bound on the processing resolution's longer side.
    pub max_side: Option<u32>,
}

impl FeedForward {
    /// Loads `path`, checks the contract and makes a trial run.
    ///
    /// # Errors
    /// A missing or unreadable model, one that does not fit the contract, or a provider failure.
    pub fn load(path: &Path, opts: &FeedForwardOptions) -> Result<(Self, &'static str)> {
        let env = runtime::environment(None)?;
        let (session, provider) = runtime::session(env, path, &opts.session)?;
        let io = |outlets: &[ort::value::Outlet]| {
            outlets
                .iter()
                .map(|o| (o.name().to_string(), o.dtype().clone()))
                .collect::<Vec<_>>()
        };
        let contract = Contract::check(&io(session.inputs()), &io(session.outputs()))
            .map_err(|m| Error::model(path, m))?;
        let batch = if contract.dynamic_batch {
            opts.batch.max(1)
        } else {
            1
        };
        let mut me = Self {
            path: path.to_path_buf(),
            session,
            contract,
            batch,
            max_side: opts.max_side,
            input: Vec::new(),
        };
        me.trial_run()?;
        Ok((me, provider))
    }

    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// Runs the model once on a small grey picture so a broken model fails before any frame.
    fn trial_run(&mut self) -> Result<()> {
        let (w, h) = self.contract.fixed_size.unwrap_or((16, 16));
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
            None => (round_up(w, SIZE_MULTIPLE), round_up(h, SIZE_MULTIPLE)),
        };
        if self.contract.fixed_size.is_some() && (w, h) != (pw, ph) {
            return Err(Error::Other(format!(
                "internal: frame {w}x{h} given to a {pw}x{ph} model"
            )));
        }
        let n = frames.len();
        let image = 3 * pw * ph;
        self.input.resize(n * image, 0.0);
        for (f, chunk) in frames.iter().zip(self.input.chunks_exact_mut(image)) {
            rgb_to_chw_padded(&f.rgb, w, h, pw, ph, chunk);
        }
        let tensor = TensorRef::from_array_view(([n, 3, ph, pw], &self.input[..]))?;
        let outputs = self
            .session
            .run(ort::inputs![self.contract.input.as_str() => tensor])?;
        let (shape, data) = outputs[self.contract.output.as_str()].try_extract_tensor::<f32>()?;
        let dims: Vec<i64> = shape.iter().copied().collect();
        if dims != [n as i64, 3, ph as i64, pw as i64] {
            return Err(Error::model(
                &self.path,
                format!(
                    "output shape {dims:?} differs from the input shape [{n}, 3, {ph}, {pw}]; vstyle needs the same shape out as in"
                ),
            ));
        }
        for (f, chunk) in frames.iter_mut().zip(data.chunks_exact(image)) {
            chw_to_rgb_cropped(chunk, pw, ph, w, h, &mut f.rgb);
        }
        Ok(())
    }
}

impl Stylizer for FeedForward {
    fn batch_size(&self) -> usize {
        self.batch
    }

    fn processing_size(&self, width: u32, height: u32) -> (u32, u32) {
        self.contract
            .fixed_size
            .unwrap_or_else(|| limit_side(width, height, self.max_side))
    }

    fn stylize(&mut self, frames: &mut [Frame], _progress: &dyn Progress) -> Result<()> {
        if frames.is_empty() {
            return Ok(());
        }
        self.run(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ort::value::{Shape, SymbolicDimensions};

    fn t(shape: &[i64]) -> ValueType {
        ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape: Shape::new(shape.iter().copied()),
            dimension_symbols: SymbolicDimensions::empty(shape.len()),
        }
    }

    fn io(name: &str, shape: &[i64]) -> Vec<(String, ValueType)> {
        vec![(name.to_string(), t(shape))]
    }

    #[test]
    fn dynamic_and_fixed_models_fit_the_contract() {
        let c = Contract::check(
            &io("input", &[-1, 3, -1, -1]),
            &io("output", &[-1, 3, -1, -1]),
        )
        .unwrap();
        assert_eq!(c.fixed_size, None);
        assert!(c.dynamic_batch);
        let c = Contract::check(
            &io("input1", &[1, 3, 224, 224]),
            &io("output1", &[1, 3, 224, 224]),
        )
        .unwrap();
        assert_eq!(c.fixed_size, Some((224, 224)));
        assert!(!c.dynamic_batch);
    }

    #[test]
    fn channels_last_models_are_refused_with_what_was_found() {
        let e = Contract::check(&io("x", &[1, -1, -1, 3]), &io("y", &[1, -1, -1, 3])).unwrap_err();
        assert!(
            e.contains("NHWC") && e.contains("[1,?,?,3]") && e.contains("[N,3,H,W]"),
            "{e}"
        );
    }

    #[test]
    fn two_inputs_or_wrong_types_are_refused() {
        let mut two = io("a", &[1, 3, -1, -1]);
        two.extend(io("b", &[1, 3, -1, -1]));
        assert!(
            Contract::check(&two, &io("y", &[1, 3, -1, -1]))
                .unwrap_err()
                .contains("has 2 inputs")
        );
        let ints = vec![(
            "x".to_string(),
            ValueType::Tensor {
                ty: TensorElementType::Int64,
                shape: Shape::new([1, 3, -1, -1]),
                dimension_symbols: SymbolicDimensions::empty(4),
            },
        )];
        assert!(
            Contract::check(&ints, &io("y", &[1, 3, -1, -1]))
                .unwrap_err()
                .contains("Int64")
        );
    }
}
