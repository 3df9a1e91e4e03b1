//! The command line: clap arguments → a validated plan → runs → a summary and an exit code.
//!
//! One input file is the single-file mode; folders, several inputs or `-o` naming a folder are
//! batch mode (see [`crate::batch`] for the planning). Exit codes: 0 all done, 1 a file failed,
//! 2 usage error, 130 interrupted.

/// When messages use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Which of a model's precision siblings runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// int8 on the CPU when the model has an int8 sibling; otherwise the model as given.
    Auto,
    Fp32,
    Int8,
    Fp16,
}

/// Writes one line to stderr. A closed or broken stderr (`vstyle … 2>&1 | head -1`) never
/// stops the work: the line is lost, the run goes on.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod batch;
mod config;
mod optimize;
mod record;
mod render;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use crate::batch::Shard;
use crate::cancel::Cancel;
use crate::decode::Source;
use crate::encode::{EncodeOptions, is_image_path};
use crate::error::{Error, Result};
use crate::runtime::{self, Device, SessionOptions};
use crate::stylize::Stylizer;
use crate::stylize::feedforward::{FeedForward, FeedForwardOptions, StyleRequest, ValueRange};
use crate::stylize::optimize::Optimize;
use crate::stylize::styles::StyleChoice;
pub use optimize::{Mode, OptimizeArgs};

/// The README's main commands, shown at the end of `--help`.
const EXAMPLES: &str = "\
Examples:
  vstyle input.mp4 -m scream -o out.mp4                    a video in The Scream's style, audio copied
  vstyle input.mp4 -m paintings --style-name starry_night -o out.mp4
  vstyle input.mp4 -m paintings --style-mix starry_night=0.7,great_wave=0.3 -o out.mp4
  vstyle --sheet photo.jpg -m paintings -o sheet.png        every style of a model on one photo
  vstyle input.mp4 -m scream --preview 6 -o preview.png    six frames, input beside output
  vstyle input.mp4 -m scream --temporal -o out.mp4         strokes that stay on moving objects
  vstyle videos/ -m scream -o styled/ -r -j 2              a folder tree, resumable
  vstyle photo.jpg --style painting.jpg -o out.png         optimisation mode (slow, any painting)
  vstyle --list-styles paintings                           the styles a model holds";

/// Stylize videos and images with neural style transfer.
#[derive(Debug, Parser)]
#[command(name = "vstyle", version, about, max_term_width = 100, after_help = EXAMPLES)]
pub struct Args {
    /// Input videos, images or folders (several make a batch; none for a texture made from
    /// --style alone with --content-weight 0).
    #[arg(value_name = "INPUT", help_heading = "Input")]
    pub inputs: Vec<PathBuf>,

    /// Take the videos and images in subfolders too (the output folder mirrors the tree).
    #[arg(short, long, help_heading = "Input")]
    pub recursive: bool,

    /// Start at this time of the input (ffmpeg's -ss: seconds, or [HH:]MM:SS[.ms]); the output,
    /// audio and subtitles included, starts there.
    #[arg(long, value_name = "TIME", value_parser = parse_time, help_heading = "Input")]
    pub start: Option<f64>,

    /// Take this much of the input (ffmpeg's -t: seconds, or [HH:]MM:SS[.ms]).
    #[arg(long, value_name = "TIME", value_parser = parse_time, help_heading = "Input")]
    pub duration: Option<f64>,

    /// Leave the audio out (ffmpeg's -an, which works too).
    #[arg(long, help_heading = "Output")]
    pub no_audio: bool,

    /// Leave the subtitles out (ffmpeg's -sn, which works too).
    #[arg(long, help_heading = "Output")]
    pub no_subtitles: bool,

    /// Stylize only the first N frames (for quick trials).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Input")]
    pub limit: Option<u64>,

    /// Output file, or the output folder in batch mode; a file's container comes from its
    /// extension [default: INPUT_styled.EXT beside the input].
    #[arg(short, long, value_name = "PATH", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// In batch mode, keep every complete output, even one that other settings made (by
    /// default those are redone).
    #[arg(long, help_heading = "Output")]
    pub resume_any: bool,

