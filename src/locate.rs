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
    Err(Error::Usage(format!(
        "model {name:?}: no such file, and no {} in the model folders ({}); give a path, set VSTYLE_MODELS, or run scripts/setup.sh",
        files.join(" or "),
        looked.join(", ")
    )))
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
