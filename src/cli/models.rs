//! `--list-models`: the models found by name in the model folders, and what each is.

use std::path::Path;

use crate::error::Result;
use crate::stylize::feedforward::{ModelKind, model_kind};

/// One row of the listing.
#[derive(Debug, serde::Serialize)]
pub(super) struct Row {
    pub(super) name: String,
    #[serde(flatten)]
    pub(super) kind: ModelKind,
    pub(super) precisions: Vec<&'static str>,
    #[serde(serialize_with = "super::batch::lossy_path")]
    pub(super) path: std::path::PathBuf,
}

/// The installed models, each with what it is: style networks first (by name), then the files
/// that are not (the loss network, style predictors), which an arbitrary-style network's
/// predictor counts as whatever its signature.
///
/// # Errors
/// No ONNX Runtime library.
pub(super) fn catalogue(ort_lib: Option<&Path>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for m in crate::locate::installed() {
        let kind = match model_kind(&m.path, ort_lib) {
            Ok(k) => k,
            // A file that does not load is listed, not hidden: it shadows nothing silently.
            Err(e @ crate::Error::Runtime(_)) => return Err(e),
            Err(_) => not_a_style_network("unreadable"),
        };
        rows.push(Row {
            name: m.name,
            kind,
            precisions: m.precisions,
            path: m.path,
        });
    }
    let predictors: Vec<std::path::PathBuf> = rows
        .iter()
        .filter_map(|r| {
            let named = r.kind.predictor.as_ref()?;
            Some(r.path.parent()?.join(named))
        })
        .collect();
    for r in &mut rows {
        if predictors.contains(&r.path) {
            r.kind = not_a_style_network("other");
        }
    }
    rows.sort_by_key(|r| r.kind.kind == "other" || r.kind.kind == "unreadable");
    Ok(rows)
}

fn not_a_style_network(kind: &'static str) -> ModelKind {
    ModelKind {
        kind,
        styles: None,
        names: Vec::new(),
        arch: None,
        predictor: None,
    }
}

/// The listing of the installed models, as a table or (`json`) a JSON array. Files that are not
/// style networks (the loss network, style predictors) are listed last as `other`.
///
/// # Errors
/// No ONNX Runtime library.
pub(super) fn list(json: bool, ort_lib: Option<&Path>) -> Result<String> {
    let rows = catalogue(ort_lib)?;
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