    /// Overwrite an existing output (in batch mode: redo files whose output exists, instead of
    /// skipping them).
    #[arg(short = 'y', long, help_heading = "Output")]
    pub overwrite: bool,

    /// Added to each output's name [default: "_styled" beside the input, else none].
    #[arg(long, value_name = "TEXT", help_heading = "Output")]
    pub suffix: Option<String>,

    /// Container for video outputs (mp4, mkv, mov, webm, …) [default: the input's]; images stay
    /// images.
    #[arg(long, value_name = "EXT", value_parser = parse_format, help_heading = "Output")]
    pub format: Option<String>,

    /// Write a JSON report of the batch (every file's outcome, frames and time).
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub report: Option<PathBuf>,

    /// Video encoder by FFmpeg name (libx264, libx265, libvpx-vp9, ffv1, …) [default: libx264].
    #[arg(long, value_name = "NAME", help_heading = "Output")]
    pub codec: Option<String>,

    /// Constant rate factor for x264/x265/VPx (lower is better quality) [default: 18].
    #[arg(long, value_name = "CRF", value_parser = clap::value_parser!(u32).range(0..=63), help_heading = "Output")]
    pub crf: Option<u32>,

    /// Encoder preset for x264/x265 (ultrafast … veryslow) [default: medium].
    #[arg(long, value_name = "PRESET", help_heading = "Output")]
    pub preset: Option<String>,

    /// Target video bit rate (e.g. 4M, 800k) instead of a constant quality.
    #[arg(long, value_name = "RATE", value_parser = parse_bitrate, help_heading = "Output")]
    pub bitrate: Option<u64>,

    /// An option for the video encoder, as ffmpeg's -x264-params style key=value (repeatable:
    /// --encoder-opt tune=film --encoder-opt g=50).
    #[arg(long = "encoder-opt", value_name = "KEY=VALUE", value_parser = parse_key_value, help_heading = "Output")]
    pub encoder_opt: Vec<String>,

    /// Pixel format to encode in (yuv420p, yuv444p, gbrp, …) [default: the input's, if the encoder takes it].
    #[arg(long, value_name = "FMT", help_heading = "Output")]
    pub pix_fmt: Option<String>,

    /// Feed-forward network (--model) or optimisation against a style image (--style)
    /// [default: whichever the flags given belong to].
    #[arg(long, value_enum, help_heading = "Style")]
    pub mode: Option<Mode>,

    /// Feed-forward style network: a path, or a name looked up in the model folders
    /// ($VSTYLE_MODELS, models/ beside the binary or in the checkout, ~/.local/share/vstyle/models).
    #[arg(short, long, value_name = "MODEL", help_heading = "Style")]
    pub model: Option<PathBuf>,

