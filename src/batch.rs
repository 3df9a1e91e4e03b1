//! Batch planning: the command line's inputs → a sorted list of [`Job`]s, each an input and the
//! output it becomes, then the slice of that list this process runs.
//!
//! ```text
//! inputs ──discover──▶ Found (input, path under its argument) ──plan──▶ sorted Jobs
//!        ──shard──▶ this process's Jobs ──split_done──▶ to run + already done
//! ```
//!
//! Only [`discover`] looks at the file system (to list folders); naming, sharding and the shard
//! environment are pure functions, so every rule here is unit-tested without files. The order of
//! the steps matters for scale-out: the job list is sorted and sharded *before* finished jobs are
//! skipped, so every machine computes the same slices whatever it finds already done.
//!
//! A finished output is the "done" marker: outputs are written as `name.partial.ext` and renamed
//! only when complete (see [`crate::encode`]), so a file with the final name is never half-written
//! and a partial file is never taken for a finished one.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::encode::is_image_path;
use crate::error::{Error, Result};

/// Extensions taken as videos when a folder is listed. Listing by extension is fast and
/// predictable (a folder of subtitles or notes costs nothing); a file named on the command line
/// is always tried, and FFmpeg's own error says what is wrong with it.
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "3g2", "3gp", "avi", "flv", "m2ts", "m4v", "mkv", "mov", "mp4", "mpeg", "mpg", "mts", "mxf",
    "nut", "ogv", "ts", "vob", "webm", "wmv", "y4m",
];

/// One input and the output it becomes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// True when a folder listing should take `path`: a video or image extension, not one of our
/// own temporary outputs, not a hidden file (`.DS_Store`, `._clip.mp4` from macOS copies).
pub fn is_media_path(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
        return false;
    };
    if name.starts_with('.') || is_partial_path(path) {
        return false;
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    VIDEO_EXTENSIONS.contains(&ext.as_str()) || is_image_path(path)
}

pub use crate::output::is_partial_path;

/// One file found under the command line's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The path it is opened by: the argument, joined with the path under it for a folder.
    pub input: PathBuf,
    /// The argument it came from, for a folder; the file's own folder for a file argument.
    pub root: PathBuf,
    /// Its path under `root`: the outputs mirror this under the output folder.
    pub relative: PathBuf,
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    pub found: Vec<Found>,
    /// Subfolders left out because `--recursive` was not given (worth a hint to the user).
    pub skipped_folders: usize,
}

/// Lists the inputs: a file argument is taken as it is (whatever its extension); a folder gives
/// its videos and images (see [`is_media_path`]), and those of its subfolders with `recursive`.
/// Hidden folders, symbolic links to folders (which could loop) and `skip` (the output folder,
/// when it sits inside an input folder) are not entered.
///
/// # Errors
/// A folder that cannot be listed.
pub fn discover(inputs: &[PathBuf], recursive: bool, skip: Option<&Path>) -> Result<Discovery> {
    let skip = skip.and_then(|s| s.canonicalize().ok());
    let mut out = Discovery::default();
    for arg in inputs {
        if arg.is_dir() {
            walk(arg, Path::new(""), recursive, skip.as_deref(), &mut out)?;
        } else {
            // A missing file is still a job: it fails with "not found" like any bad input.
            let root = match arg.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let relative = arg.file_name().map(PathBuf::from).unwrap_or_default();
            out.found.push(Found {
                input: arg.clone(),
                root,
                relative,
            });
        }
    }
    Ok(out)
}

fn walk(
    root: &Path,
    under: &Path,
    recursive: bool,
    skip: Option<&Path>,
    out: &mut Discovery,
) -> Result<()> {
    let dir = root.join(under);
    let entries = std::fs::read_dir(&dir)
        .and_then(|it| it.collect::<std::io::Result<Vec<_>>>())
        .map_err(|e| Error::input(&dir, format!("cannot list the folder ({e})")))?;
    let mut names: Vec<_> = entries.iter().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let relative = under.join(&name);
        let path = root.join(&relative);
        // symlink_metadata: a link to a folder is not followed (loops); a link to a file is.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let hidden = name.to_string_lossy().starts_with('.');
            let is_skip = skip.is_some_and(|s| path.canonicalize().is_ok_and(|p| p == s));
            if hidden || is_skip {
                continue;
            }
            if recursive {
                walk(root, &relative, recursive, skip, out)?;
            } else {
                out.skipped_folders += 1;
            }
        } else if is_media_path(&path) && path.is_file() {
            out.found.push(Found {
                input: path,
                root: root.to_path_buf(),
                relative,
            });
        }
    }
    Ok(())
}

