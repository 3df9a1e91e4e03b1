//! Batch mode: runs the jobs [`crate::batch`] plans, `--jobs` files at a time on one loaded model,
//! keeps going past bad files, and ends with a summary (and `--report` JSON) and an exit code.
//!
//! Each file runs its own pipeline (decode, stylize, encode threads); the stylize stages of all
//! files in flight share one network through a [`SharedStylizer`]. One failure is that file's
//! alone: it is printed once as `path: reason` and counted. Ctrl-C stops taking new files, lets
//! the files in flight drain, removes their unfinished outputs and ends with exit code 130.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::batch::{self, Job, Naming, Shard, ShardSource};
use crate::cancel::Cancel;
use crate::encode::EncodeOptions;
use crate::error::{Error, Result};
use crate::output::{looks_complete, partial_path, reaches_its_end, remove_stale_partials};
use crate::stylize::Stylizer;
use crate::stylize::shared::SharedStylizer;

use super::config::Config;
use super::record::{Record, fingerprint_of, now_utc};
use super::render::Renderer;
use super::{Args, RunInfo, check_output, files_read, stylize_file};

/// What became of one job.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(super) enum Outcome {
    Done {
        frames: u64,
        seconds: f64,
        /// What was wrong but did not stop the file (damaged or cut-short input, NaN output).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The final output was there already (a finished earlier run).
    Skipped,
    Failed {
        error: String,
    },
    /// Stopped by Ctrl-C while running; its unfinished output was removed.
    Interrupted,
    /// Not started before Ctrl-C.
    NotRun,
}

/// One line of the report.
#[derive(Debug, serde::Serialize)]
pub(super) struct FileReport<'a> {
    #[serde(serialize_with = "lossy_path")]
    pub input: &'a Path,
    #[serde(serialize_with = "lossy_path")]
    pub output: &'a Path,
    #[serde(flatten)]
    pub outcome: &'a Outcome,
}

/// A path in JSON: its bytes that are not UTF-8 become U+FFFD (JSON holds only text).
pub(super) fn lossy_path<S: serde::Serializer>(
    path: &Path,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// Counts per outcome, with the frames and time of the finished files.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    pub interrupted: usize,
    pub not_run: usize,
    pub frames: u64,
    /// Seconds the finished files took (summed over files in flight at once).
    pub file_seconds: f64,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

impl Summary {
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>, seconds: f64) -> Self {
        let mut s = Summary {
            seconds,
            ..Default::default()
        };
        for o in outcomes {
            match o {
                Outcome::Done {
                    frames, seconds, ..
                } => {
                    s.done += 1;
                    s.frames += frames;
                    s.file_seconds += seconds;
                }
                Outcome::Skipped => s.skipped += 1,
                Outcome::Failed { .. } => s.failed += 1,
                Outcome::Interrupted => s.interrupted += 1,
                Outcome::NotRun => s.not_run += 1,
            }
        }
        s
    }

    fn total(&self) -> usize {
        self.done + self.skipped + self.failed + self.interrupted + self.not_run
    }

    /// The table printed at the end of a batch.
    pub fn table(&self) -> String {
        let mut out = format!("{:<12}{:>7}{:>9}{:>10}\n", "", "files", "frames", "time");
        let row = |out: &mut String, name: &str, n: usize, frames: &str, time: &str| {
            out.push_str(&format!("{name:<12}{n:>7}{frames:>9}{time:>10}\n"));
        };
        row(
            &mut out,
            "done",
            self.done,
            &self.frames.to_string(),
            &format!("{:.1} s", self.file_seconds),
        );
        row(&mut out, "skipped", self.skipped, "-", "-");
        row(&mut out, "failed", self.failed, "-", "-");
        if self.interrupted + self.not_run > 0 {
            row(&mut out, "interrupted", self.interrupted, "-", "-");
            row(&mut out, "not started", self.not_run, "-", "-");
        }
        let rate = if self.seconds > 0.0 {
            format!(
                "  ({:.1} files/min)",
                self.done as f64 * 60.0 / self.seconds
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{:<12}{:>7}{:>9}{:>10}{rate}",
            "total",
            self.total(),
            self.frames,
            format!("{:.1} s", self.seconds)
        ));
        // Compared as printed: the note explains what a reader sees.
        let printed = |s: f64| format!("{s:.1}").parse::<f64>().unwrap_or(s);
        if printed(self.file_seconds) > printed(self.seconds) {
            out.push_str(
                "\n(done: the files' own times added up, more than the total's wall-clock time because files ran side by side)",
            );
        }
        out
    }
}

