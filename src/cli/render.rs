//! The renderers of progress events: an indicatif bar per file when stderr is a terminal, and
//! otherwise (a pipe, `nohup`, a CI log) one plain line per file at a steady interval, like
//! ffmpeg's stats.

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

/// How often a plain progress line is printed for a file.
pub const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// One plain line per file every [`LINE_INTERVAL`]: frames done of the expected, fps, ETA. No
/// escape codes, so it reads in a log file.
pub struct LineProgress {
    files: Mutex<HashMap<PathBuf, LineState>>,
    interval: Duration,
}

struct LineState {
    started: std::time::Instant,
    last: std::time::Instant,
    done: u64,
    total: u64,
}

impl LineProgress {
    pub fn new(interval: Duration) -> Self {
        Self {
            files: Mutex::new(HashMap::new()),
            interval,
        }
    }
}

/// "12 s", "3 min 20 s", "1 h 05 min".
fn human_duration(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

impl Progress for LineProgress {
    fn event(&self, event: Event<'_>) {
        let mut files = self.files.lock().expect("progress poisoned");
        match event {
            Event::FileStarted { input, frames } => {
                let now = std::time::Instant::now();
                files.insert(
                    input.to_path_buf(),
                    LineState {
                        started: now,
                        last: now,
                        done: 0,
                        total: frames,
                    },
                );
            }
            Event::FrameDone { input, .. } => {
                let Some(st) = files.get_mut(input) else {
                    return;
                };
                st.done += 1;
                let now = std::time::Instant::now();
                if now.duration_since(st.last) < self.interval {
                    return;
                }
                st.last = now;
                let secs = now.duration_since(st.started).as_secs_f64().max(1e-6);
                let fps = st.done as f64 / secs;
                let name = input.display();
                let line = if st.total > 0 {
                    let left = st.total.saturating_sub(st.done) as f64 / fps.max(1e-9);
                    format!(
                        "{name}: frame {}/{} ({:.0}%), {fps:.2} fps, {} elapsed, ETA {}",
                        st.done,
                        st.total,
                        100.0 * st.done as f64 / st.total as f64,
                        human_duration(secs),
                        human_duration(left)
                    )
                } else {
                    format!(
                        "{name}: frame {}, {fps:.2} fps, {} elapsed",
                        st.done,
                        human_duration(secs)
                    )
                };
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            Event::OptimizeStep { .. } => {}
            Event::FileFinished { input, .. } | Event::FileFailed { input, .. } => {
                files.remove(input);
            }
        }
    }
}

/// The progress renderer for this run: bars on a terminal, lines elsewhere, nothing with `-q`.
pub enum Renderer {
    Bars(TerminalProgress),
    Lines(LineProgress),
    Quiet,
}

impl Renderer {
    pub fn new(quiet: bool, files: usize) -> Self {
        if quiet {
            Self::Quiet
        } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Self::Bars(TerminalProgress::new(files))
        } else {
            // VSTYLE_PROGRESS_SECONDS changes the interval (tests use a short one).
            let interval = std::env::var("VSTYLE_PROGRESS_SECONDS")
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .map_or(LINE_INTERVAL, Duration::from_secs_f64);
            Self::Lines(LineProgress::new(interval))
        }
    }

    pub fn progress(&self) -> &dyn Progress {
        match self {
            Self::Bars(t) => t,
            Self::Lines(l) => l,
            Self::Quiet => &crate::progress::NoProgress,
        }
    }

    /// Prints a line (above the bars, when there are bars).
    pub fn println(&self, line: &str) {
        match self {
            Self::Bars(t) => t.println(line),
            _ => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(human_duration(12.4), "12 s");
        assert_eq!(human_duration(200.0), "3 min 20 s");
        assert_eq!(human_duration(3900.0), "1 h 05 min");
    }
}
