//! The command line's arguments: the clap definition, the value parsers, and the rewriting of
//! ffmpeg's and CUDA's habits (`-an`, `--device cuda:1`) into clap's words.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::batch::Shard;
use crate::encode::is_image_path;
use crate::runtime::Device;
use crate::stylize::feedforward::{TileMode, ValueRange};

use super::{Mode, OptimizeArgs};

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

/// The README's main commands, shown at the end of `--help`.
const EXAMPLES: &str = "\
Examples:
  vstyle --list-models                                     the models installed, by name
  vstyle input.mp4 -m scream -o out.mp4                    a video in The Scream's style, audio copied
  vstyle input.mp4 --style painting.jpg -o out.mp4         any painting, one network pass a frame
  vstyle input.mp4 --style a.jpg=0.7 --style b.jpg=0.3 -o out.mp4   a blend of two paintings
  vstyle input.mp4 -m paintings --style-name starry_night -o out.mp4   one of seven paintings
  vstyle input.mp4 -m multistyle26 --style-name 19 -o out.mp4
  vstyle input.mp4 -m multistyle26 --style-mix 3=0.7,12=0.3 -o out.mp4
  vstyle --sheet photo.jpg -o sheet.png                    every installed style on one photo
  vstyle input.mp4 -m scream --preview 6 -o preview.png    six frames, input beside output
  vstyle input.mp4 -m scream --temporal -o out.mp4         strokes that stay on moving objects
  vstyle videos/ -m scream -o styled/ -r -j 2              a folder tree, resumable
  vstyle photo.jpg --style painting.jpg --mode optimize -o out.png   optimisation (slow, closest)
  vstyle --list-styles multistyle26                        the styles a model holds";

/// Stylize videos and images with neural style transfer.
#[derive(Debug, Parser)]
#[command(name = "vstyle", version, about, max_term_width = 100, after_help = EXAMPLES)]
pub struct Args {
    /// Input videos, images or folders (several make a batch; none for a texture made from
    /// --style alone with --content-weight 0). ffmpeg's -i before an input works too; the
    /// output is named with -o.
    #[arg(value_name = "INPUT", help_heading = "Input")]
    pub inputs: Vec<PathBuf>,

    /// Take the videos and images in subfolders too (the output folder mirrors the tree).
    #[arg(short, long, help_heading = "Input")]
    pub recursive: bool,

    /// Start at this time of the input (ffmpeg's -ss, which works too: seconds, or
    /// [HH:]MM:SS[.ms]); the output,
    /// audio and subtitles included, starts there.
    #[arg(long, value_name = "TIME", value_parser = parse_time, help_heading = "Input")]
    pub start: Option<f64>,

    /// Take this much of the input (ffmpeg's -t, which works too: seconds, or [HH:]MM:SS[.ms]).
    #[arg(long, value_name = "TIME", value_parser = parse_duration, help_heading = "Input")]
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

    /// Feed-forward network (--model, or --style PAINTING alone: the arbitrary-style network)
    /// or optimisation against a style image (--mode optimize --style PAINTING) [default:
    /// feedforward, optimize when a flag of the Optimisation section is given].
    #[arg(long, value_enum, help_heading = "Style")]
    pub mode: Option<Mode>,

    /// Feed-forward style network: a path, or a name looked up in the model folders
    /// ($VSTYLE_MODELS, models/ beside the binary or in the checkout, ~/.local/share/vstyle/models;
    /// --list-models lists them).
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

    /// List the installed models (the names -m takes): kind, styles, architecture, precisions
    /// and file; with --json as JSON. Then exit.
    #[arg(long, help_heading = "Style")]
    pub list_models: bool,