/// The JSON written by `--report`.
#[derive(Debug, serde::Serialize)]
pub(super) struct Report<'a> {
    /// The report's format version (docs/report.md); 2 added the run's settings and times.
    pub schema: u32,
    pub vstyle: &'static str,
    pub started: String,
    pub finished: String,
    /// What made the outputs: the model (by content), the style, the settings that change pixels.
    pub settings: &'a Record,
    /// The provider, precision and style that ran (absent when nothing had to run).
    pub run: Option<&'a RunInfo>,
    pub shard: Option<Shard>,
    pub summary: &'a Summary,
    pub files: Vec<FileReport<'a>>,
}

/// The report format's version.
pub(super) const REPORT_SCHEMA: u32 = 2;

/// The one-line reason for a failure, without repeating the input's path (the line starts with
/// it).
fn reason(job: &Job, e: &Error) -> String {
    match e {
        Error::Input { path, message } if *path == job.input => message.clone(),
        Error::NoVideoStream { path } if *path == job.input => "no video stream found".into(),
        other => other.to_string(),
    }
}

/// True when the command line asks for batch mode: several inputs, a folder, or `-o` naming a
/// folder (an existing one, or a path ending in `/`).
pub fn is_batch(args: &Args) -> bool {
    args.inputs.len() > 1
        || args.inputs.iter().any(|p| p.is_dir())
        || args.output.as_deref().is_some_and(|o| {
            o.is_dir()
                || o.as_os_str()
                    .to_string_lossy()
                    .ends_with(std::path::MAIN_SEPARATOR)
        })
}

