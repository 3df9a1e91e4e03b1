//! The motion between consecutive frames as data: what a decoded [`crate::frame::Frame`] carries
//! to the stages that follow it. Measuring it and using it is [`crate::temporal`]'s work; the types
//! live here, below both, so the frame does not depend on a feature module.

/// A dense displacement field: pixel `(x, y)` of frame t shows what was at
/// `(x + u, y + v)` in frame t−1 (pixels of this field's resolution).
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub w: usize,
    pub h: usize,
    pub u: Vec<f32>,
    pub v: Vec<f32>,
}

/// The motion from frame t back to frame t−1, and where it can be trusted.
#[derive(Debug, Clone, PartialEq)]
pub struct Motion {
    /// At a fraction (`temporal`'s flow scale) of the frame's size.
    pub flow: Flow,
    /// Visibility of each flow pixel in 0..1: 1 where the previous frame, moved, shows the same
    /// surface, 0 where it shows something else (occlusion, a new object, a light change).
    pub visibility: Vec<f32>,
}

impl Motion {
    /// Mean visibility: the share of the frame that continues the previous one.
    pub fn coverage(&self) -> f32 {
        self.visibility.iter().sum::<f32>() / self.visibility.len().max(1) as f32
    }
}
