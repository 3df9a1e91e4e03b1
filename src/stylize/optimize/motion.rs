//! Video in optimisation mode that follows the motion (after Ruder et al. 2016, "Artistic style
//! transfer for videos"): each frame after the first starts from the previous *result* moved by
//! the motion of the *input*, and a temporal loss ties each pixel to that moved result where the
//! motion can be trusted.
//!
//! The motion and the warp are `--temporal`'s ([`crate::temporal`]): the dense motion from frame
//! t back to frame t−1 measured on the input frames, Lai et al.'s visibility of each pixel, and
//! the Catmull–Rom warp of the previous output. This module only turns them into the
//! optimiser's terms: a starting image and the temporal term's target and mask.

use crate::frame::rgb_to_chw_padded;
use crate::temporal::{Motion, warp_previous};

/// Where a video frame after the first starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum VideoStart {
    /// The previous result moved by the input's motion; pixels the previous frame did not show
    /// (disocclusions, what came in at the edges) start from the current frame.
    #[default]
    Warped,
    /// The previous result where it was, not moved: the painted texture stays on the screen
    /// while the picture moves (the behaviour before the motion was followed).
    Previous,
    /// Every frame on its own, as a still image (`--init`, `--steps`), without the temporal
    /// term: no link between frames.
    Independent,
}

/// The previous result moved to the current frame, and how far each pixel can be trusted.
#[derive(Debug, Clone, PartialEq)]
pub struct Warped {
    /// CHW float32 in 0..255.
    pub image: Vec<f32>,
    /// One weight per pixel (`H·W`), 0..1: the input's visibility (1 where the previous input,
    /// moved, shows the same surface), 0 where the source lies outside the picture.
    pub mask: Vec<f32>,
}

/// Moves the previous result (packed RGB24, `width x height`, the output of the previous frame)
/// by `motion`, the input's motion from the current frame back to the previous one.
pub fn warp_result(previous: &[u8], width: usize, height: usize, motion: &Motion) -> Warped {
    let (rgb, mask) = warp_previous(previous, width, height, motion);
    let mut image = vec![0.0; 3 * width * height];
    rgb_to_chw_padded(&rgb, width, height, width, height, &mut image);
    Warped { image, mask }
}

/// Below this visibility a pixel starts from the current frame: the previous frame showed
/// something else there (an RGB distance of about 0.2 in 0..1, 50 grey levels, or more).
const NEW_BELOW: f32 = 0.15;
/// From this visibility up a pixel starts from the moved previous result (an RGB distance of
/// about 0.12, 30 grey levels, or less: the same surface, lit or measured a little differently).
const SAME_FROM: f32 = 0.5;

/// The starting image of a frame: the moved previous result where the motion can be trusted,
/// the current frame (`content`, CHW) where the previous frame showed something else, and a
/// smooth mix in between, so a disoccluded region has no seam around it. Mixing by the
/// visibility itself would mix some of the photo into nearly every pixel (a visibility of 0.9 is
/// a good match) and the optimiser would paint it over again, frame after frame: flicker.
pub fn warped_start(warped: &Warped, content: &[f32]) -> Vec<f32> {
    let plane = warped.mask.len();
    assert_eq!(content.len(), 3 * plane);
    assert_eq!(warped.image.len(), 3 * plane);
    let keep: Vec<f32> = warped.mask.iter().map(|&m| start_weight(m)).collect();
    content
        .iter()
        .zip(&warped.image)
        .enumerate()
        .map(|(i, (&c, &w))| {
            let k = keep[i % plane];
            k * w + (1.0 - k) * c
        })
        .collect()
}

/// How much of the moved previous result a pixel of visibility `m` starts from: 0 below
/// [`NEW_BELOW`], 1 from [`SAME_FROM`], a smooth step between.
fn start_weight(m: f32) -> f32 {
    let t = ((m - NEW_BELOW) / (SAME_FROM - NEW_BELOW)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temporal::Flow;

    #[test]
    fn an_untrusted_pixel_starts_from_the_content_and_a_trusted_one_from_the_result() {
        let (w, h) = (8, 6);
        let (fw, fh) = (w / 2, h / 2);
        // No motion; the left half of the flow field visible, the right half not.
        let visibility: Vec<f32> = (0..fw * fh)
            .map(|k| if k % fw < fw / 2 { 1.0 } else { 0.0 })
            .collect();
        let motion = Motion {
            flow: Flow {
                w: fw,
                h: fh,
                u: vec![0.0; fw * fh],
                v: vec![0.0; fw * fh],
            },
            visibility,
        };
        let previous = vec![200u8; w * h * 3];
        let warped = warp_result(&previous, w, h, &motion);
        let content = vec![10.0f32; 3 * w * h];
        let start = warped_start(&warped, &content);
        for c in 0..3 {
            assert_eq!(start[c * w * h], 200.0, "top left: the previous result");
            assert_eq!(start[c * w * h + w - 1], 10.0, "top right: the content");
        }
    }

    #[test]
    fn a_good_match_starts_wholly_from_the_result_and_a_poor_one_from_the_frame() {
        assert_eq!(start_weight(0.9), 1.0);
        assert_eq!(start_weight(SAME_FROM), 1.0);
        assert_eq!(start_weight(0.1), 0.0);
        let mid = start_weight(0.5 * (NEW_BELOW + SAME_FROM));
        assert!((mid - 0.5).abs() < 1e-6, "{mid}");
    }
}