/// How outputs are named.
#[derive(Debug, Clone, Default)]
pub struct Naming {
    /// The output folder; `None` puts each output beside its input.
    pub out_dir: Option<PathBuf>,
    /// Added to the file stem; `None` means `""` in another folder and `"_styled"` where the
    /// output would sit beside its input.
    pub suffix: Option<String>,
    /// The container extension for videos (`mp4`, `mkv`, …); `None` keeps the input's. Images
    /// keep their own format.
    pub format: Option<String>,
}

/// The suffix used when an output would otherwise land beside its input.
pub const BESIDE_SUFFIX: &str = "_styled";

/// The output path for one input. `same_folder` says whether `naming.out_dir` is the input's
/// `root` (the caller compares real paths; this stays pure).
pub fn output_path(found: &Found, naming: &Naming, same_folder: bool) -> PathBuf {
    let folder = match &naming.out_dir {
        None => found
            .input
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        Some(d) => match found.relative.parent() {
            Some(p) => d.join(p),
            None => d.clone(),
        },
    };
    let beside = naming.out_dir.is_none() || same_folder;
    let suffix = naming
        .suffix
        .as_deref()
        .unwrap_or(if beside { BESIDE_SUFFIX } else { "" });
    let stem = found
        .relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let own_ext = found
        .relative
        .extension()
        .map(|e| e.to_string_lossy().into_owned());
    let ext = match (&naming.format, is_image_path(&found.relative)) {
        (Some(f), false) => f.clone(),
        _ => own_ext.unwrap_or_else(|| "mp4".into()),
    };
    folder.join(format!("{stem}{suffix}.{ext}"))
}

/// Turns found inputs into the batch's sorted job list.
///
/// Inputs are sorted by path and duplicates dropped. An input that is another job's output is
/// dropped too: it is this tool's output from an earlier run into the same folder.
///
/// # Errors
/// [`Error::Usage`] when an output would replace its own input, or two inputs would write the same
/// output (files of the same name from two arguments, or `a.mov` and `a.mp4` with `--format`).
pub fn plan(
    mut found: Vec<Found>,
    naming: &Naming,
    same_folder: impl Fn(&Path) -> bool,
) -> Result<Vec<Job>> {
    found.sort_by(|a, b| a.input.cmp(&b.input));
    found.dedup_by(|a, b| a.input == b.input);
    let mut jobs: Vec<Job> = found
        .iter()
        .map(|f| Job {
            input: f.input.clone(),
            output: output_path(f, naming, same_folder(&f.root)),
        })
        .collect();
    let outputs: HashMap<&Path, &Path> = jobs
        .iter()
        .map(|j| (j.output.as_path(), j.input.as_path()))
        .collect();
    let ours: Vec<bool> = jobs
        .iter()
        .map(|j| {
            outputs
                .get(j.input.as_path())
                .is_some_and(|&from| from != j.input)
        })
        .collect();
    let mut keep = ours.iter().map(|o| !o);
    jobs.retain(|_| keep.next().expect("one flag per job"));

    let mut seen: HashMap<&Path, &Path> = HashMap::new();
    for j in &jobs {
        if j.output == j.input {
            return Err(Error::Usage(format!(
                "{:?} would be written over itself; give --suffix or another -o folder",
                j.input
            )));
        }
        if let Some(other) = seen.insert(&j.output, &j.input) {
            return Err(Error::Usage(format!(
                "{other:?} and {:?} would both be written to {:?}; give them separate runs or use --suffix/--format",
                j.input, j.output
            )));
        }
    }
    Ok(jobs)
}