    /// Style of a multi-style network, by name or index (see --list-styles).
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "style_mix",
        help_heading = "Style"
    )]
    pub style_name: Option<String>,

    /// Mix of a multi-style network's styles, NAME=WEIGHT,… (weights are normalised to sum 1).
    #[arg(long, value_name = "MIX", help_heading = "Style")]
    pub style_mix: Option<String>,

    /// Print the styles a model holds (names, paintings, credits) and exit.
    #[arg(long, value_name = "MODEL", help_heading = "Style")]
    pub list_styles: Option<PathBuf>,

    /// Pixel values the model takes and gives: 0..255 or 0..1 [default: its metadata, else 0..255].
    #[arg(long, value_name = "RANGE", value_parser = ValueRange::parse, help_heading = "Style")]
    pub value_range: Option<ValueRange>,

    /// Predictor network of an arbitrary-style model (--style IMAGE) [default: the one its
    /// metadata names, beside it].
    #[arg(long, value_name = "MODEL.onnx", help_heading = "Style")]
    pub style_predictor: Option<PathBuf>,

    /// How much of the style to apply: 1 is the network's output, 0 the input.
    #[arg(long, value_name = "0..1", default_value_t = 1.0, value_parser = parse_unit, help_heading = "Style")]
    pub strength: f32,

    /// Keep the input's colours and take only the brightness from the style.
    #[arg(long, help_heading = "Style")]
    pub preserve_colors: bool,

    /// Keep the painted texture on the moving objects: blend each frame with the previous
    /// output moved by the input's motion, where the input shows the same surface
    /// (strength 0..1 [default: 0.8 when given without a value]).
    #[arg(long, value_name = "0..1", num_args = 0..=1, default_missing_value = "0.8", value_parser = parse_unit, help_heading = "Style")]
    pub temporal: Option<f32>,

    /// Where `--temporal` takes the motion from: a flow computed from the frames, or the
    /// decoder's motion vectors where they point at the previous frame (the flow elsewhere).
    #[arg(
        long,
        value_name = "SOURCE",
        default_value = "flow",
        requires = "temporal",
        help_heading = "Style"
    )]
    pub temporal_motion: crate::temporal::MotionSource,

    /// Bound the processing resolution's longer side (the output keeps the input's size).
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(16..), help_heading = "Style")]
    pub max_side: Option<u32>,

    #[command(flatten)]
    pub optimize: OptimizeArgs,

    /// Paint every style of the model on PHOTO, each tile labelled, into one PNG (-o), instead
    /// of stylizing an input [default output: PHOTO_sheet.png].
    #[arg(long, value_name = "PHOTO", help_heading = "Preview")]
    pub sheet: Option<PathBuf>,

    /// Write N evenly spaced frames of the input video, input beside output, into one PNG (-o)
    /// instead of the video [default output: INPUT_preview.png].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Preview")]
    pub preview: Option<u32>,

    /// Where the networks run.
    #[arg(long, value_enum, default_value_t = Device::Auto, help_heading = "Performance")]
    pub device: Device,

    /// Which GPU CUDA uses, by its index among the visible ones (`--device cuda:1` says the same;
    /// `--list-devices` lists them) [default: 0].
    #[arg(long, value_name = "N", help_heading = "Performance")]
    pub gpu: Option<u32>,

    /// Numeric precision of the network: a sibling file of the model (scream.int8.onnx,
    /// scream.fp16.onnx); auto takes int8 on the CPU when it exists, else the model as given.
    #[arg(long, value_enum, default_value_t = Precision::Auto, help_heading = "Performance")]
    pub precision: Precision,

    /// Frames per network run (models with a dynamic batch dimension).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Performance")]
    pub batch: u32,

    /// Network sessions working at once [default: 1 on the CPU, 2 on CUDA].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16), help_heading = "Performance")]
    pub workers: Option<u32>,

    /// CPU threads per network session [default: all cores, shared between workers].
    #[arg(long, value_name = "N", help_heading = "Performance")]
    pub threads: Option<usize>,

    /// Files in flight at once in batch mode; they share one loaded model.
    #[arg(short, long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Performance")]
    pub jobs: u32,

    /// Run only shard K of N of the batch (0-based) [default: from $VSTYLE_SHARD, a Kubernetes
    /// indexed Job or a Slurm job array, else the whole batch].
    #[arg(long, value_name = "K/N", help_heading = "Performance")]
    pub shard: Option<Shard>,

    /// ONNX Runtime library to load [default: $ORT_DYLIB_PATH, else the one set-up installed].
    #[arg(long, value_name = "PATH", help_heading = "Performance")]
    pub ort_lib: Option<PathBuf>,

    /// Print nothing but errors.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print a completion script for a shell and exit (e.g. `vstyle --completions bash >
    /// ~/.local/share/bash-completion/completions/vstyle`).
    #[arg(long, value_name = "SHELL", value_enum, help_heading = "Information")]
    pub completions: Option<clap_complete::Shell>,

    /// Print the manual page (roff) and exit (`vstyle --manpage > vstyle.1`).
    #[arg(long, help_heading = "Information")]
    pub manpage: bool,

    /// List the execution providers this ONNX Runtime library has and which of them load here
    /// (the CPU, CUDA with its GPUs), and exit.
    #[arg(long, help_heading = "Information")]
    pub list_devices: bool,

    /// Colour in messages: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// More detail: -v logs each step and where the time went, -vv adds FFmpeg's and ONNX Runtime's logs.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn parse_unit(s: &str) -> std::result::Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// ffmpeg's time syntax: `90`, `90.5`, `1:30`, `00:01:30.5`.
