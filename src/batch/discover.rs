//! Listing the command line's inputs: files as given, folders by extension (recursively with
//! `--recursive`), leaving out our own partial files and hidden ones.

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
            // The command line checks that named files exist before any work; one that is gone
            // by now is still a job, which fails with "not found" like any bad input.
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