/// Runs a batch.
///
/// # Errors
/// [`Error::Usage`] for a plan that cannot run; [`Error::Cancelled`] after Ctrl-C; an error
/// counting the failed files when any failed (each was reported already).
pub fn run(
    args: &Args,
    config: &Config,
    cancel: &Cancel,
    record: &Record,
    load: impl FnOnce() -> Result<(Box<dyn Stylizer>, RunInfo)>,
) -> Result<()> {
    let started = Instant::now();
    let started_at = now_utc();
    let shard = match args.shard {
        Some(s) => Some((s, ShardSource::Flag)),
        None => batch::shard_from_env(|k| std::env::var(k).ok()).map_err(Error::Usage)?,
    };
    let found = batch::discover(&args.inputs, args.recursive, args.output.as_deref())?;
    let say = |line: &str| {
        if !args.quiet {
            say!("{line}");
        }
    };
    if found.skipped_folders > 0 {
        say(&format!(
            "note: {} subfolder(s) left out; --recursive takes them too",
            found.skipped_folders
        ));
    }
    let out_dir = args.output.as_ref().and_then(|d| d.canonicalize().ok());
    let naming = Naming {
        out_dir: args.output.clone(),
        suffix: args.suffix.clone(),
        format: args.format.clone(),
    };
    let jobs = batch::plan(found.found, &naming, |root| {
        out_dir.is_some() && root.canonicalize().ok() == out_dir
    })?;
    batch::check_outputs_are_not_inputs(&jobs)?;
    let report = match args.report.as_deref() {
        Some(path) => {
            let mut owned = files_read(args, record);
            for j in &jobs {
                owned.push((j.input.clone(), "an input"));
                owned.push((j.output.clone(), "an output of this run"));
            }
            Some(ReportTarget::check(path, &owned)?)
        }
        None => None,
    };
    let total = jobs.len();
    let mine = match shard {
        Some((s, source)) => {
            let mine = s.select(&jobs);
            say(&format!(
                "shard {s} (from {source}): {} of {total} files",
                mine.len()
            ));
            mine
        }
        None => jobs,
    };
    if mine.is_empty() {
        match shard {
            Some((s, _)) if total > 0 => say(&format!(
                "nothing to do: shard {s} is empty (the batch has {total} file(s))"
            )),
            _ => say("nothing to do: no videos or images found"),
        }
    }
    // Only a complete file counts as done: one cut off by a crash or left broken by an older
    // version is redone.
    let fingerprint = record.fingerprint();
    let mut other_settings = 0;
    let split = batch::split_done(mine.clone(), args.overwrite, |job| {
        let out = job.output.as_path();
        // Complete means whole too: an output cut short after it was finished is redone.
        let expected =
            || crate::decode::expected_seconds(&job.input, config.file.window, config.file.limit);
        if !looks_complete(out) || !reaches_its_end(out, expected) {
            return false;
        }
        // An output another run's settings made is redone (unless --resume-any); one that does
        // not say (an older version's, a picture) is kept.
        let same = args.resume_any || fingerprint_of(out).is_none_or(|f| f == fingerprint);
        if !same {
            other_settings += 1;
        }
        same
    });
    // A killed run leaves its temporary file behind; it is never a finished file.
    for j in split.done.iter().chain(&split.to_run) {
        remove_stale_partials(&j.output);
    }
    if !split.done.is_empty() {
        say(&format!(
            "skipping {} file(s) already done (-y redoes them)",
            split.done.len()
        ));
    }
    if other_settings > 0 {
        say(&format!(
            "redoing {other_settings} file(s) made with other settings (--resume-any keeps them)"
        ));
    }
    let broken = split
        .to_run
        .iter()
        .filter(|j| !args.overwrite && j.output.exists())
        .count()
        - other_settings;
    if broken > 0 {
        say(&format!(
            "redoing {broken} file(s) whose output is there but incomplete"
        ));
    }

    let mut outcomes: HashMap<PathBuf, Outcome> = split
        .done
        .iter()
        .map(|j| (j.output.clone(), Outcome::Skipped))
        .collect();
    let mut run_info = None;
    if !split.to_run.is_empty() {
        let (stylizer, info) = load()?;
        if !args.quiet {
            say!("running on {}", info.describe());
        }
        run_info = Some(info);
        let stylizer = SharedStylizer::new(stylizer);
        let ran = run_jobs(args, config, &split.to_run, &stylizer, record, cancel);
        for (j, o) in split.to_run.iter().zip(ran) {
            outcomes.insert(j.output.clone(), o);
        }
    }

    let ordered: Vec<(&Job, &Outcome)> = mine.iter().map(|j| (j, &outcomes[&j.output])).collect();
    let summary = Summary::of(
        ordered.iter().map(|(_, o)| *o),
        started.elapsed().as_secs_f64(),
    );
    if total > 0 {
        say(&summary.table());
    }
    if let Some(target) = &report {
        let report = Report {
            schema: REPORT_SCHEMA,
            vstyle: env!("CARGO_PKG_VERSION"),
            started: started_at,
            finished: now_utc(),
            settings: record,
            run: run_info.as_ref(),
            shard: shard.map(|(s, _)| s),
            summary: &summary,
            files: ordered
                .iter()
                .map(|(j, o)| FileReport {
                    input: &j.input,
                    output: &j.output,
                    outcome: o,
                })
                .collect(),
        };
        target.write(&report, cancel)?;
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    if summary.failed > 0 {
        return Err(Error::Other(format!(
            "{} of {} file(s) failed",
            summary.failed,
            summary.total()
        )));
    }
    Ok(())
}

/// Runs `jobs` with `--jobs` of them in flight; returns their outcomes in order.
fn run_jobs(
    args: &Args,
    config: &Config,
    jobs: &[Job],
    stylizer: &SharedStylizer,
    record: &Record,
    cancel: &Cancel,
) -> Vec<Outcome> {
    let (encode, frames) = (&config.encode, config.file);
    let renderer = Renderer::new(args.quiet, jobs.len());
    let progress = renderer.progress();
    let print = |line: &str| renderer.println(line);
    let next = AtomicUsize::new(0);
    let outcomes: Vec<Mutex<Outcome>> = jobs.iter().map(|_| Mutex::new(Outcome::NotRun)).collect();
    let workers = (args.jobs as usize).clamp(1, jobs.len().max(1));
    std::thread::scope(|scope| {
        for w in 0..workers {
            let (next, outcomes, print) = (&next, &outcomes, &print);
            std::thread::Builder::new()
                .name(format!("file-{w}"))
                .spawn_scoped(scope, move || {
                    let mut stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(stylizer.clone())];
                    loop {
                        if cancel.is_cancelled() {
                            return;
                        }
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(job) = jobs.get(i) else { return };
                        // An output there already is one being redone (incomplete, or -y): it
                        // is replaced. Otherwise a file another run finishes meanwhile stays.
                        let encode = EncodeOptions {
                            overwrite: args.overwrite || job.output.exists(),
                            comment: Some(record.tag()),
                            ..encode.clone()
                        };
                        let result = prepare(job).and_then(|()| {
                            stylize_file(job, &mut stylizers, &encode, &frames, cancel, progress)
                        });
                        let outcome = match result {
                            Ok(stats) => {
                                for w in &stats.warnings {
                                    print(&format!("warning: {}: {w}", job.input.display()));
                                }
                                if !args.quiet {
                                    print(&format!(
                                        "done: {} → {} ({}, {:.1} s)",
                                        job.input.display(),
                                        job.output.display(),
                                        super::count(stats.frames, "frame"),
                                        stats.seconds
                                    ));
                                }
                                Outcome::Done {
                                    frames: stats.frames,
                                    seconds: stats.seconds,
                                    warnings: stats.warnings,
                                }
                            }
                            Err(Error::Cancelled) => Outcome::Interrupted,
                            Err(Error::FinishedElsewhere { .. }) => {
                                if !args.quiet {
                                    print(&format!(
                                        "skipped: {} was finished by another run meanwhile",
                                        job.output.display()
                                    ));
                                }
                                Outcome::Skipped
                            }
                            Err(e) => {
                                let error = reason(job, &e);
                                print(&format!("error: {}: {error}", job.input.display()));
                                Outcome::Failed { error }
                            }
                        };
                        *outcomes[i].lock().expect("outcome slot poisoned") = outcome;
                    }
                })
                .expect("spawn file thread");
        }
    });
    outcomes
        .into_iter()
        .map(|o| o.into_inner().expect("outcome slot poisoned"))
        .collect()
}

