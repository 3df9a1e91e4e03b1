//! The optimisation mode's part of the command line: its flags, which mode a command line asks
//! for, and the checks that keep each mode's flags out of the other.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::runtime::SessionOptions;
use crate::stylize::optimize::{Init, OptimizeOptions, Pool, VideoStart};

/// Measured on faces, landscapes, architecture and a low-resolution video frame
/// (docs/optimize.md): from 10 up the subject goes (faces lose their mouth and nose, and the face
/// detector no longer finds them), at 3 faces stay recognisable and the content loss at conv_4 is
/// the feed-forward network's while the style loss is 30 to 80 times below the photo's. (The
/// seed's 1e6 on its normalised VGG19 would be about 300 here.)
pub const DEFAULT_STYLE_WEIGHT: f32 = 3.0;

/// Without it flat areas fill with a pixel checkerboard of saturated colours; 30 takes it down to
/// the photo's own level at a few per cent of the style loss (docs/optimize.md has the sweep).
pub const DEFAULT_TV_WEIGHT: f32 = 30.0;

/// Weight of the temporal term for video frames after the first. Measured on real clips
/// (benches/optimize_video.sh, docs/optimize.md): 300 keeps the style within a tenth of frames
/// optimised on their own and the warping error below the input's where the input moves; 1000
/// and more steady slightly more but cost up to a quarter of the style on a faster-moving clip.
pub const DEFAULT_TEMPORAL_WEIGHT: f32 = 300.0;

/// Which stylizer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One pass of a trained network per frame (`--model`, or `--style` alone): fast.
    Feedforward,
    /// Gatys optimisation of every frame against a style image (`--mode optimize --style`):
    /// slow, needs no trained network; also texture synthesis and content reconstruction.
    Optimize,
}

/// The loss network set-up prepares in the models folder (see `models/README.md`).
const LOSS_NET: &str = "vgg16_features.onnx";

/// Flags of `--mode optimize`. All are options without clap defaults, so that a flag given in
/// the other mode can be told from one left out; the defaults are applied in `options`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OptimizeArgs {
    /// A painting whose style to paint. Alone it runs the arbitrary-style network (fast, any
    /// painting); with --mode optimize (or another flag of this section) each frame is optimised
    /// against it (slow). Repeat it to blend paintings, with weights as IMAGE=WEIGHT
    /// (--style a.jpg=0.7 --style b.jpg=0.3; normalised to sum 1).
    #[arg(long, value_name = "IMAGE", help_heading = "Style")]
    pub style: Vec<PathBuf>,

    /// Loss network prepared by models/prepare_vgg.py [default: models/vgg16_features.onnx].
    #[arg(long, value_name = "PATH", help_heading = "Optimisation")]
    pub loss_net: Option<PathBuf>,

    /// Layer whose features the result shares with the content [default: conv_4].
    #[arg(long, value_name = "LAYER", help_heading = "Optimisation")]
    pub content_layer: Option<String>,

    /// Layers whose Gram matrices the result shares with the style [default: conv_1,…,conv_5].
    #[arg(
        long,
        value_name = "LAYERS",
        value_delimiter = ',',
        help_heading = "Optimisation"
    )]
    pub style_layers: Option<Vec<String>>,

    /// Weight of the content loss; 0 synthesises a texture [default: 1].
    #[arg(long, value_name = "W", value_parser = parse_weight, help_heading = "Optimisation")]
    pub content_weight: Option<f32>,

    /// Weight of the style loss; 0 reconstructs the content [default: 3, which keeps faces; see
    /// docs/optimize.md].
    #[arg(long, value_name = "W", value_parser = parse_weight, help_heading = "Optimisation")]
    pub style_weight: Option<f32>,

    /// Weight of the total-variation loss, which keeps flat areas free of pixel noise [default: 30].
    #[arg(long, value_name = "W", value_parser = parse_weight, help_heading = "Optimisation")]
    pub tv_weight: Option<f32>,

    /// Style image's long side relative to the content's: below 1 gives finer strokes [default: 1,
    /// the style image at least 384 px].
    #[arg(long, value_name = "S", value_parser = parse_scale, help_heading = "Optimisation")]
    pub style_scale: Option<f32>,

    /// Video: weight of the temporal loss tying each frame to the previous result moved by the
    /// input's motion; 0 leaves it out [default: 300].
    #[arg(long, value_name = "W", value_parser = parse_weight, help_heading = "Optimisation")]
    pub temporal_weight: Option<f32>,

    /// Video: where frames after the first start: the previous result moved by the input's
    /// motion, that result unmoved, or each frame on its own [default: warped].
    #[arg(long, value_enum, value_name = "START", help_heading = "Optimisation")]
    pub video_start: Option<VideoStart>,

    /// L-BFGS iterations for an image or a video's first frame [default: 300].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Optimisation")]
    pub steps: Option<u32>,

    /// L-BFGS iterations for each later video frame, which starts from the previous result [default: 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..), help_heading = "Optimisation")]
    pub steps_next: Option<u32>,

    /// Starting image [default: content for style transfer, noise when a weight is 0].
    #[arg(long, value_enum, help_heading = "Optimisation")]
    pub init: Option<Init>,

    /// Seed of the starting noise [default: 0].
    #[arg(long, value_name = "N", help_heading = "Optimisation")]
    pub seed: Option<u64>,

    /// Processing resolution's longer side; textures come out this size [default: 512 on CUDA, 256 on the CPU].
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(16..), help_heading = "Optimisation")]
    pub size: Option<u32>,

    /// Pooling in the loss network: max (as trained) or avg (smoother, as Gatys et al.) [default: max].
    #[arg(long, value_enum, help_heading = "Optimisation")]
    pub pool: Option<Pool>,
}