    /// With --list-models: print JSON.
    #[arg(long, requires = "list_models", help_heading = "Style")]
    pub json: bool,

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
    /// Strokes keep their size in pixels, so smaller frames get coarser paintings: scream_light
    /// needs 480 or more (it warns below), scream still holds its subjects at 360.
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(16..), help_heading = "Style")]
    pub max_side: Option<u32>,

    #[command(flatten)]
    pub optimize: OptimizeArgs,

    /// Paint styles on PHOTO, each tile labelled, into one PNG (-o), instead of stylizing an
    /// input: without -m every installed model with all its styles, with -m every style of that
    /// model, with several --style each painting [default output: PHOTO_sheet.png].
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

    /// Run large frames in tiles: auto tiles a frame when the whole frame would need more than
    /// --max-memory, off never does, PIXELS always uses tiles of at most that side. The instance
    /// norms take their statistics from a thumbnail of the frame, so tiles show no seams.
    #[arg(long, value_name = "auto|off|PIXELS", default_value = "auto", value_parser = TileMode::parse, help_heading = "Performance")]
    pub tile: TileMode,

    /// Memory budget for a frame and its network calls (2G, 512M) that decides when frames run
    /// in tiles and how large [default: a quarter of the available memory, shared by the
    /// workers, at most 1G].
    #[arg(long, value_name = "SIZE", value_parser = crate::stylize::feedforward::tiled::parse_memory, help_heading = "Performance")]
    pub max_memory: Option<u64>,

    /// Longer side of the thumbnail whose instance-norm statistics every tile of a frame uses:
    /// larger is closer to the whole-frame look, and costs one network pass at that size per
    /// frame (and one at half the size, which carries the variances on to the frame's scale).
    #[arg(long, value_name = "PIXELS", default_value_t = crate::stylize::feedforward::tiled::DEFAULT_THUMBNAIL, value_parser = clap::value_parser!(u32).range(64..), help_heading = "Performance")]
    pub tile_thumbnail: u32,

    /// Share of the earlier frames in a tiled video frame's instance-norm statistics (0 to
    /// below 1): a moving average over time that starts afresh at scene cuts; 0 gives each
    /// frame its own thumbnail's statistics.
    #[arg(long, value_name = "SHARE", default_value_t = crate::stylize::feedforward::tiled::DEFAULT_SMOOTHING, value_parser = crate::stylize::feedforward::tiled::parse_smoothing, help_heading = "Performance")]
    pub tile_smoothing: f32,

    /// Frames of a tiled video that share one measurement of the instance-norm statistics, as
    /// long as they look like the frame it was made on (a cut or a camera move measures
    /// afresh); 1 measures every frame. Saves the thumbnail passes on most frames [default: 4;
    /// 1 with -j 2 or more, whose files share one network].
    #[arg(long, value_name = "FRAMES", value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Performance")]
    pub tile_refresh: Option<u32>,

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

    /// Cut one input video at key frames into N parts of about equal duration, stylize them
    /// one after the other, keeping each finished part next to the output, and join them (a
    /// run started again redoes only unfinished parts). With --shard K/N (or a scheduler's
    /// array index) only part K is made; --join then assembles the output.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000), help_heading = "Performance")]
    pub segments: Option<u32>,

    /// With --segments N: join the finished parts into the output (made by --shard K/N runs).
    #[arg(long, requires = "segments", help_heading = "Performance")]
    pub join: bool,

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

/// A length of time, more than 0 (a duration of 0 takes no frame at all).
fn parse_duration(s: &str) -> std::result::Result<f64, String> {
    match parse_time(s)? {
        0.0 => Err(format!(
            "{s:?} takes nothing of the input; give a duration above 0"
        )),
        d => Ok(d),
    }
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

pub(super) fn long_version() -> String {
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

/// The command line as ffmpeg and CUDA users type it, in clap's words: `-i INPUT` is the input,
/// `-ss`, `-t`, `-an` and `-sn` become `--start`, `--duration`, `--no-audio` and
/// `--no-subtitles`, `--device cuda:N` becomes `--device cuda --gpu N`.
pub(super) fn user_habits(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(argv.len() + 2);
    let mut after_device = false;
    for a in argv {
        let text = a.to_str().map(str::to_string);
        match text.as_deref() {
            // ffmpeg's `-i INPUT`: the input is what follows.
            Some("-i") => {}
            Some("-ss") => out.push("--start".into()),
            Some("-t") => out.push("--duration".into()),
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            user_habits(v(&["vstyle", "-ss", "1:30", "-t", "5", "-i", "in.mp4"])),
            v(&["vstyle", "--start", "1:30", "--duration", "5", "in.mp4"])
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
}