/// `path` with symlinks and `..` resolved, for comparing: its own real path when it exists,
/// else its folder's real path joined with its name.
pub fn real_path(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let folder = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (folder.canonicalize(), path.file_name()) {
        (Ok(f), Some(name)) => f.join(name),
        _ => path.to_path_buf(),
    }
}

/// Refuses a plan in which an output is its own input under another spelling (a symlinked
/// folder, `..`), which the plan's own check, on the paths as given, cannot see.
///
/// # Errors
/// [`Error::Usage`] naming the first such input.
pub fn check_outputs_are_not_inputs(jobs: &[Job]) -> Result<()> {
    for j in jobs {
        if real_path(&j.output) == real_path(&j.input) {
            return Err(Error::Usage(format!(
                "{:?} would be written over itself (through {:?}); give --suffix or another -o folder",
                j.input, j.output
            )));
        }
    }
    Ok(())
}

/// A deterministic slice of a batch: job `i` of the sorted list belongs to shard `i mod count`.
/// Every job is in exactly one shard, so shards never write the same output and together do the
/// whole batch; round-robin (rather than contiguous blocks) spreads a folder of long clips over
/// all shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    pub count: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N` with `0 <= K < N`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (shard K of N, counting from 0)"))?;
        let index: usize = k
            .trim()
            .parse()
            .map_err(|_| format!("{k:?} in {s:?} is not a shard number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} in {s:?} is not a shard count"))?;
        Shard::new(index, count)
    }
}

impl Shard {
    /// # Errors
    /// A zero count or an index outside `0..count`.
    pub fn new(index: usize, count: usize) -> std::result::Result<Self, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard {index} does not exist among {count} (shards count from 0 to {})",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// True when job `position` of the sorted batch belongs to this shard.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// This shard's jobs, in batch order.
    pub fn select<T: Clone>(&self, jobs: &[T]) -> Vec<T> {
        jobs.iter()
            .enumerate()
            .filter(|(i, _)| self.owns(*i))
            .map(|(_, j)| j.clone())
            .collect()
    }
}

/// The environment variable that gives the shard count to a Kubernetes indexed Job (set it to the
/// Job's `completions`), or overrides the count a scheduler gives.
pub const SHARD_COUNT_VAR: &str = "VSTYLE_SHARD_COUNT";
/// The environment variable that gives a whole shard, `K/N`, for any other scheduler.
pub const SHARD_VAR: &str = "VSTYLE_SHARD";

/// Where a shard came from, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSource {
    Flag,
    Vstyle,
    Kubernetes,
    Slurm,
}

impl fmt::Display for ShardSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShardSource::Flag => "--shard",
            ShardSource::Vstyle => SHARD_VAR,
            ShardSource::Kubernetes => "JOB_COMPLETION_INDEX (Kubernetes indexed Job)",
            ShardSource::Slurm => "SLURM_ARRAY_TASK_ID (Slurm job array)",
        })
    }
}

