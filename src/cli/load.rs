//! Loading what runs: the model in the precision asked for, one network session per worker (or
//! the optimiser), and the record of what makes the outputs.

use std::path::{Path, PathBuf};

use super::config::Config;
use super::optimize::Mode;
use super::{Args, Precision, record};
use crate::error::{Error, Result};
use crate::runtime::{self, Device, SessionOptions};
use crate::stylize::Stylizer;
use crate::stylize::feedforward::{
    FeedForward, FeedForwardOptions, StyleRequest, TileOptions, tiled,
};

/// What runs: the provider, the precision and the style, for the summary line and the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    pub provider: &'static str,
    /// `fp32`, `int8`, `fp16`.
    pub precision: &'static str,
    /// The style painted, when the model says (a multi-style choice, a style image, a name).
    pub style: Option<String>,
}

impl RunInfo {
    /// "CPU, fp32" or "CPU, int8, style starry_night", for the summary line.
    pub(super) fn describe(&self) -> String {
        let mut s = format!("{}, {}", self.provider, self.precision);
        if let Some(style) = &self.style {
            s.push_str(&format!(", style {style}"));
        }
        s
    }
}

/// The networks of a run, and what they are.
pub(super) struct Loaded {
    pub(super) stylizers: Vec<Box<dyn Stylizer>>,
    pub(super) info: RunInfo,
}

/// Loads the network the arguments name (once per run, whatever the number of files); returns
/// it with what runs.
pub(super) fn load_stylizer(args: &Args, config: &Config) -> Result<(Box<dyn Stylizer>, RunInfo)> {
    let mut loaded = load_stylizers(args, &config.style, Some(1))?;
    Ok((loaded.stylizers.remove(0), loaded.info))
}

/// The options of a feed-forward network from the arguments, with `threads` per session.
pub(super) fn feedforward_options(
    args: &Args,
    threads: usize,
    style: StyleRequest,
) -> FeedForwardOptions {
    FeedForwardOptions {
        session: SessionOptions {
            device: args.device,
            threads,
            ort_lib: args.ort_lib.clone(),
        },
        batch: args.batch as usize,
        max_side: args.max_side,
        style,
        value_range: args.value_range,
        style_predictor: args.style_predictor.clone(),
        tiles: TileOptions {
            mode: args.tile,
            max_memory: args.max_memory,
            thumbnail: args.tile_thumbnail,
            smoothing: args.tile_smoothing,
            // Files side by side share one network: each frame measures its own.
            refresh: if args.jobs > 1 {
                1
            } else {
                args.tile_refresh.unwrap_or(tiled::DEFAULT_REFRESH)
            },
        },
        sessions: 1,
    }
}

/// The network that paints any painting when `--style IMAGE` comes without `--model`.
pub(super) const ARBITRARY: &str = "arbitrary";

/// The model `-m` names, resolved through the model folders; without `-m`, a `--style` painting
/// takes the installed arbitrary-style network.
pub(super) fn model_path(args: &Args) -> Result<PathBuf> {
    match &args.model {
        Some(model) => crate::locate::model(model),
        None if !args.optimize.style.is_empty() => crate::locate::model(Path::new(ARBITRARY))
            .map_err(|_| {
                Error::Usage(format!(
                    "--style runs the arbitrary-style network, and no {ARBITRARY}.onnx is installed (scripts/setup.sh fetches it); or optimise instead with --mode optimize (slow)"
                ))
            }),
        None => Err(Error::Usage("no style given: pass --model MODEL".into())),
    }
}

/// Loads one session per stylize worker. `workers: None` picks the default: one on the CPU,
/// where a session already uses every core, and two on CUDA, where a second session keeps the
/// GPU busy while the first converts and copies its frames.
pub(super) fn load_stylizers(
    args: &Args,
    style: &StyleRequest,
    workers: Option<usize>,
) -> Result<Loaded> {
    let env = runtime::environment(args.ort_lib.as_deref())?;
    let (model, precision) =
        model_in_precision(&model_path(args)?, args.precision, env, args.device)?;
    tracing::info!("model {} ({precision})", model.display());
    let cores = physical_cores();
    let wanted = workers.or(args.workers.map(|w| w as usize));
    let load = |n: usize| {
        // Workers share the cores on the CPU; on CUDA the threads only drive the GPU.
        let threads = args.threads.unwrap_or((cores / n).max(1));
        let mut opts = feedforward_options(args, threads, style.clone());
        opts.sessions = n;
        FeedForward::load(&model, &opts)
    };
    let (first, provider) = load(wanted.unwrap_or(1))?;
    let label = first.style_label().map(str::to_string);
    let n = wanted.unwrap_or(if provider == "CUDA" { 2 } else { 1 });
    let mut all: Vec<Box<dyn Stylizer>> = vec![Box::new(first)];
    for _ in 1..n {
        all.push(Box::new(load(n)?.0));
    }
    Ok(Loaded {
        stylizers: all,
        info: RunInfo {
            provider,
            precision,
            style: label,
        },
    })
}

