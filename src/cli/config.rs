//! The command line checked once, before any work: every problem of the configuration (flags of
//! the other mode, a style that cannot be parsed, an unknown encoder or pixel format, flags of
//! batch mode on one file, …) is an [`Error::Usage`], exit code 2.

use super::optimize::{self, FeedForwardGiven, Mode};
use super::{Args, batch};
use crate::decode::Window;
use crate::encode::EncodeOptions;
use crate::error::{Error, Result};
use crate::pipeline::FileOptions;
use crate::stylize::Adjust;
use crate::stylize::feedforward::StyleRequest;
use crate::stylize::styles::StyleChoice;

/// What the arguments ask for, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// The style a feed-forward network paints (`StyleRequest::None` in optimisation mode).
    pub style: StyleRequest,
    /// The encoder's settings (without the record's comment, which each run adds).
    pub encode: EncodeOptions,
    /// What happens to each file's frames.
    pub file: FileOptions,
    /// What runs: a preview or sheet, a batch, or one file.
    pub run: RunKind,
}

/// The three shapes of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `--sheet` or `--preview`: one PNG.
    Preview,
    /// Folders, several inputs, or `-o` naming a folder.
    Batch,
    /// One input (or none, for a texture) to one output.
    Single,
}

impl Config {
    /// Checks the arguments as a whole.
    ///
    /// # Errors
    /// [`Error::Usage`] for any configuration problem.
    pub fn from_args(args: &Args) -> Result<Self> {
        let mode = optimize::resolve_mode(
            args.mode,
            &FeedForwardGiven {
                model: args.model.is_some(),
                max_side: args.max_side.is_some(),
                batch: args.batch != 1,
                style_choice: args.style_name.is_some() || args.style_mix.is_some(),
            },
            &args.optimize,
        )?;
        let style = match mode {
            Mode::Feedforward => style_request(args)?,
            Mode::Optimize => StyleRequest::None,
        };
        let encode = encode_options(args)?;
        let file = file_options(args);
        let run = if args.sheet.is_some() || args.preview.is_some() {
            RunKind::Preview
        } else if batch::is_batch(args) {
            RunKind::Batch
        } else {
            RunKind::Single
        };
        if run != RunKind::Preview {
            check_plan(args, mode, run)?;
        }
        Ok(Config {
            mode,
            style,
            encode,
            file,
            run,
        })
    }
}

/// The checks of a batch or single-file run.
fn check_plan(args: &Args, mode: Mode, run: RunKind) -> Result<()> {
    if args.inputs.is_empty() && args.optimize.style.is_empty() && args.model.is_none() {
        return Err(Error::Usage(
            "give an INPUT video, image or folder and a style (--model MODEL.onnx or --style IMAGE); see vstyle --help".into(),
        ));
    }
    if mode == Mode::Feedforward && args.model.is_none() && args.optimize.style.is_empty() {
        return Err(Error::Usage(
            "no style given: pass --model MODEL (vstyle --list-models lists them) or --style PAINTING.jpg".into(),
        ));
    }
    if mode == Mode::Optimize && args.optimize.style.len() > 1 {
        return Err(Error::Usage(
            "--mode optimize takes one --style image; blends of several run through the arbitrary-style network (drop --mode optimize)".into(),
        ));
    }
    if run == RunKind::Batch && args.segments.is_some() {
        return Err(Error::Usage(
            "--segments cuts one video into parts: give one input video and -o naming a file (folders and several inputs run side by side with --shard instead)".into(),
        ));
    }
    if let Some(n) = args.segments {
        for (given, flag) in [
            (args.start.is_some(), "--start"),
            (args.duration.is_some(), "--duration"),
            (args.limit.is_some(), "--limit"),
            (args.report.is_some(), "--report"),
            (mode == Mode::Optimize, "--mode optimize"),
        ] {
            if given {
                return Err(Error::Usage(format!(
                    "--segments stylizes the parts of the whole input, each on its own: it does not take {flag}"
                )));
            }
        }
        if let Some(shard) = args.shard
            && shard.count != n as usize
        {
            return Err(Error::Usage(format!(
                "--shard {shard} names a part of {} but --segments cuts {n}",
                shard.count
            )));
        }
        if args.join && args.shard.is_some() {
            return Err(Error::Usage(
                "--join assembles every part: give it without --shard".into(),
            ));
        }
    }
    if run == RunKind::Batch {
        check_inputs(args)?;
        if mode == Mode::Optimize {
            return Err(Error::Usage(
                "batch mode runs feed-forward models (--model); optimise one file at a time".into(),
            ));
        }
        if args.workers.is_some() {
            return Err(Error::Usage(
                "--workers is for one file; in batch mode -j runs files side by side on one session".into(),
            ));
        }
        if args.jobs > 1 && args.tile_refresh.is_some_and(|n| n > 1) {
            return Err(Error::Usage(
                "--tile-refresh reuses one video's statistics on its next frames, and files side by side (-j) share one network: run them one at a time (-j 1) or leave it out".into(),
            ));
        }
        if args.jobs > 1 && args.tile_smoothing > 0.0 {
            return Err(Error::Usage(
                "--tile-smoothing follows one video's frames, and files side by side (-j) share one network: run them one at a time (-j 1) or leave it at 0".into(),
            ));
        }
        if let Some(out) = &args.output
            && out.exists()
            && !out.is_dir()
        {
            return Err(Error::Usage(format!(
                "-o {out:?} is a file; with folders or several inputs -o names a folder"
            )));
        }
        return Ok(());
    }
    for (given, flag) in [
        (args.recursive, "--recursive"),
        (args.shard.is_some() && args.segments.is_none(), "--shard"),
        (args.jobs > 1, "--jobs"),
    ] {
        if given {
            return Err(Error::Usage(format!(
                "{flag} is for batch mode (folders, several inputs, or -o naming a folder)"
            )));
        }
    }
    if let Some(o) = &args.output
        && (args.suffix.is_some() || args.format.is_some())
    {
        return Err(Error::Usage(format!(
            "-o {o:?} names the output already; --suffix and --format name outputs in batch mode"
        )));
    }
    if mode == Mode::Optimize && args.workers.is_some_and(|w| w > 1) {
        return Err(Error::Usage(
            "--workers: optimisation starts each frame from the previous one, so it runs one worker".into(),
        ));
    }
    let texture_only =
        mode == Mode::Optimize && args.optimize.content_weight() == 0.0 && args.inputs.is_empty();
    if texture_only && args.optimize.style.is_empty() {
        return Err(Error::Usage(
            "a texture is made from a style image: pass --style IMAGE".into(),
        ));
    }
    if !texture_only && args.inputs.len() != 1 {
        return Err(Error::Usage(
            "no input given (only a texture, --mode optimize --content-weight 0, needs none)"
                .into(),
        ));
    }
    Ok(())
}