/// Makes the mirrored folder for one output and checks it may be written.
fn prepare(job: &Job) -> Result<()> {
    if let Some(dir) = job.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::output(dir, format!("cannot create the folder ({e})")))?;
    }
    check_output(job, true)
}

/// Where `--report` goes, checked before any work so a bad path costs nothing.
#[derive(Debug, PartialEq)]
pub(super) enum ReportTarget {
    /// `-`
    Stdout,
    /// Something that is not a regular file (`/dev/stdout`, a FIFO, a terminal): written as it
    /// is, never replaced.
    Stream(PathBuf),
    /// A regular file (symlinks followed to it), written under a temporary name and renamed,
    /// so it is whole or absent.
    File(PathBuf),
}

impl ReportTarget {
    /// Resolves and checks `path`: a folder, a missing folder, an unwritable one, or a file the
    /// run reads or writes (`owned`: each with what it is, such as "an input") is refused.
    ///
    /// # Errors
    /// A usage error naming the path.
    pub(super) fn check(path: &Path, owned: &[(PathBuf, &str)]) -> Result<Self> {
        let bad = |m: String| Error::Usage(format!("--report {path:?}: {m}"));
        if path == Path::new("-") {
            return Ok(Self::Stdout);
        }
        let target = match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(bad("is a folder; give a file name".into())),
            Ok(m) if !m.is_file() => return Ok(Self::Stream(path.to_path_buf())),
            Ok(_) => path
                .canonicalize()
                .map_err(|e| bad(format!("cannot resolve it ({e})")))?,
            // A dangling symlink is followed to where it points.
            Err(_) => match std::fs::read_link(path) {
                Ok(to) => path.parent().unwrap_or(Path::new(".")).join(to),
                Err(_) => path.to_path_buf(),
            },
        };
        // The report never replaces a file the run reads or writes, whatever name reaches it.
        if let Some((file, what)) = owned
            .iter()
            .find(|(f, _)| batch::same_file(path, f) || batch::same_file(&target, f))
        {
            return Err(bad(format!(
                "is {what} ({}); the report would overwrite it, so give it another name",
                file.display()
            )));
        }
        let folder = target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !folder.is_dir() {
            return Err(bad(format!("folder {} does not exist", folder.display())));
        }
        // Try the write now, not after the batch: an unwritable place fails before any work.
        let probe = partial_path(&target);
        std::fs::write(&probe, b"").map_err(|e| bad(format!("cannot write there ({e})")))?;
        let _ = std::fs::remove_file(&probe);
        Ok(Self::File(target))
    }

    /// Writes the report. A FIFO is given [`READER_WAIT`] for a reader to come, and no wait
    /// once Ctrl-C or SIGTERM fired ([`Error::Cancelled`]): a reader that is there takes it
    /// at once.
    pub(super) fn write(&self, report: &Report<'_>, cancel: &Cancel) -> Result<()> {
        let path = match self {
            Self::Stdout => Path::new("-"),
            Self::Stream(p) | Self::File(p) => p.as_path(),
        };
        let err = |e: &dyn std::fmt::Display| {
            Error::output(path, format!("cannot write the report ({e})"))
        };
        let text = serde_json::to_string_pretty(report).map_err(|e| err(&e))? + "\n";
        match self {
            Self::Stdout => {
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| err(&e))
            }
            Self::Stream(p) => {
                let mut f = match open_stream(p, cancel) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                        return Err(Error::Cancelled);
                    }
                    other => other.map_err(|e| err(&e))?,
                };
                std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| err(&e))
            }
            Self::File(p) => {
                let temp = partial_path(p);
                let written = std::fs::write(&temp, &text).and_then(|()| std::fs::rename(&temp, p));
                if written.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                written.map_err(|e| err(&e))
            }
        }
    }
}