fn parse_time(s: &str) -> std::result::Result<f64, String> {
    let bad = || format!("{s:?} is not a time (seconds, or [HH:]MM:SS[.ms])");
    let mut secs = 0.0;
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() > 3 {
        return Err(bad());
    }
    for p in &parts {
        let v: f64 = p.parse().map_err(|_| bad())?;
        if !v.is_finite() || v < 0.0 {
            return Err(bad());
        }
        secs = secs * 60.0 + v;
    }
    Ok(secs)
}

/// `4M`, `800k`, `2500000` → bits per second.
fn parse_bitrate(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok((v * mult).round() as u64),
        _ => Err(format!("{s:?} is not a bit rate (e.g. 4M, 800k)")),
    }
}

fn parse_key_value(s: &str) -> std::result::Result<String, String> {
    match s.split_once('=') {
        Some((k, _)) if !k.trim().is_empty() => Ok(s.to_string()),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn parse_format(s: &str) -> std::result::Result<String, String> {
    let ext = s.trim_start_matches('.').to_ascii_lowercase();
    if ext.is_empty() || !ext.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "{s:?} is not a file extension (mp4, mkv, mov, webm, …)"
        ));
    }
    if is_image_path(Path::new(&format!("x.{ext}"))) {
        return Err(format!(
            "{ext} is an image format; --format names the container for videos (images keep theirs)"
        ));
    }
    Ok(ext)
}

fn long_version() -> String {
    let v = |n: u32| format!("{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff);
    // SAFETY: plain version getters.
    let (codec, format) = unsafe {
        (
            ffmpeg_next::ffi::avcodec_version(),
            ffmpeg_next::ffi::avformat_version(),
        )
    };
    let eps = if cfg!(feature = "cuda") {
        "CPU, CUDA"
    } else {
        "CPU"
    };
    format!(
        "{}\nlibavcodec {}, libavformat {}\nONNX Runtime: loaded at run time (ort API 1.20 or newer)\nexecution providers compiled in: {eps}",
        env!("CARGO_PKG_VERSION"),
        v(codec),
        v(format)
    )
}

pub use crate::job::{Job, stylize_file};

/// The default output name for a single input: `name_styled.ext` beside it.
pub fn default_output(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let ext = input
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mp4".into());
    input.with_file_name(format!("{stem}_styled.{ext}"))
}

/// Refuses an output that would damage something: the input itself, or an existing file
/// without `-y`.
pub fn check_output(job: &Job, overwrite: bool) -> Result<()> {
    let same = match (job.input.canonicalize(), job.output.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(Error::output(
            &job.output,
            "is the input file; choose another output",
        ));
    }
    if job.output.is_dir() {
        return Err(Error::output(&job.output, "is a folder; give a file name"));
    }
    let folder = job
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(Error::output(
            &job.output,
            format!("folder {} does not exist", folder.display()),
        ));
    }
    crate::encode::check_container(&job.output)?;
    if job.output.exists() && !overwrite {
        return Err(Error::output(
            &job.output,
            "already exists (use -y to overwrite)",
        ));
    }
    Ok(())
}

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    let command = <Args as clap::CommandFactory>::command().long_version(long_version());
    let argv = user_habits(std::env::args_os().collect());
    let args = match command
        .try_get_matches_from(argv)
        .and_then(|m| <Args as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(&args);
    if let Some(gpu) = args.gpu {
        select_gpu(gpu);
    }
    if let Some(shell) = args.completions {
        let mut cmd = <Args as clap::CommandFactory>::command();
        // Into memory first: clap_complete panics on a closed stdout (`| head`).
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "vstyle", &mut script);
        let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
        return ExitCode::SUCCESS;
    }
    if args.manpage {
        let cmd = <Args as clap::CommandFactory>::command();
        let mut page = Vec::new();
        return match clap_mangen::Man::new(cmd).render(&mut page) {
            Ok(()) => {
                let _ = std::io::Write::write_all(&mut std::io::stdout(), &page);
                ExitCode::SUCCESS
            }
            Err(e) => {
                say!("error: cannot make the manual page: {e}");
                ExitCode::from(1)
            }
        };
    }
    let cancel = Cancel::new();
    install_ctrl_c(cancel.clone());
    match run(&args, &cancel) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Cancelled) => {
            say!("interrupted: no unfinished output was left behind");
            ExitCode::from(130)
        }
        // A model that is missing or does not fit is a problem of the command line, found
        // before any work: like every usage error, exit 2.
        Err(e @ (Error::Usage(_) | Error::Model { .. })) => {
            say!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            say!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The command line as ffmpeg and CUDA users type it, in clap's words: `-an` and `-sn` become
/// `--no-audio` and `--no-subtitles`, `--device cuda:N` becomes `--device cuda --gpu N`.
fn user_habits(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(argv.len() + 2);
    let mut after_device = false;
    for a in argv {
        let text = a.to_str().map(str::to_string);
        match text.as_deref() {
            Some("-an") => out.push("--no-audio".into()),
            Some("-sn") => out.push("--no-subtitles".into()),
            Some(v) if after_device && v.starts_with("cuda:") => {
                out.push("cuda".into());
                out.push("--gpu".into());
                out.push(v["cuda:".len()..].into());
            }
            Some(v) if v.starts_with("--device=cuda:") => {
                out.push("--device=cuda".into());
                out.push("--gpu".into());
                out.push(v["--device=cuda:".len()..].into());
            }
            _ => out.push(a),
        }
        after_device = text.as_deref() == Some("--device");
    }
    out
}

/// Makes GPU `index` (among the visible ones) the one CUDA uses, by narrowing
/// `CUDA_VISIBLE_DEVICES` to it before anything starts CUDA.
fn select_gpu(index: u32) {
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let chosen = match visible.as_deref().filter(|v| !v.trim().is_empty()) {
        Some(list) => list
            .split(',')
            .nth(index as usize)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| format!("{index}")),
        None => index.to_string(),
    };
    // SAFETY: called at the start of main, before any other thread of this process exists
    // (the Ctrl-C handler's thread and the pipelines start later).
    unsafe { std::env::set_var("CUDA_VISIBLE_DEVICES", chosen) };
}

