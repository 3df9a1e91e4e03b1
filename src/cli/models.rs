//! `--list-models`: the models found by name in the model folders, and what each is.

use std::path::Path;

use crate::error::Result;
use crate::stylize::feedforward::{ModelKind, model_kind};

/// One row of the listing.
#[derive(Debug, serde::Serialize)]
struct Row {
    name: String,
    #[serde(flatten)]
    kind: ModelKind,
    precisions: Vec<&'static str>,
    #[serde(serialize_with = "super::batch::lossy_path")]
    path: std::path::PathBuf,
}

/// The listing of the installed models, as a table or (`json`) a JSON array. Files that are not
/// style networks (the loss network, style predictors) are listed last as `other`.
///
/// # Errors
/// No ONNX Runtime library.
pub(super) fn list(json: bool, ort_lib: Option<&Path>) -> Result<String> {
    let mut rows = Vec::new();
    for m in crate::locate::installed() {
        let kind = match model_kind(&m.path, ort_lib) {
            Ok(k) => k,
            // A file that does not load is listed, not hidden: it shadows nothing silently.
            Err(e @ crate::Error::Runtime(_)) => return Err(e),
            Err(_) => ModelKind {
                kind: "unreadable",
                styles: None,
                names: Vec::new(),
                arch: None,
                predictor: None,
            },
        };
        rows.push(Row {
            name: m.name,
            kind,
            precisions: m.precisions,
            path: m.path,
        });
    }
    // A predictor that an arbitrary-style network names is a part of that network, not a style
    // network of its own (whatever its signature).
    let predictors: Vec<std::path::PathBuf> = rows
        .iter()
        .filter_map(|r| {
            let named = r.kind.predictor.as_ref()?;
            Some(r.path.parent()?.join(named))
        })
        .collect();
    for r in &mut rows {
        if predictors.contains(&r.path) {
            r.kind = ModelKind {
                kind: "other",
                styles: None,
                names: Vec::new(),
                arch: None,
                predictor: None,
            };
        }
    }
    rows.sort_by_key(|r| r.kind.kind == "other" || r.kind.kind == "unreadable");
    if json {
        return Ok(serde_json::to_string_pretty(&rows).expect("rows serialise") + "\n");
    }
    if rows.is_empty() {
        let dirs: Vec<String> = crate::locate::model_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        return Ok(format!(
            "no models installed in the model folders ({}); run scripts/setup.sh or set VSTYLE_MODELS\n",
            dirs.join(", ")
        ));
    }
    let mut table = vec![[
        "NAME".to_string(),
        "KIND".into(),
        "STYLES".into(),
        "ARCH".into(),
        "PRECISIONS".into(),
        "PATH".into(),
    ]];
    for r in &rows {
        let styles = match (r.kind.kind, r.kind.styles, r.kind.names.as_slice()) {
            ("arbitrary", _, _) => "any painting (--style IMAGE)".to_string(),
            ("single", _, [name]) => name.clone(),
            (_, Some(n), _) => n.to_string(),
            _ => "-".into(),
        };
        let kind = match r.kind.kind {
            "other" => "other (not a style network)",
            k => k,
        };
        table.push([
            r.name.clone(),
            kind.to_string(),
            styles,
            r.kind.arch.clone().unwrap_or_else(|| "-".into()),
            r.precisions.join(","),
            r.path.display().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == row.len() - 1 {
                    cell.clone()
                } else {
                    format!("{cell:w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(
        "(-m NAME runs one; vstyle --list-styles NAME shows a model's styles, vstyle --sheet PHOTO.jpg shows them all on a photo)\n",
    );
    Ok(out)
}
