//! vstyle turns videos and images into stylized ones, frame by frame, with neural style transfer.
//!
//! The work for one file is a staged pipeline, each stage a thread joined to the next by a bounded
//! channel, so memory stays flat however long the video is and the slowest stage sets the pace:
//!
//! ```text
//! decode ──frames──▶ stylize (ONNX Runtime / optimiser) ──frames──▶ reorder ▶ encode/mux ──▶ out
//!    └───────────────────── audio/subtitle packets, copied ─────────────────────▶┘
//! ```
//!
//! - [`decode`] reads any container/codec the system FFmpeg reads and hands out upright RGB frames.
//! - [`stylize`] holds the [`stylize::Stylizer`] seam: a feed-forward network
//!   ([`stylize::feedforward`]) or, for styles without a trained network, per-frame optimisation.
//! - [`temporal`] (`--temporal`) measures each input frame's motion in the decode stage and,
//!   after the frames are back in order, blends each output with the previous one moved by it.
//! - [`encode`] puts frames back in order into the output container, next to the copied streams,
//!   under a temporary name that becomes the final one only when the file is complete.
//! - [`pipeline`] runs those stages for one file and [`job`] sets them up for one input and
//!   output; [`batch`] turns inputs and folders into a sorted, shardable list of jobs; [`cli`]
//!   checks the command line once and runs them.

// Every dependency is used by the library (main.rs only calls it), so an unused one is a
// mistake: a warning, and an error under CI's `clippy -D warnings` (not in the unit-test
// build, which also links the dev-dependencies). The command line's dependencies are optional,
// behind the default `cli` feature, so that the library builds without them.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

// argmin's vector maths comes from this crate's `vec` feature; nothing names it directly.
use argmin_math as _;

pub mod batch;
pub mod cancel;
#[cfg(feature = "cli")]
pub mod cli;
pub mod decode;
pub mod encode;
pub mod error;
pub mod frame;
pub mod job;
pub mod locate;
pub mod motion;
pub mod output;
pub mod pipeline;
pub mod preview;
pub mod progress;
pub mod runtime;
pub mod segments;
pub mod stylize;
pub mod temporal;

pub use error::{Error, Result};

/// Initialises FFmpeg once per process and keeps its own log quiet: vstyle reports errors itself,
/// in one line each (`-vv` shows FFmpeg's messages).
pub fn init_ffmpeg() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        ffmpeg_next::init().expect("FFmpeg initialises");
        let level = if tracing::enabled!(tracing::Level::DEBUG) {
            ffmpeg_next::util::log::Level::Warning
        } else {
            ffmpeg_next::util::log::Level::Quiet
        };
        ffmpeg_next::util::log::set_level(level);
    });
}
