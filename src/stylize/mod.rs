//! The stylize stage's seam: a [`Stylizer`] turns frames into stylized frames of the same size.
//! The pipeline neither knows nor cares whether a network pass ([`feedforward`]) or a per-frame
//! optimisation runs behind it.
//!
//! [`Adjust`] holds the post-processing every stylizer shares: blending with the input
//! (`--strength`) and keeping the input's colours (`--preserve-colors`).

pub mod feedforward;
pub mod onnx_proto;
pub mod optimize;
pub mod shared;
pub mod styles;

use crate::cancel::Cancel;
use crate::error::Result;
use crate::frame::Frame;
use crate::progress::Progress;

/// Turns frames into stylized frames of the same size, in place.
pub trait Stylizer: Send {
    /// The most frames [`Stylizer::stylize`] takes at once.
    fn batch_size(&self) -> usize {
        1
    }

    /// The upright size frames of upright size `width x height` should be decoded at.
    fn processing_size(&self, width: u32, height: u32) -> (u32, u32);

    /// Stylizes `frames` (all of one size, at most `batch_size` of them) in place. A long
    /// computation (an optimisation) stops early with `Error::Cancelled` once `cancel` fires.
    ///
    /// # Errors
    /// Runtime failures of the network or optimiser; `Cancelled`.
    fn stylize(
        &mut self,
        frames: &mut [Frame],
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<()>;

    /// Called before the first frame of each new input file (optimisation mode drops its warm start).
    fn reset(&mut self) {}

    /// What went wrong but not fatally since the last call (a network's NaN output, …), one
    /// line each; the pipeline collects them once per file.
    fn warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// True when the result owes nothing to the input's pixels (texture synthesis), so the output
    /// is written at the processing size rather than scaled back to the input's.
    fn output_at_processing_size(&self) -> bool {
        false
    }
}

/// Scales `(width, height)` down so the longer side is at most `max_side` (never up).
pub fn limit_side(width: u32, height: u32, max_side: Option<u32>) -> (u32, u32) {
    let Some(max) = max_side.filter(|&m| m > 0) else {
        return (width, height);
    };
    let long = width.max(height);
    if long <= max {
        return (width, height);
    }
    let scale = f64::from(max) / f64::from(long);
    let w = ((f64::from(width) * scale).round() as u32).max(1);
    let h = ((f64::from(height) * scale).round() as u32).max(1);
    (w, h)
}

/// Post-processing applied to a stylized frame against its input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adjust {
    /// 1 keeps the stylized frame, 0 gives back the input.
    pub strength: f32,
    /// Keep the input's colour (chroma) and take only the stylized frame's luminance.
    pub preserve_colors: bool,
}

impl Default for Adjust {
    fn default() -> Self {
        Self {
            strength: 1.0,
            preserve_colors: false,
        }
    }
}

impl Adjust {
    /// True when [`Adjust::apply`] would change anything (so the input must be kept).
    pub fn is_active(&self) -> bool {
        self.preserve_colors || self.strength < 1.0
    }

    /// Combines `stylized` (in place) with `original`, both packed RGB24 of one size.
    pub fn apply(&self, original: &[u8], stylized: &mut [u8]) {
        assert_eq!(original.len(), stylized.len());
        let s = self.strength.clamp(0.0, 1.0);
        for (o, st) in original.chunks_exact(3).zip(stylized.chunks_exact_mut(3)) {
            let [or, og, ob] = [o[0], o[1], o[2]].map(f32::from);
            let [mut r, mut g, mut b] = [st[0], st[1], st[2]].map(f32::from);
            if self.preserve_colors {
                // Full-range BT.601 luma: replace the input's luma with the stylized one and keep
                // the input's chroma, which is the YUV-space recipe of Gatys et al. (2016).
                let y_in = 0.299 * or + 0.587 * og + 0.114 * ob;
                let y_st = 0.299 * r + 0.587 * g + 0.114 * b;
                let d = y_st - y_in;
                (r, g, b) = (or + d, og + d, ob + d);
            }
            let mix = |x: f32, orig: f32| crate::frame::to_u8(s * x + (1.0 - s) * orig);
            st[0] = mix(r, or);
            st[1] = mix(g, og);
            st[2] = mix(b, ob);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_side_scales_the_long_side_and_keeps_the_aspect() {
        assert_eq!(limit_side(1920, 1080, Some(640)), (640, 360));
        assert_eq!(limit_side(1080, 1920, Some(640)), (360, 640));
        assert_eq!(limit_side(320, 240, Some(640)), (320, 240));
        assert_eq!(limit_side(320, 240, None), (320, 240));
    }

    #[test]
    fn strength_zero_gives_back_the_input_and_one_the_stylized_frame() {
        let original = [10u8, 20, 30, 200, 100, 0];
        let stylized = [250u8, 0, 128, 1, 2, 3];
        let mut out = stylized;
        Adjust {
            strength: 0.0,
            preserve_colors: false,
        }
        .apply(&original, &mut out);
        assert_eq!(out, original);
        let mut out = stylized;
        Adjust {
            strength: 1.0,
            preserve_colors: false,
        }
        .apply(&original, &mut out);
        assert_eq!(out, stylized);
        let mut out = stylized;
        Adjust {
            strength: 0.5,
            preserve_colors: false,
        }
        .apply(&original, &mut out);
        assert_eq!(out[0], 130);
    }

    #[test]
    fn preserved_colours_keep_the_input_chroma_and_take_the_stylized_luma() {
        let original = [200u8, 50, 50]; // a red
        let stylized = [90u8, 90, 90]; // a grey of another brightness
        let mut out = stylized;
        Adjust {
            strength: 1.0,
            preserve_colors: true,
        }
        .apply(&original, &mut out);
        let luma =
            |p: &[u8]| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
        assert!(
            (luma(&out) - 90.0).abs() < 1.0,
            "luma follows the stylized frame: {out:?}"
        );
        assert!(out[0] > out[1] && out[1] == out[2], "still red: {out:?}");
    }
}