/// Reads the shard from a scheduler's environment, looked up through `var` (the process
/// environment in use; a map in tests). In order:
///
/// 1. `VSTYLE_SHARD=K/N`, for any scheduler.
/// 2. Kubernetes indexed Jobs: `JOB_COMPLETION_INDEX` is the index; the Job's pods are not told
///    the completion count, so `VSTYLE_SHARD_COUNT` must give it.
/// 3. Slurm job arrays: `SLURM_ARRAY_TASK_ID`, counted from `SLURM_ARRAY_TASK_MIN` in steps of
///    `SLURM_ARRAY_TASK_STEP` (default 1), of `SLURM_ARRAY_TASK_COUNT` shards (else derived from
///    `SLURM_ARRAY_TASK_MAX`). With `VSTYLE_SHARD_COUNT` the layout is pinned instead: the task
///    id is the shard number itself, so one task can be resubmitted alone (`--array=3`).
///
/// `Ok(None)` when none of these is set: the process runs the whole batch.
///
/// # Errors
/// A variable that is set but unusable; running the whole batch then would make every shard do
/// every job, so it is refused instead.
pub fn shard_from_env(
    var: impl Fn(&str) -> Option<String>,
) -> std::result::Result<Option<(Shard, ShardSource)>, String> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let number = |name: &str| -> std::result::Result<Option<usize>, String> {
        get(name)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("{name}={v:?} is not a whole number"))
            })
            .transpose()
    };
    if let Some(v) = get(SHARD_VAR) {
        let shard = v
            .parse::<Shard>()
            .map_err(|e| format!("{SHARD_VAR}: {e}"))?;
        return Ok(Some((shard, ShardSource::Vstyle)));
    }
    let count_override = number(SHARD_COUNT_VAR)?;
    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = count_override.ok_or_else(|| {
            format!(
                "JOB_COMPLETION_INDEX is set but {SHARD_COUNT_VAR} is not: set it to the Job's completions (or pass --shard K/N)"
            )
        })?;
        let shard = Shard::new(index, count).map_err(|e| format!("JOB_COMPLETION_INDEX: {e}"))?;
        return Ok(Some((shard, ShardSource::Kubernetes)));
    }
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        if let Some(count) = count_override {
            let shard = Shard::new(id, count).map_err(|e| {
                format!("SLURM_ARRAY_TASK_ID={id} with {SHARD_COUNT_VAR}={count}: {e}")
            })?;
            return Ok(Some((shard, ShardSource::Slurm)));
        }
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        let offset = id.checked_sub(min).ok_or_else(|| {
            format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
        })?;
        if offset % step != 0 {
            return Err(format!(
                "SLURM_ARRAY_TASK_ID={id} is not on the array's step {step} from {min}; give --shard K/N"
            ));
        }
        let index = offset / step;
        let count = match (
            number("SLURM_ARRAY_TASK_COUNT")?,
            number("SLURM_ARRAY_TASK_MAX")?,
        ) {
            (Some(n), _) => n,
            (None, Some(max)) if max >= min => (max - min) / step + 1,
            _ => {
                return Err(format!(
                    "SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MAX; set {SHARD_COUNT_VAR} or pass --shard K/N"
                ));
            }
        };
        let shard = Shard::new(index, count).map_err(|e| {
            format!("SLURM_ARRAY_TASK_ID={id}: {e}; arrays given as lists (1,5,9) need --shard K/N")
        })?;
        return Ok(Some((shard, ShardSource::Slurm)));
    }
    Ok(None)
}

/// Jobs split by whether their final output exists.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub to_run: Vec<Job>,
    pub done: Vec<Job>,
}