fn parse_scale(s: &str) -> std::result::Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && (0.05..=8.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a scale (0.05 to 8)"))
    }
}

fn parse_weight(s: &str) -> std::result::Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a weight (0 or more)"))
    }
}

impl OptimizeArgs {
    /// The flags given, as the user wrote them.
    pub fn given(&self) -> Vec<&'static str> {
        let Self {
            style,
            loss_net,
            content_layer,
            style_layers,
            content_weight,
            style_weight,
            tv_weight,
            style_scale,
            temporal_weight,
            video_start,
            steps,
            steps_next,
            init,
            seed,
            size,
            pool,
        } = self;
        [
            (!style.is_empty(), "--style"),
            (loss_net.is_some(), "--loss-net"),
            (content_layer.is_some(), "--content-layer"),
            (style_layers.is_some(), "--style-layers"),
            (content_weight.is_some(), "--content-weight"),
            (style_weight.is_some(), "--style-weight"),
            (tv_weight.is_some(), "--tv-weight"),
            (style_scale.is_some(), "--style-scale"),
            (temporal_weight.is_some(), "--temporal-weight"),
            (video_start.is_some(), "--video-start"),
            (steps.is_some(), "--steps"),
            (steps_next.is_some(), "--steps-next"),
            (init.is_some(), "--init"),
            (seed.is_some(), "--seed"),
            (size.is_some(), "--size"),
            (pool.is_some(), "--pool"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name))
        .collect()
    }

    pub fn content_weight(&self) -> f32 {
        self.content_weight.unwrap_or(1.0)
    }

    pub fn style_weight(&self) -> f32 {
        self.style_weight.unwrap_or(DEFAULT_STYLE_WEIGHT)
    }
}

/// The style images of `--style`, each with its weight: `a.jpg`, or `a.jpg=0.7` when no file
/// of that whole name exists.
///
/// # Errors
/// A weight that is not a number of 0 or more.
pub fn style_images(given: &[PathBuf]) -> Result<Vec<(PathBuf, f32)>> {
    given
        .iter()
        .map(|p| {
            let text = p.to_string_lossy();
            match text.rsplit_once('=') {
                Some((path, weight)) if !p.exists() && !path.is_empty() => {
                    match weight.trim().parse::<f32>() {
                        Ok(w) if w.is_finite() && w >= 0.0 => Ok((PathBuf::from(path), w)),
                        _ => Err(Error::Usage(format!(
                            "--style {text}: {weight:?} is not a weight (IMAGE=WEIGHT, a number of 0 or more)"
                        ))),
                    }
                }
                _ => Ok((p.clone(), 1.0)),
            }
        })
        .collect()
}

/// The line that says which route paints a `--style` painting and how to take the other, when
/// the command line left the choice to vstyle (no `--mode`, no `--model`).
pub fn route_note(args: &super::Args, mode: Mode) -> Option<String> {
    if args.optimize.style.is_empty() || args.mode.is_some() || args.model.is_some() {
        return None;
    }
    Some(match mode {
        Mode::Feedforward => "note: --style runs the arbitrary-style network (fast, one pass a frame); --mode optimize optimises each frame against the painting instead (closer to it, about a minute a frame on a CPU)".into(),
        Mode::Optimize => {
            let others: Vec<&str> = args
                .optimize
                .given()
                .into_iter()
                .filter(|f| *f != "--style")
                .collect();
            format!(
                "note: {} {} --mode optimize: each frame is optimised against the painting (slow); --style alone runs the arbitrary-style network, one pass a frame",
                others.join(", "),
                if others.len() == 1 { "implies" } else { "imply" }
            )
        }
    })
}