/// Every input of several is checked before any work: `vstyle in.jpg out.png` (ffmpeg's habit of
/// naming the output last) is refused with the way to name an output, and a named file that is
/// not there stops the run before anything is written.
fn check_inputs(args: &Args) -> Result<()> {
    if let [first, last] = args.inputs.as_slice()
        && args.output.is_none()
        && std::fs::symlink_metadata(last).is_err()
        && first.is_file()
        && crate::batch::is_media_path(last)
    {
        return Err(Error::Usage(format!(
            "{last:?} does not exist and looks like an output; to name the output use -o (vstyle {} -o {} …)",
            first.display(),
            last.display()
        )));
    }
    for input in &args.inputs {
        if std::fs::symlink_metadata(input).is_err() {
            return Err(Error::input(
                input,
                "no such file (nothing was stylized: every input is checked first)",
            ));
        }
    }
    Ok(())
}

/// The style the arguments ask a feed-forward network for.
pub(super) fn style_request(args: &Args) -> Result<StyleRequest> {
    let images = optimize::style_images(&args.optimize.style)?;
    Ok(
        match (&args.style_name, &args.style_mix, images.is_empty()) {
            (Some(name), None, true) => StyleRequest::Choice(StyleChoice::One(name.clone())),
            (None, Some(mix), true) => StyleRequest::Choice(
                StyleChoice::parse_mix(mix)
                    .map_err(|m| Error::Usage(format!("--style-mix: {m}")))?,
            ),
            (None, None, false) => StyleRequest::Images(images),
            (None, None, true) => StyleRequest::None,
            _ => {
                return Err(Error::Usage(
                    "--style-name, --style-mix and --style IMAGE each choose the style; give one"
                        .into(),
                ));
            }
        },
    )
}

/// What happens to the frames: the post-processing, the frame limit, the temporal blend.
fn file_options(args: &Args) -> FileOptions {
    FileOptions {
        adjust: Adjust {
            strength: args.strength,
            preserve_colors: args.preserve_colors,
        },
        limit: args.limit,
        temporal: args.temporal,
        temporal_motion: args.temporal_motion,
        window: (args.start.is_some() || args.duration.is_some()).then(|| Window {
            start: args.start.unwrap_or(0.0),
            duration: args.duration,
            warm_up: 0.0,
        }),
        audio: !args.no_audio,
        subtitles: !args.no_subtitles,
    }
}

/// The encoder's settings; an encoder or pixel format FFmpeg does not know is a usage error.
fn encode_options(args: &Args) -> Result<EncodeOptions> {
    crate::init_ffmpeg();
    let pixel_format = match &args.pix_fmt {
        None => None,
        Some(name) => match name.parse::<ffmpeg_next::format::Pixel>() {
            Ok(p) if p != ffmpeg_next::format::Pixel::None => Some(p),
            _ => {
                return Err(Error::Usage(format!(
                    "--pix-fmt: unknown pixel format {name:?} (see `ffmpeg -pix_fmts`)"
                )));
            }
        },
    };
    if let Some(name) = &args.codec
        && ffmpeg_next::encoder::find_by_name(name).is_none()
    {
        return Err(Error::Usage(format!(
            "--codec: unknown encoder {name:?} (see `ffmpeg -encoders`)"
        )));
    }
    // The values the encoder takes are checked before the model loads. Without --codec most
    // containers get libx264, whose names are checked (other containers ignore a preset).
    let codec = args.codec.as_deref().unwrap_or("libx264");
    let given = args
        .preset
        .iter()
        .map(|p| ("--preset".to_string(), "preset", p.as_str()))
        .chain(args.encoder_opt.iter().filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((format!("--encoder-opt {}", k.trim()), k.trim(), v))
        }));
    for (flag, key, value) in given {
        crate::encode::check_encoder_option(codec, key, value)
            .map_err(|m| Error::Usage(format!("{flag}: {m}")))?;
    }
    Ok(EncodeOptions {
        codec: args.codec.clone(),
        crf: args.crf,
        preset: args.preset.clone(),
        pixel_format,
        overwrite: args.overwrite,
        bitrate: args.bitrate,
        encoder_opts: args
            .encoder_opt
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.to_string()))
            .collect(),
        comment: None,
    })
}