fn init_logging(args: &Args) {
    let filter = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,ort=warn",
        _ => "debug,ort=info",
    };
    let ansi = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VSTYLE_LOG")
                .unwrap_or_else(|_| filter.into()),
        )
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

/// The first Ctrl-C fires `cancel`: the run drains and removes its unfinished output. The
/// second quits at once, after removing the partial files [`crate::output`] has registered.
fn install_ctrl_c(cancel: Cancel) {
    let mut presses = 0u32;
    let _ = ctrlc::set_handler(move || {
        presses += 1;
        if presses == 1 {
            cancel.cancel();
            say!(
                "\ninterrupted: finishing the frames in flight, then removing the unfinished output (Ctrl-C again to quit now)"
            );
        } else {
            crate::output::remove_registered();
            say!("interrupted again: quit now; the unfinished output was removed");
            // _exit, not exit: no atexit handlers or static destructors, which would tear ONNX
            // Runtime down under an inference still running and have it print its complaint.
            // SAFETY: _exit ends the process at once; nothing after it runs.
            unsafe { libc::_exit(130) }
        }
    });
}

/// Runs everything the arguments ask for.
///
/// # Errors
/// The first failure, as one line naming the file.
pub fn run(args: &Args, cancel: &Cancel) -> Result<()> {
    if args.list_devices {
        let env = runtime::environment(args.ort_lib.as_deref())?;
        let listing = runtime::list_devices(env);
        let _ = std::io::Write::write_all(&mut std::io::stdout(), listing.as_bytes());
        return Ok(());
    }
    if let Some(model) = &args.list_styles {
        let model = crate::locate::model(model)?;
        let listing = crate::stylize::feedforward::list_styles(
            &model,
            args.value_range,
            args.ort_lib.as_deref(),
        )?;
        let _ = std::io::Write::write_all(&mut std::io::stdout(), listing.as_bytes());
        return Ok(());
    }
    let config = config::Config::from_args(args)?;
    let mode = config.mode;
    match config.run {
        config::RunKind::Preview => return preview(args, &config, cancel),
        config::RunKind::Batch => {
            let record = run_record(args, mode)?;
            return batch::run(args, &config, cancel, &record, || {
                load_stylizer(args, &config)
            });
        }
        config::RunKind::Single => {}
    }
    // A texture needs no content: the style image stands in as the input, whose frame the
    // optimiser ignores, and the texture comes out at the processing size.
    let texture_only =
        mode == Mode::Optimize && args.optimize.content_weight() == 0.0 && args.inputs.is_empty();
    let job = if texture_only {
        let style = args
            .optimize
            .style
            .clone()
            .expect("a texture's style image was checked with the arguments");
        Job {
            output: args
                .output
                .clone()
                .unwrap_or_else(|| optimize::texture_output(&style)),
            input: style,
        }
    } else {
        let input = &args.inputs[0];
        let output = match &args.output {
            Some(o) => o.clone(),
            None if args.suffix.is_some() || args.format.is_some() => {
                let found = crate::batch::discover(std::slice::from_ref(input), false, None)?;
                let naming = crate::batch::Naming {
                    out_dir: None,
                    suffix: args.suffix.clone(),
                    format: args.format.clone(),
                };
                crate::batch::output_path(&found.found[0], &naming, false)
            }
            None => default_output(input),
        };
        Job {
            input: input.clone(),
            output,
        }
    };
    check_output(&job, args.overwrite)?;
    let report = args
        .report
        .as_deref()
        .map(batch::ReportTarget::check)
        .transpose()?;
    let started_at = record::now_utc();
    // Open the input first: a bad input is reported before the (slower) model load.
    Source::open(&job.input)?;
    let record = run_record(args, mode)?;
    let mut run_info = None;
    let (mut stylizers, provider) = match mode {
        Mode::Feedforward => {
            let loaded = load_stylizers(args, &config.style, None)?;
            let what = loaded.info.describe();
            run_info = Some(loaded.info);
            (loaded.stylizers, what)
        }
        Mode::Optimize => {
            runtime::environment(args.ort_lib.as_deref())?;
            let session = SessionOptions {
                device: args.device,
                threads: args.threads.unwrap_or_else(physical_cores),
                ort_lib: args.ort_lib.clone(),
            };
            let (opt, provider) = Optimize::load(&optimize::options(&args.optimize, session)?)?;
            (
                vec![Box::new(opt) as Box<dyn Stylizer>],
                provider.to_string(),
            )
        }
    };
    let encode = EncodeOptions {
        comment: Some(record.tag()),
        ..config.encode.clone()
    };
    let frames = config.file;
    let renderer = render::Renderer::new(args.quiet, 1);
    let result = stylize_file(
        &job,
        &mut stylizers,
        &encode,
        &frames,
        cancel,
        renderer.progress(),
    );
    if let Some(target) = &report {
        let outcome = match &result {
            Ok(s) => batch::Outcome::Done {
                frames: s.frames,
                seconds: s.seconds,
                warnings: s.warnings.clone(),
            },
            Err(Error::Cancelled) => batch::Outcome::Interrupted,
            Err(e) => batch::Outcome::Failed {
                error: e.to_string(),
            },
        };
        let seconds = result.as_ref().map_or(0.0, |s| s.seconds);
        let summary = batch::Summary::of([&outcome], seconds);
        target.write(&batch::Report {
            schema: batch::REPORT_SCHEMA,
            vstyle: env!("CARGO_PKG_VERSION"),
            started: started_at,
            finished: record::now_utc(),
            settings: &record,
            run: run_info.as_ref(),
            shard: None,
            summary: &summary,
            files: vec![batch::FileReport {
                input: &job.input,
                output: &job.output,
                outcome: &outcome,
            }],
        })?;
    }
    let stats = result?;
    for w in &stats.warnings {
        // Warnings show even with -q: they say the output may not be what was expected.
        say!("warning: {}: {w}", job.input.display());
    }
    if !args.quiet {
        let fps = stats.frames as f64 / stats.seconds.max(1e-9);
        // The provider is named here so that `--device auto` always says which one it chose.
        say!(
            "wrote {}: {} frames in {:.1} s ({fps:.2} fps on {provider})",
            job.output.display(),
            stats.frames,
            stats.seconds
        );
        tracing::info!(
            "busy time: decode {:.2} s, stylize {:.2} s, encode {:.2} s (of {:.2} s wall)",
            stats.busy.decode.as_secs_f64(),
            stats.busy.stylize.as_secs_f64(),
            stats.busy.encode.as_secs_f64(),
            stats.seconds
        );
    }
    Ok(())
}

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
    fn describe(&self) -> String {
        let mut s = format!("{}, {}", self.provider, self.precision);
        if let Some(style) = &self.style {
            s.push_str(&format!(", style {style}"));
        }
        s
    }
}