/// The long side below which a light network's strokes swallow the subject: `scream_light` at
/// `--max-side 360` dissolves the parrots of samples/parrots.jpg into blobs, at 640 it keeps
/// them (the standard network keeps them at both).
pub(super) const LIGHT_MIN_SIDE: u32 = 480;

/// A warning when `--max-side` is below what the model needs: a light network (`vstyle.arch` =
/// `light`) under [`LIGHT_MIN_SIDE`].
pub(super) fn resolution_warning(args: &Args) -> Option<String> {
    let side = args.max_side.filter(|&s| s < LIGHT_MIN_SIDE)?;
    let model = model_path(args).ok()?;
    let kind = crate::stylize::feedforward::model_kind(&model, args.ort_lib.as_deref()).ok()?;
    (kind.arch.as_deref() == Some("light")).then(|| {
        format!(
            "{}: a light network paints strokes too large for frames under {LIGHT_MIN_SIDE} px on the long side, and --max-side {side} dissolves subjects into blobs; give a larger --max-side, or use a standard network (scream)",
            model.display()
        )
    })
}

/// What makes this run's outputs (`record::Record`): the model file that runs and every setting
/// that changes pixels.
pub(super) fn run_record(args: &Args, mode: Mode) -> Result<record::Record> {
    let model = match mode {
        Mode::Feedforward => {
            let env = runtime::environment(args.ort_lib.as_deref())?;
            Some(model_in_precision(
                &model_path(args)?,
                args.precision,
                env,
                args.device,
            )?)
        }
        Mode::Optimize => None,
    };
    record::Record::new(args, mode, model.as_ref().map(|(p, pr)| (p.as_path(), *pr)))
}

/// The files a run reads besides its inputs, each with what it is: the model as named and the
/// file that runs (after `--precision`), the style image, the style predictor, the loss network.
/// Nothing the run writes may replace them.
pub(super) fn files_read(args: &Args, record: &record::Record) -> Vec<(PathBuf, &'static str)> {
    let mut files = Vec::new();
    if let Some(model) = args.model.as_deref() {
        files.push((
            crate::locate::model(model).unwrap_or_else(|_| model.to_path_buf()),
            "the model",
        ));
    }
    if let Some(model) = &record.model {
        files.push((model.clone(), "the model"));
    }
    for (style, _) in super::optimize::style_images(&args.optimize.style).unwrap_or_default() {
        files.push((style, "the style image"));
    }
    if let Some(predictor) = &args.style_predictor {
        files.push((predictor.clone(), "the style predictor"));
    }
    if record.mode == "optimize"
        && let Ok(net) = super::optimize::loss_net(args.optimize.loss_net.as_deref())
    {
        files.push((net, "the loss network"));
    }
    files
}

/// The file of `model` in the precision asked for, and that precision's name. `auto` takes the
/// int8 sibling on the CPU when it exists (it runs about twice as fast there, at ≥ 40 dB of the
/// float32 output; `benches/README.md`), and the model as given otherwise; a model named in a
/// precision (`scream.int8.onnx`) runs as it is.
///
/// # Errors
/// An explicit precision whose sibling is missing: a usage error naming the file and the
/// command that makes it.
pub(super) fn model_in_precision(
    model: &Path,
    precision: Precision,
    env: &ort::environment::Environment,
    device: Device,
) -> Result<(PathBuf, &'static str)> {
    let named = crate::locate::precision_of(model);
    let wanted = match precision {
        Precision::Auto if named != "fp32" => return Ok((model.to_path_buf(), named)),
        Precision::Auto => {
            let int8 = crate::locate::sibling(model, "int8");
            if int8.is_file() && runtime::provider_for(env, device)? == "CPU" {
                return Ok((int8, "int8"));
            }
            return Ok((model.to_path_buf(), "fp32"));
        }
        Precision::Fp32 => "fp32",
        Precision::Int8 => "int8",
        Precision::Fp16 => "fp16",
    };
    let file = crate::locate::sibling(model, wanted);
    if !file.is_file() {
        let fp32 = crate::locate::sibling(model, "fp32");
        let how = match wanted {
            "int8" => format!(
                "python models/quantize.py {} -o {} --calib PHOTOS/",
                fp32.display(),
                file.display()
            ),
            "fp16" => format!(
                "python models/to_fp16.py {} {}",
                fp32.display(),
                file.display()
            ),
            _ => "the model's float32 file is needed".into(),
        };
        return Err(Error::Usage(format!(
            "--precision {wanted}: {:?} does not exist; make it with `{how}`",
            file
        )));
    }
    Ok((file, wanted))
}

/// Physical cores are what the network's threads scale with; hyper-threads add little.
pub(super) fn physical_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
