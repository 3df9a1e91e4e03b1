//! Naming the outputs (a folder, a suffix, a container) and planning the sorted job list, with
//! the checks that no two jobs write one output and no output overwrites an input.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Found, Job};
use crate::encode::is_image_path;
use crate::error::{Error, Result};

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
    let beside = naming.out_dir.is_none() || same_folder;
    // Beside its input, an output is named through the input's own folder, whatever name `-o`
    // gave that folder (a symlink, `..`): the same file has the same name, so an earlier
    // output found among the inputs is known for what it is.
    let folder = match &naming.out_dir {
        Some(d) if !beside => match found.relative.parent() {
            Some(p) => d.join(p),
            None => d.clone(),
        },
        _ => found
            .input
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let suffix = naming
        .suffix
        .as_deref()
        .unwrap_or(if beside { BESIDE_SUFFIX } else { "" });
    // The name as it is, bytes that are not UTF-8 included.
    let mut name = found
        .relative
        .file_stem()
        .map_or_else(|| "out".into(), std::ffi::OsStr::to_os_string);
    name.push(suffix);
    name.push(".");
    match (&naming.format, is_image_path(&found.relative)) {
        (Some(f), false) => name.push(f),
        _ => name.push(found.relative.extension().unwrap_or("mp4".as_ref())),
    }
    folder.join(name)
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

/// True when `a` and `b` name one file: the same real path (symlinks and `..` resolved), or,
/// for files that exist, the same file under two names (a hard link).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    if real_path(a) == real_path(b) {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
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
