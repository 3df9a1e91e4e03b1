//! Where vstyle finds what it needs besides its own binary: style models given by name
//! (`-m paintings`), the loss network of optimisation mode, and the ONNX Runtime library.
//!
//! Model folders, searched in this order:
//! 1. each folder in `$VSTYLE_MODELS` (separated by `:`);
//! 2. `models/` beside the executable (a binary installed together with its models);
//! 3. the package's `models/` (a checkout: `target/{debug,release}/vstyle` → `models/`, and the
//!    source tree the binary was built from);
//! 4. the user data folder, `$XDG_DATA_HOME/vstyle/models` or `~/.local/share/vstyle/models`,
//!    where `scripts/setup.sh` also installs the models, so a binary copied anywhere (or
//!    `cargo install`ed) finds them.
//!
//! The library is looked for in the same places, in `lib/` instead of `models/` (see
//! [`crate::runtime::library_candidates`]).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The per-user folder vstyle's set-up installs into: `$XDG_DATA_HOME/vstyle`, else
/// `~/.local/share/vstyle`.
pub fn user_data_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(base.join("vstyle"))
}

/// The folders that hold vstyle's installed files, most specific first: beside the executable,
/// the package root (a checkout's `target/{debug,release}/vstyle`), the source tree it was built
/// from, and the user data folder. `sub` is `models` or `lib`.
fn install_dirs(sub: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(exe_dir.join(sub));
        if let Some(root) = exe_dir.parent().and_then(Path::parent) {
            out.push(root.join(sub));
        }
    }
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(sub));
    if let Some(data) = user_data_dir() {
        out.push(data.join(sub));
    }
    dedup(out)
}

fn dedup(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = Vec::new();
    for p in paths {
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    seen
}

/// The folders searched for models given by name, in order (see the module's documentation).
pub fn model_dirs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::env::var_os("VSTYLE_MODELS")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    out.extend(install_dirs("models"));
    dedup(out)
}

/// The folders searched for the ONNX Runtime library after the explicit choices.
pub fn library_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(exe_dir.clone());
        if let Some(root) = exe_dir.parent().and_then(Path::parent) {
            out.push(root.join(".ort").join("lib"));
        }
    }
    out.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".ort")
            .join("lib"),
    );
    if let Some(data) = user_data_dir() {
        out.push(data.join("lib"));
    }
    dedup(out)
}

/// The first model folder that holds `file` (a file name such as `vgg16_features.onnx`).
pub fn find_model_file(file: &str) -> Option<PathBuf> {
    model_dirs()
        .into_iter()
        .map(|d| d.join(file))
        .find(|p| p.is_file())
}

/// True when `arg` names a model by name rather than by path: no folder part and no such file
/// in the working folder.
fn is_bare_name(arg: &Path) -> bool {
    arg.components().count() == 1 && !arg.exists()
}

/// Resolves `-m ARG`: a path that exists (or has a folder part) is taken as it is; a bare name
/// (`scream`, `paintings.onnx`) is looked up in [`model_dirs`] as `NAME` and `NAME.onnx`.
///
/// # Errors
/// A usage error when a bare name is found nowhere, listing where it looked.
pub fn model(arg: &Path) -> Result<PathBuf> {
    if !is_bare_name(arg) {
        return Ok(arg.to_path_buf());
    }
    let name = arg.to_string_lossy();
    let mut files = vec![name.to_string()];
    if arg.extension().is_none_or(|e| e != "onnx") {
        files.push(format!("{name}.onnx"));
    }
    let dirs = model_dirs();
    for dir in &dirs {
        for f in &files {
            let p = dir.join(f);
            if p.is_file() {
                tracing::debug!("model {name:?} is {}", p.display());
                return Ok(p);
            }
        }
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let names: Vec<String> = installed().into_iter().map(|m| m.name).collect();
    let base = name.strip_suffix(".onnx").unwrap_or(&name);
    let hint = match closest(base, &names) {
        Some(near) => format!("did you mean {near}? "),
        None => String::new(),
    };
    let what = if names.is_empty() {
        "none is installed; give a path, set VSTYLE_MODELS, or run scripts/setup.sh".to_string()
    } else {
        format!("installed: {} (vstyle --list-models)", names.join(", "))
    };
    Err(Error::Usage(format!(
        "model {name:?}: no such file, and no {} in the model folders ({}); {hint}{what}",
        files.join(" or "),
        looked.join(", ")
    )))
}

/// A model installed in the model folders: its name (what `-m` takes), the file that `-m NAME`
/// finds, and the precisions its sibling files hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub path: PathBuf,
    /// `fp32`, `int8`, `fp16`: the files present beside it.
    pub precisions: Vec<&'static str>,
}