/// Splits jobs into those to run and those already done (final output present). With `redo`
/// (`-y`) every job runs. Only the final name counts: a `name.partial.ext` left by a killed run
/// is never "done", and is overwritten when its job runs again.
pub fn split_done(jobs: Vec<Job>, redo: bool, mut done: impl FnMut(&Path) -> bool) -> Split {
    let mut split = Split::default();
    for j in jobs {
        if !redo && done(&j.output) {
            split.done.push(j);
        } else {
            split.to_run.push(j);
        }
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn found(root: &str, relative: &str) -> Found {
        Found {
            input: Path::new(root).join(relative),
            root: root.into(),
            relative: relative.into(),
        }
    }

    fn naming(out: Option<&str>, suffix: Option<&str>, format: Option<&str>) -> Naming {
        Naming {
            out_dir: out.map(PathBuf::from),
            suffix: suffix.map(String::from),
            format: format.map(String::from),
        }
    }

    #[test]
    fn folder_listings_take_videos_and_images_but_not_other_files_or_partials() {
        for yes in [
            "a.mp4", "b.MKV", "c.mov", "d.webm", "e.png", "f.JPG", "dir/g.ts",
        ] {
            assert!(is_media_path(Path::new(yes)), "{yes}");
        }
        for no in [
            "notes.txt",
            "a.partial.mp4",
            "a.partial",
            ".hidden.mp4",
            "._clip.mov",
            "noext",
            "song.mp3",
        ] {
            assert!(!is_media_path(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn outputs_mirror_the_tree_under_the_output_folder_without_a_suffix() {
        let n = naming(Some("out"), None, None);
        assert_eq!(
            output_path(&found("videos", "2024/day1/clip.mov"), &n, false),
            Path::new("out/2024/day1/clip.mov")
        );
        assert_eq!(
            output_path(&found("videos", "clip.mkv"), &n, false),
            Path::new("out/clip.mkv")
        );
    }

    #[test]
    fn outputs_beside_the_inputs_get_the_styled_suffix() {
        let none = naming(None, None, None);
        assert_eq!(
            output_path(&found("videos", "sub/clip.mp4"), &none, false),
            Path::new("videos/sub/clip_styled.mp4")
        );
        // -o naming the input folder itself counts as beside.
        let same = naming(Some("videos"), None, None);
        assert_eq!(
            output_path(&found("videos", "clip.mp4"), &same, true),
            Path::new("videos/clip_styled.mp4")
        );
    }

    #[test]
    fn suffix_and_format_change_the_name_but_images_stay_images() {
        let n = naming(Some("out"), Some("-scream"), Some("mkv"));
        assert_eq!(
            output_path(&found("in", "a/clip.mov"), &n, false),
            Path::new("out/a/clip-scream.mkv")
        );
        assert_eq!(
            output_path(&found("in", "a/photo.jpg"), &n, false),
            Path::new("out/a/photo-scream.jpg")
        );
        // An explicit empty suffix wins over the beside default.
        let n = naming(None, Some(""), Some("mkv"));
        assert_eq!(
            output_path(&found("in", "clip.mp4"), &n, false),
            Path::new("in/clip.mkv")
        );
    }

    #[test]
    fn an_input_without_an_extension_becomes_an_mp4() {
        let n = naming(Some("out"), None, None);
        assert_eq!(
            output_path(&found(".", "raw"), &n, false),
            Path::new("out/raw.mp4")
        );
    }

    #[test]
    fn jobs_are_sorted_by_input_and_duplicates_dropped() {
        let n = naming(Some("out"), None, None);
        let jobs = plan(
            vec![
                found("in", "b.mp4"),
                found("in", "a/z.mp4"),
                found("in", "a.mp4"),
                found("in", "b.mp4"),
            ],
            &n,
            |_| false,
        )
        .unwrap();
        let inputs: Vec<_> = jobs.iter().map(|j| j.input.clone()).collect();
        assert_eq!(
            inputs,
            [
                PathBuf::from("in/a/z.mp4"),
                "in/a.mp4".into(),
                "in/b.mp4".into()
            ]
        );
    }

    #[test]
    fn earlier_outputs_in_the_input_folder_are_not_taken_as_inputs() {
        let n = naming(None, None, None);
        let jobs = plan(
            vec![found("v", "a.mp4"), found("v", "a_styled.mp4")],
            &n,
            |_| false,
        )
        .unwrap();
        assert_eq!(
            jobs,
            [Job {
                input: "v/a.mp4".into(),
                output: "v/a_styled.mp4".into()
            }]
        );
    }

    #[test]
    fn an_output_over_its_own_input_is_a_usage_error() {
        let n = naming(Some("v"), Some(""), None);
        let e = plan(vec![found("v", "a.mp4")], &n, |_| true).unwrap_err();
        assert!(matches!(e, Error::Usage(_)), "{e}");
        assert!(e.to_string().contains("over itself"), "{e}");
    }

    #[test]
    fn two_inputs_with_one_output_are_a_usage_error() {
        let n = naming(Some("out"), None, Some("mp4"));
        let e = plan(vec![found("in", "a.mov"), found("in", "a.mkv")], &n, |_| {
            false
        })
        .unwrap_err();
        assert!(e.to_string().contains("would both be written"), "{e}");
        let n = naming(Some("out"), None, None);
        let e = plan(vec![found("x", "a.mp4"), found("y", "a.mp4")], &n, |_| {
            false
        })
        .unwrap_err();
        assert!(e.to_string().contains("out/a.mp4"), "{e}");
    }

    #[test]
    fn shards_partition_a_twenty_job_batch_exactly() {
        let n = naming(Some("out"), None, None);
        let all = plan(
            (0..20)
                .map(|i| found("in", &format!("d{}/clip{i:02}.mp4", i % 3)))
                .collect(),
            &n,
            |_| false,
        )
        .unwrap();
        assert_eq!(all.len(), 20);
        for count in [1, 2, 3, 7, 20, 32] {
            let mut seen = HashSet::new();
            let mut total = 0;
            for index in 0..count {
                let part = Shard::new(index, count).unwrap().select(&all);
                // Balanced: sizes differ by at most one.
                assert!(part.len() == 20 / count || part.len() == 20 / count + 1);
                total += part.len();
                for j in part {
                    assert!(seen.insert(j.output.clone()), "{j:?} in two shards");
                }
            }
            assert_eq!(total, 20, "count {count}");
            let every: HashSet<_> = all.iter().map(|j| j.output.clone()).collect();
            assert_eq!(seen, every, "count {count}");
        }
    }

    #[test]
    fn shards_do_not_depend_on_the_order_inputs_are_found_in() {
        let n = naming(Some("out"), None, None);
        let files: Vec<_> = (0..9).map(|i| found("in", &format!("{i}.mp4"))).collect();
        let mut reversed = files.clone();
        reversed.reverse();
        let a = Shard::new(1, 4)
            .unwrap()
            .select(&plan(files, &n, |_| false).unwrap());
        let b = Shard::new(1, 4)
            .unwrap()
            .select(&plan(reversed, &n, |_| false).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn shard_flags_parse_k_of_n_from_zero() {
        assert_eq!("0/4".parse::<Shard>(), Ok(Shard { index: 0, count: 4 }));
        assert_eq!("3/4".parse::<Shard>(), Ok(Shard { index: 3, count: 4 }));
        assert!("4/4".parse::<Shard>().unwrap_err().contains("0 to 3"));
        assert!("1/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert!("a/2".parse::<Shard>().is_err());
        assert_eq!(Shard { index: 2, count: 5 }.to_string(), "2/5");
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn shard(pairs: &[(&str, &str)]) -> std::result::Result<Option<(usize, usize)>, String> {
        shard_from_env(env(pairs)).map(|s| s.map(|(s, _)| (s.index, s.count)))
    }

    #[test]
    fn no_scheduler_variables_means_the_whole_batch() {
        assert_eq!(shard(&[]), Ok(None));
        assert_eq!(
            shard(&[("HOME", "/root"), ("JOB_COMPLETION_INDEX", "")]),
            Ok(None)
        );
    }

    #[test]
    fn kubernetes_indexed_jobs_take_the_completion_index_and_the_given_count() {
        assert_eq!(
            shard(&[("JOB_COMPLETION_INDEX", "3"), ("VSTYLE_SHARD_COUNT", "8")]),
            Ok(Some((3, 8)))
        );
        let (_, source) = shard_from_env(env(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("VSTYLE_SHARD_COUNT", "2"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(source, ShardSource::Kubernetes);
        // Without the count every pod would do every file: refused.
        assert!(
            shard(&[("JOB_COMPLETION_INDEX", "3")])
                .unwrap_err()
                .contains("VSTYLE_SHARD_COUNT")
        );
        assert!(shard(&[("JOB_COMPLETION_INDEX", "8"), ("VSTYLE_SHARD_COUNT", "8")]).is_err());
        assert!(shard(&[("JOB_COMPLETION_INDEX", "x"), ("VSTYLE_SHARD_COUNT", "8")]).is_err());
    }

    #[test]
    fn slurm_arrays_count_from_their_minimum() {
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
            ]),
            Ok(Some((2, 4)))
        );
        // --array=1-10: ids 1..=10 are shards 0..=9.
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "10"),
            ]),
            Ok(Some((0, 10)))
        );
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "10"),
                ("SLURM_ARRAY_TASK_COUNT", "10"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
            ]),
            Ok(Some((9, 10)))
        );
        // --array=0-12:4 → ids 0, 4, 8, 12.
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "8"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "12"),
                ("SLURM_ARRAY_TASK_STEP", "4"),
            ]),
            Ok(Some((2, 4)))
        );
        let (_, source) = shard_from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(source, ShardSource::Slurm);
    }

    #[test]
    fn slurm_arrays_that_do_not_map_to_shards_are_refused() {
        // A list (--array=1,5,9) has ids beyond its count.
        assert!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "9"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "9"),
            ])
            .unwrap_err()
            .contains("--shard")
        );
        assert!(shard(&[("SLURM_ARRAY_TASK_ID", "3")]).is_err());
        assert!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_MIN", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ])
            .is_err()
        );
    }

    #[test]
    fn the_explicit_variables_win_over_the_schedulers() {
        assert_eq!(
            shard(&[
                ("VSTYLE_SHARD", "1/3"),
                ("JOB_COMPLETION_INDEX", "0"),
                ("SLURM_ARRAY_TASK_ID", "0"),
            ]),
            Ok(Some((1, 3)))
        );
        // The count variable pins the layout: the task id is the shard, whatever the array's
        // own size (one task resubmitted alone, or several arrays for one batch).
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
                ("VSTYLE_SHARD_COUNT", "16"),
            ]),
            Ok(Some((5, 16)))
        );
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_MIN", "3"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
                ("SLURM_ARRAY_TASK_COUNT", "1"),
                ("VSTYLE_SHARD_COUNT", "8"),
            ]),
            Ok(Some((3, 8)))
        );
        assert!(shard(&[("VSTYLE_SHARD", "3")]).is_err());
    }

    #[test]
    fn finished_outputs_are_skipped_unless_redo_and_partials_never_count() {
        let jobs = vec![
            Job {
                input: "a.mp4".into(),
                output: "out/a.mp4".into(),
            },
            Job {
                input: "b.mp4".into(),
                output: "out/b.mp4".into(),
            },
        ];
        // Only b's partial file exists: b is not done.
        let on_disk: HashSet<PathBuf> = ["out/a.mp4", "out/b.partial.mp4"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let exists = |p: &Path| on_disk.contains(p);
        let s = split_done(jobs.clone(), false, exists);
        assert_eq!(s.done, jobs[..1]);
        assert_eq!(s.to_run, jobs[1..]);
        let s = split_done(jobs.clone(), true, exists);
        assert_eq!(s.to_run, jobs);
        assert!(s.done.is_empty());
    }

    #[test]
    fn discovery_lists_folders_sorted_and_recurses_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("in");
        for f in [
            "b.mp4",
            "a.mkv",
            "notes.txt",
            "x.partial.mp4",
            "sub/c.mov",
            "sub/deeper/d.png",
            ".hidden/e.mp4",
            "out/old.mp4",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        let flat = discover(std::slice::from_ref(&root), false, None).unwrap();
        let rel: Vec<_> = flat.found.iter().map(|f| f.relative.clone()).collect();
        assert_eq!(rel, [PathBuf::from("a.mkv"), "b.mp4".into()]);
        assert_eq!(flat.skipped_folders, 2);

        let deep = discover(std::slice::from_ref(&root), true, Some(&root.join("out"))).unwrap();
        let rel: Vec<_> = deep.found.iter().map(|f| f.relative.clone()).collect();
        assert_eq!(
            rel,
            [
                PathBuf::from("a.mkv"),
                "b.mp4".into(),
                "sub/c.mov".into(),
                "sub/deeper/d.png".into()
            ]
        );
        assert!(deep.found.iter().all(|f| f.root == root));
        assert_eq!(deep.found[2].input, root.join("sub/c.mov"));
    }

    #[test]
    fn file_arguments_are_taken_whatever_their_extension() {
        let f = discover(&[PathBuf::from("clip.weird"), "dir/x".into()], false, None).unwrap();
        assert_eq!(
            f.found,
            [
                Found {
                    input: "clip.weird".into(),
                    root: ".".into(),
                    relative: "clip.weird".into()
                },
                Found {
                    input: "dir/x".into(),
                    root: "dir".into(),
                    relative: "x".into()
                }
            ]
        );
    }
}