/// The feed-forward mode's flags that were given (`batch` is given when it is not 1).
pub struct FeedForwardGiven {
    pub model: bool,
    pub max_side: bool,
    pub batch: bool,
    /// `--style-name` or `--style-mix`.
    pub style_choice: bool,
}

/// The mode a command line asks for: `--mode` when given, else optimisation when any of its
/// flags is given, else feed-forward. A flag of the other mode is an error, never ignored.
/// `--style IMAGE` alone is feed-forward: an arbitrary-style network takes the style image
/// (`--model`'s, by default the installed `arbitrary`; a model that takes none says so).
///
/// # Errors
/// Flags of both modes, or of the mode not chosen.
pub fn resolve_mode(mode: Option<Mode>, ff: &FeedForwardGiven, opt: &OptimizeArgs) -> Result<Mode> {
    let opt_given = opt.given();
    // A painting alone is the arbitrary-style network's (`--model` names which network, by
    // default `arbitrary`); the optimiser is `--mode optimize`, or implied by its other flags.
    if opt_given == ["--style"] && mode != Some(Mode::Optimize) {
        return Ok(Mode::Feedforward);
    }
    let ff_given: Vec<&str> = [
        (ff.model, "--model"),
        (ff.max_side, "--max-side"),
        (ff.batch, "--batch"),
        (ff.style_choice, "--style-name/--style-mix"),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect();
    let mode = mode.unwrap_or(if opt_given.is_empty() {
        Mode::Feedforward
    } else {
        Mode::Optimize
    });
    match mode {
        Mode::Feedforward if !opt_given.is_empty() => Err(Error::Usage(format!(
            "{} {} only for --mode optimize",
            opt_given.join(", "),
            if opt_given.len() == 1 { "is" } else { "are" }
        ))),
        Mode::Optimize if !ff_given.is_empty() => {
            let hint = if ff.max_side {
                " (optimisation mode sets its resolution with --size)"
            } else if ff.model {
                " (optimisation mode takes a style image: --style IMAGE)"
            } else {
                ""
            };
            Err(Error::Usage(format!(
                "{} {} only for --mode feedforward{hint}",
                ff_given.join(", "),
                if ff_given.len() == 1 { "is" } else { "are" }
            )))
        }
        m => Ok(m),
    }
}

/// The loss network to use: `--loss-net`, else `vgg16_features.onnx` in the model folders (see
/// [`crate::locate`]: the package's `models/`, where set-up prepares it, and the user data folder).
///
/// # Errors
/// No candidate exists; the message says how to prepare it.
pub fn loss_net(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    crate::locate::find_model_file(LOSS_NET).ok_or_else(|| {
        let tried: Vec<String> = crate::locate::model_dirs()
            .iter()
            .map(|p| p.join(LOSS_NET).display().to_string())
            .collect();
        Error::Usage(format!(
            "no loss network found (tried {}); run `python models/prepare_vgg.py` (see models/README.md) or pass --loss-net",
            tried.join(", ")
        ))
    })
}

/// Resolves the flags into the stylizer's options.
///
/// # Errors
/// No loss network found.
pub fn options(args: &OptimizeArgs, session: SessionOptions) -> Result<OptimizeOptions> {
    let content_weight = args.content_weight();
    let style_weight = args.style_weight();
    Ok(OptimizeOptions {
        session,
        loss_net: loss_net(args.loss_net.as_deref())?,
        style: args.style.first().cloned(),
        content_layer: args
            .content_layer
            .clone()
            .unwrap_or_else(|| "conv_4".into()),
        style_layers: args
            .style_layers
            .clone()
            .unwrap_or_else(|| (1..=5).map(|k| format!("conv_{k}")).collect()),
        content_weight,
        style_weight,
        tv_weight: args.tv_weight.unwrap_or(DEFAULT_TV_WEIGHT),
        temporal_weight: args.temporal_weight.unwrap_or(DEFAULT_TEMPORAL_WEIGHT),
        style_scale: args.style_scale,
        steps: args.steps.unwrap_or(300),
        steps_next: args.steps_next.unwrap_or(100),
        video_start: args.video_start.unwrap_or_default(),
        // Style transfer starts from the content, as the seed did; with only one of the two
        // losses, starting there would leave nothing (reconstruction) or keep the content's
        // layout (texture), so those start from noise.
        init: args
            .init
            .unwrap_or(if content_weight > 0.0 && style_weight > 0.0 {
                Init::Content
            } else {
                Init::Noise
            }),
        seed: args.seed.unwrap_or(0),
        size: args.size,
        pool: args.pool.unwrap_or_default(),
    })
}

/// The default output of a texture made from `style` alone: `name_texture.png` beside it.
pub fn texture_output(style: &Path) -> PathBuf {
    let stem = style
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "style".into());
    style.with_file_name(format!("{stem}_texture.png"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: FeedForwardGiven = FeedForwardGiven {
        model: false,
        max_side: false,
        batch: false,
        style_choice: false,
    };

    #[test]
    fn the_mode_follows_the_flags_when_not_named() {
        let style = OptimizeArgs {
            style: vec!["s.jpg".into()],
            ..Default::default()
        };
        // A painting alone takes the fast network; the optimiser is asked for by name or by
        // one of its own flags.
        assert_eq!(
            resolve_mode(None, &NONE, &style).unwrap(),
            Mode::Feedforward
        );
        let steps = OptimizeArgs {
            steps: Some(10),
            ..style.clone()
        };
        assert_eq!(resolve_mode(None, &NONE, &steps).unwrap(), Mode::Optimize);
        assert_eq!(
            resolve_mode(Some(Mode::Optimize), &NONE, &style).unwrap(),
            Mode::Optimize
        );
        assert_eq!(
            resolve_mode(None, &NONE, &OptimizeArgs::default()).unwrap(),
            Mode::Feedforward
        );
        let reconstruct = OptimizeArgs {
            style_weight: Some(0.0),
            ..Default::default()
        };
        assert_eq!(
            resolve_mode(Some(Mode::Optimize), &NONE, &reconstruct).unwrap(),
            Mode::Optimize
        );
    }

    #[test]
    fn a_flag_of_the_other_mode_is_refused_by_name() {
        let steps = OptimizeArgs {
            steps: Some(10),
            tv_weight: Some(1.0),
            ..Default::default()
        };
        let e = resolve_mode(Some(Mode::Feedforward), &NONE, &steps)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--tv-weight, --steps are only for --mode optimize"),
            "{e}"
        );
        let model = FeedForwardGiven {
            model: true,
            ..NONE
        };
        let style = OptimizeArgs {
            style: vec!["s.jpg".into()],
            ..Default::default()
        };
        // A model with only a style image: an arbitrary-style network's feed-forward run.
        assert_eq!(
            resolve_mode(None, &model, &style).unwrap(),
            Mode::Feedforward
        );
        let e = resolve_mode(Some(Mode::Optimize), &model, &style)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--model is only for --mode feedforward"), "{e}");
        let max_side = FeedForwardGiven {
            max_side: true,
            ..NONE
        };
        let e = resolve_mode(Some(Mode::Optimize), &max_side, &OptimizeArgs::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--size"), "{e}");
    }

    #[test]
    fn defaults_follow_the_seed_and_pick_the_start_by_experiment() {
        let session = SessionOptions {
            device: crate::runtime::Device::Cpu,
            threads: 1,
            ort_lib: None,
        };
        let args = OptimizeArgs {
            loss_net: Some("vgg.onnx".into()),
            ..Default::default()
        };
        let o = options(&args, session.clone()).unwrap();
        assert_eq!(o.content_layer, "conv_4");
        assert_eq!(o.style_layers.len(), 5);
        assert_eq!(
            (o.content_weight, o.style_weight, o.tv_weight),
            (1.0, DEFAULT_STYLE_WEIGHT, DEFAULT_TV_WEIGHT)
        );
        assert_eq!(
            (o.temporal_weight, o.style_scale, o.video_start),
            (DEFAULT_TEMPORAL_WEIGHT, None, VideoStart::Warped)
        );
        assert_eq!((o.steps, o.init), (300, Init::Content));
        let texture = OptimizeArgs {
            content_weight: Some(0.0),
            ..args
        };
        assert_eq!(options(&texture, session).unwrap().init, Init::Noise);
        assert!(parse_weight("-1").is_err() && parse_weight("inf").is_err());
        assert_eq!(
            texture_output(Path::new("a/scream.jpg")),
            Path::new("a/scream_texture.png")
        );
    }
}
