//! What the library tells the outside world while it works. The library emits [`Event`]s through
//! `&dyn Progress`; only the CLI's renderer knows about terminals and indicatif.

use std::path::Path;

/// Something that happened, in the order it happened.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A file starts; `frames` is the container's estimate (0 when unknown).
    FileStarted { input: &'a Path, frames: u64 },
    /// One more frame was written to the output.
    FrameDone { input: &'a Path, index: u64 },
    /// One evaluation during the optimisation of frame `index`, in L-BFGS iteration `step` of
    /// `of`; it belongs to the file being stylized (one file runs at a time).
    OptimizeStep {
        index: u64,
        step: u32,
        of: u32,
        loss: f64,
    },
    /// A file is complete.
    FileFinished {
        input: &'a Path,
        frames: u64,
        seconds: f64,
    },
    /// A file failed; `message` is the one-line reason.
    FileFailed { input: &'a Path, message: String },
}

/// Receives events; implementations must be cheap, since `FrameDone` comes once per frame.
pub trait Progress: Sync {
    fn event(&self, event: Event<'_>);
}

/// Ignores everything (tests, `-q`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Event<'_>) {}
}