/// Every model found by name in [`model_dirs`], one per name (the first folder that has it, as
/// `-m NAME` finds it), sorted by name.
pub fn installed() -> Vec<Installed> {
    let mut out: Vec<Installed> = Vec::new();
    for dir in model_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "onnx") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let fp32 = sibling(&file, "fp32");
            let Some(name) = fp32
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if out.iter().any(|m| m.name == name) {
                continue;
            }
            let precisions: Vec<&'static str> = ["fp32", "int8", "fp16"]
                .into_iter()
                .filter(|p| sibling(&file, p).is_file())
                .collect();
            let path = if fp32.is_file() { fp32 } else { file };
            out.push(Installed {
                name,
                path,
                precisions,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The name in `names` nearest to `wanted` when it is near enough to be a slip of the fingers
/// (at most a third of its letters off, or a prefix of it).
pub fn closest<'a>(wanted: &str, names: &'a [String]) -> Option<&'a str> {
    let wanted = wanted.to_lowercase();
    names
        .iter()
        .map(|n| (edit_distance(&wanted, &n.to_lowercase()), n))
        .filter(|(d, n)| *d <= (wanted.chars().count() / 3).max(1) || n.starts_with(&wanted))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

/// Damerau–Levenshtein distance (adjacent swaps count one), on characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The numeric precisions a model comes in, as sibling files: `scream.onnx` (float32),
/// `scream.int8.onnx`, `scream.fp16.onnx`.
pub const PRECISIONS: [&str; 2] = ["int8", "fp16"];

/// The precision a model file's name says (`int8`, `fp16`), `fp32` otherwise.
pub fn precision_of(model: &Path) -> &'static str {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    PRECISIONS
        .into_iter()
        .find(|p| stem.ends_with(&format!(".{p}")))
        .unwrap_or("fp32")
}

/// The sibling of `model` in `precision` (`fp32`, `int8`, `fp16`): `dir/scream.int8.onnx` for
/// `dir/scream.onnx` or `dir/scream.fp16.onnx`.
pub fn sibling(model: &Path, precision: &str) -> PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = PRECISIONS
        .into_iter()
        .find_map(|p| stem.strip_suffix(&format!(".{p}")))
        .unwrap_or(&stem)
        .to_string();
    let ext = model
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "onnx".into());
    let name = if precision == "fp32" {
        format!("{base}.{ext}")
    } else {
        format!("{base}.{precision}.{ext}")
    };
    model.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_taken_as_they_are_and_names_are_searched() {
        assert_eq!(
            model(Path::new("some/dir/x.onnx")).unwrap(),
            Path::new("some/dir/x.onnx")
        );
        let e = model(Path::new("no_such_model_anywhere"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no_such_model_anywhere.onnx") && e.contains("model folders"),
            "{e}"
        );
    }

    #[test]
    fn a_slip_of_the_fingers_finds_the_model_meant() {
        let names: Vec<String> = ["arbitrary", "multistyle26", "scream", "scream_light"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(closest("scraem", &names), Some("scream"));
        assert_eq!(closest("multistyle", &names), Some("multistyle26"));
        assert_eq!(closest("paintings", &names), None);
    }

    #[test]
    fn precision_siblings_share_the_folder_and_the_base_name() {
        let m = Path::new("m/scream.onnx");
        assert_eq!(sibling(m, "int8"), Path::new("m/scream.int8.onnx"));
        assert_eq!(sibling(m, "fp32"), m);
        assert_eq!(
            sibling(Path::new("m/scream.int8.onnx"), "fp16"),
            Path::new("m/scream.fp16.onnx")
        );
        assert_eq!(precision_of(Path::new("m/scream.int8.onnx")), "int8");
        assert_eq!(precision_of(m), "fp32");
    }

    #[test]
    fn the_package_models_folder_is_searched() {
        let dirs = model_dirs();
        let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        assert!(dirs.contains(&package), "{dirs:?}");
        // scream.onnx ships in the package's models/, so its name resolves from anywhere.
        let found = model(Path::new("scream")).unwrap();
        assert!(found.ends_with("models/scream.onnx"), "{found:?}");
    }
}
