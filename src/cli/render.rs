//! The terminal renderer of progress events: an indicatif bar per file, shown only when stderr is
//! a terminal (otherwise nothing but the summary lines).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{Event, Progress};

/// Draws one bar per active file under an optional overall bar.
pub struct TerminalProgress {
    multi: MultiProgress,
    bars: Mutex<HashMap<PathBuf, ProgressBar>>,
    overall: Option<ProgressBar>,
    /// Frames written over all files, shown on the overall bar.
    frames: AtomicU64,
}

impl TerminalProgress {
    /// `files > 1` adds an overall bar counting files and frames; its ETA counts only the files
    /// this run stylizes (not those skipped as done).
    pub fn new(files: usize) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        let overall = (files > 1).then(|| {
            let bar = multi.add(ProgressBar::new(files as u64));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>6} [{bar:30}] {pos}/{len} files, {msg}{elapsed} elapsed, ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix("batch");
            bar
        });
        Self {
            multi,
            bars: Mutex::new(HashMap::new()),
            overall,
            frames: AtomicU64::new(0),
        }
    }

    fn frame_style() -> ProgressStyle {
        ProgressStyle::with_template(
            "{prefix:>20.dim} [{bar:30}] {pos}/{len} frames, {msg} ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> ")
    }

    fn with_bar(&self, input: &Path, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.bars.lock().expect("bars poisoned").get(input) {
            f(bar);
        }
    }

    /// Prints a line above the bars without tearing them.
    pub fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }
}

impl Progress for TerminalProgress {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::FileStarted { input, frames } => {
                let bar = self.multi.add(if frames > 0 {
                    ProgressBar::new(frames)
                } else {
                    ProgressBar::no_length()
                });
                bar.set_style(Self::frame_style());
                let name = input
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                bar.set_prefix(name);
                bar.enable_steady_tick(Duration::from_millis(250));
                self.bars
                    .lock()
                    .expect("bars poisoned")
                    .insert(input.to_path_buf(), bar);
            }
            Event::FrameDone { input, .. } => {
                let frames = self.frames.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(o) = &self.overall {
                    o.set_message(format!("{frames} frames, "));
                }
                self.with_bar(input, |bar| {
                    bar.inc(1);
                    let rate = bar.per_sec();
                    // Below one frame per second, seconds per frame reads better.
                    let msg = if rate >= 1.0 {
                        format!("{rate:.1} fps,")
                    } else if rate > 0.0 {
                        format!("{:.1} s/frame,", 1.0 / rate)
                    } else {
                        String::new()
                    };
                    bar.set_message(msg);
                })
            }
            Event::OptimizeStep {
                index,
                step,
                of,
                loss,
            } => {
                // Files run one at a time, so the step belongs to the one bar there is.
                for bar in self.bars.lock().expect("bars poisoned").values() {
                    bar.set_message(format!("frame {index} step {step}/{of} loss {loss:.4e},"));
                }
            }
            Event::FileFinished { input, .. } | Event::FileFailed { input, .. } => {
                if let Some(bar) = self.bars.lock().expect("bars poisoned").remove(input) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                if let Some(o) = &self.overall {
                    o.inc(1);
                }
            }
        }
    }
}