/// How long a FIFO named by `--report` is given for a reader to open it.
pub(super) const READER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens a FIFO or device for writing without hanging: a FIFO nobody reads is waited for at
/// most [`READER_WAIT`], and no longer once `cancel` fires.
fn open_stream(path: &Path, cancel: &Cancel) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let deadline = Instant::now() + READER_WAIT;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => {
                // Non-blocking only to open: the writes wait for the reader as usual.
                // SAFETY: fcntl on a descriptor this function owns.
                unsafe {
                    let flags = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
                    if flags >= 0 {
                        libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
                    }
                }
                return Ok(f);
            }
            // A FIFO without a reader.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                if cancel.is_cancelled() {
                    return Err(std::io::ErrorKind::Interrupted.into());
                }
                if Instant::now() >= deadline {
                    return Err(std::io::Error::other(format!(
                        "nothing read the FIFO for {} s",
                        READER_WAIT.as_secs()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_each_outcome_and_the_finished_frames() {
        let outcomes = [
            Outcome::Done {
                frames: 5,
                seconds: 1.0,
                warnings: vec![],
            },
            Outcome::Done {
                frames: 7,
                seconds: 2.0,
                warnings: vec!["cut short".into()],
            },
            Outcome::Skipped,
            Outcome::Failed {
                error: "file is empty".into(),
            },
        ];
        let s = Summary::of(&outcomes, 6.0);
        assert_eq!((s.done, s.skipped, s.failed, s.frames), (2, 1, 1, 12));
        let t = s.table();
        // Each row: its name, then files, frames, time.
        let row = |t: &str, name: &str| -> Vec<String> {
            t.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("a {name:?} row in {t}"))[name.len()..]
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        assert_eq!(row(&t, "done"), ["2", "12", "3.0", "s"], "{t}");
        assert_eq!(row(&t, "skipped"), ["1", "-", "-"], "{t}");
        assert_eq!(row(&t, "failed"), ["1", "-", "-"], "{t}");
        assert_eq!(row(&t, "total")[..3], ["4", "12", "6.0"], "{t}");
        assert!(t.contains("20.0 files/min"), "{t}");
        assert!(!t.contains("interrupted"), "{t}");
        assert!(!t.contains("side by side"), "{t}");
        // Files run side by side: their times add up to more than the wall clock, which the
        // table says.
        let t = Summary::of(&outcomes, 2.0).table();
        assert!(t.contains("added up") && t.contains("side by side"), "{t}");
        // Short files: 0.08 s of work in 0.048 s prints as 0.1 s against 0.0 s, which needs
        // the same note.
        let quick = [Outcome::Done {
            frames: 1,
            seconds: 0.08,
            warnings: vec![],
        }];
        let t = Summary::of(&quick, 0.048).table();
        assert!(t.contains("side by side"), "{t}");
        let t = Summary::of(&quick, 0.08).table();
        assert!(!t.contains("side by side"), "{t}");
        let t = Summary::of(&[Outcome::Interrupted, Outcome::NotRun], 1.0).table();
        assert_eq!(row(&t, "done"), ["0", "0", "0.0", "s"], "{t}");
        assert_eq!(row(&t, "interrupted"), ["1", "-", "-"], "{t}");
        assert_eq!(row(&t, "not started"), ["1", "-", "-"], "{t}");
    }

    #[test]
    fn failures_name_the_input_once() {
        let job = Job {
            input: "in/a.mp4".into(),
            output: "out/a.mp4".into(),
        };
        assert_eq!(
            reason(&job, &Error::input("in/a.mp4", "file is empty")),
            "file is empty"
        );
        assert_eq!(
            reason(
                &job,
                &Error::NoVideoStream {
                    path: "in/a.mp4".into()
                }
            ),
            "no video stream found"
        );
        assert!(reason(&job, &Error::output("out/a.mp4", "disk full")).contains("out/a.mp4"));
    }

    #[test]
    fn outcomes_serialise_with_a_status_field() {
        let o = Outcome::Done {
            frames: 3,
            seconds: 0.5,
            warnings: vec![],
        };
        let r = FileReport {
            input: Path::new("a.mp4"),
            output: Path::new("b.mp4"),
            outcome: &o,
        };
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "done");
        assert_eq!(v["frames"], 3);
        assert_eq!(v["input"], "a.mp4");
        let v = serde_json::to_value(Outcome::Failed { error: "x".into() }).unwrap();
        assert_eq!(v["status"], "failed");
        assert_eq!(v["error"], "x");
    }
}