/// The networks of a run, and what they are.
struct Loaded {
    stylizers: Vec<Box<dyn Stylizer>>,
    info: RunInfo,
}

/// Loads the network the arguments name (once per run, whatever the number of files); returns
/// it with what runs.
fn load_stylizer(args: &Args, config: &config::Config) -> Result<(Box<dyn Stylizer>, RunInfo)> {
    let mut loaded = load_stylizers(args, &config.style, Some(1))?;
    Ok((loaded.stylizers.remove(0), loaded.info))
}

/// The options of a feed-forward network from the arguments, with `threads` per session.
fn feedforward_options(args: &Args, threads: usize, style: StyleRequest) -> FeedForwardOptions {
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
    }
}

/// The model `-m` names, resolved through the model folders.
fn model_path(args: &Args) -> Result<PathBuf> {
    let model = args
        .model
        .as_ref()
        .ok_or_else(|| Error::Usage("no style given: pass --model MODEL".into()))?;
    crate::locate::model(model)
}

/// Loads one session per stylize worker. `workers: None` picks the default: one on the CPU,
/// where a session already uses every core, and two on CUDA, where a second session keeps the
/// GPU busy while the first converts and copies its frames.
fn load_stylizers(args: &Args, style: &StyleRequest, workers: Option<usize>) -> Result<Loaded> {
    let env = runtime::environment(args.ort_lib.as_deref())?;
    let (model, precision) =
        model_in_precision(&model_path(args)?, args.precision, env, args.device)?;
    tracing::info!("model {} ({precision})", model.display());
    let cores = physical_cores();
    let wanted = workers.or(args.workers.map(|w| w as usize));
    let load = |n: usize| {
        // Workers share the cores on the CPU; on CUDA the threads only drive the GPU.
        let threads = args.threads.unwrap_or((cores / n).max(1));
        FeedForward::load(&model, &feedforward_options(args, threads, style.clone()))
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

/// What makes this run's outputs (`record::Record`): the model file that runs and every setting
/// that changes pixels.
fn run_record(args: &Args, mode: Mode) -> Result<record::Record> {
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

/// The file of `model` in the precision asked for, and that precision's name. `auto` takes the
/// int8 sibling on the CPU when it exists (it runs about twice as fast there, at ≥ 40 dB of the
/// float32 output; `benches/README.md`), and the model as given otherwise; a model named in a
/// precision (`scream.int8.onnx`) runs as it is.
///
/// # Errors
/// An explicit precision whose sibling is missing: a usage error naming the file and the
/// command that makes it.
fn model_in_precision(
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

/// `--sheet PHOTO` and `--preview N`: one PNG to look at before a long run.
fn preview(args: &Args, config: &config::Config, cancel: &Cancel) -> Result<()> {
    if config.mode != Mode::Feedforward || args.model.is_none() {
        return Err(Error::Usage(
            "--sheet and --preview show a feed-forward model's styles: pass --model MODEL".into(),
        ));
    }
    let (what, default_out) = match (&args.sheet, args.preview, args.inputs.as_slice()) {
        (Some(photo), None, []) => (photo, suffixed(photo, "_sheet", "png")),
        (None, Some(_), [input]) => (input, suffixed(input, "_preview", "png")),
        (Some(_), Some(_), _) => {
            return Err(Error::Usage("--sheet and --preview: give one".into()));
        }
        (Some(_), None, _) => {
            return Err(Error::Usage(
                "--sheet takes its photo as its value (vstyle --sheet photo.jpg -m MODEL -o sheet.png); give no other input".into(),
            ));
        }
        _ => {
            return Err(Error::Usage(
                "--preview N takes one input video (vstyle clip.mp4 -m MODEL --preview 6 -o preview.png)"
                    .into(),
            ));
        }
    };
    let job = Job {
        input: what.clone(),
        output: args.output.clone().unwrap_or(default_out),
    };
    if job
        .output
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("png"))
    {
        return Err(Error::Usage(format!(
            "{:?}: the sheet and the preview are PNG pictures; name the output NAME.png",
            job.output
        )));
    }
    check_output(&job, args.overwrite)?;
    Source::open(&job.input)?;
    let env = runtime::environment(args.ort_lib.as_deref())?;
    let (model, precision) =
        model_in_precision(&model_path(args)?, args.precision, env, args.device)?;
    let mut style = config.style.clone();
    if args.sheet.is_some() && style == StyleRequest::None {
        // The sheet paints every style; the first one only gets the network loaded.
        style = StyleRequest::Choice(StyleChoice::One("0".into()));
    }
    let threads = args.threads.unwrap_or_else(physical_cores);
    let (mut network, provider) =
        FeedForward::load(&model, &feedforward_options(args, threads, style.clone()))?;
    let started = Instant::now();
    let shown = if args.sheet.is_some() {
        let side = args.max_side.unwrap_or(crate::preview::SHEET_TILE);
        let n = crate::preview::contact_sheet(&job.input, &mut network, side, &job.output)?;
        format!("{n} style(s)")
    } else {
        let n = crate::preview::video_preview(
            &job.input,
            &mut network,
            args.preview.unwrap_or(1) as usize,
            &job.output,
            cancel,
        )?;
        format!("{n} frame(s), input beside output")
    };
    if !args.quiet {
        say!(
            "wrote {}: {shown} in {:.1} s (on {provider}, {precision})",
            job.output.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `dir/stem{suffix}.{ext}` beside `path`.
fn suffixed(path: &Path, suffix: &str, ext: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!("{stem}{suffix}.{ext}"))
}

/// Physical cores are what the network's threads scale with; hyper-threads add little.
fn physical_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_output_sits_beside_the_input() {
        assert_eq!(
            default_output(Path::new("a/b/clip.mov")),
            Path::new("a/b/clip_styled.mov")
        );
        assert_eq!(
            default_output(Path::new("photo.jpg")),
            Path::new("photo_styled.jpg")
        );
    }

    #[test]
    fn ffmpeg_and_cuda_habits_become_clap_flags() {
        let v = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            user_habits(v(&["vstyle", "in.mp4", "-an", "--device", "cuda:1"])),
            v(&[
                "vstyle",
                "in.mp4",
                "--no-audio",
                "--device",
                "cuda",
                "--gpu",
                "1"
            ])
        );
        assert_eq!(
            user_habits(v(&["vstyle", "--device=cuda:2", "-sn"])),
            v(&["vstyle", "--device=cuda", "--gpu", "2", "--no-subtitles"])
        );
        // A file named cuda:1 stays a file when it is not --device's value.
        assert_eq!(
            user_habits(v(&["vstyle", "cuda:1"])),
            v(&["vstyle", "cuda:1"])
        );
    }

    #[test]
    fn strength_outside_zero_to_one_is_a_usage_error() {
        assert!(parse_unit("0.5").is_ok());
        assert!(parse_unit("1.5").is_err());
        assert!(parse_unit("x").is_err());
    }

    #[test]
    fn an_output_equal_to_the_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        std::fs::write(&p, b"x").unwrap();
        let job = Job {
            input: p.clone(),
            output: dir.path().join(".").join("a.mp4"),
        };
        let e = check_output(&job, true).unwrap_err().to_string();
        assert!(e.contains("is the input file"), "{e}");
        let job = Job {
            input: dir.path().join("b.mp4"),
            output: p,
        };
        assert!(
            check_output(&job, false)
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
    }
}
