//! What made an output: the model (by content), the style and every setting that changes the
//! pixels. Its fingerprint goes into each output's metadata, so resume redoes outputs that other
//! settings made; the whole record goes into the report.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Args, optimize::Mode};
use crate::error::{Error, Result};
use crate::stylize::feedforward::{TileMode, tiled};

/// The settings that change an output's pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Record {
    pub mode: &'static str,
    /// The model file that runs (after `--precision`), and its SHA-256.
    #[serde(serialize_with = "lossy_model_path")]
    pub model: Option<PathBuf>,
    pub model_sha256: Option<String>,
    pub precision: Option<&'static str>,
    /// `--style-name`, `--style-mix`, or the style image and its SHA-256.
    pub style: Option<String>,
    pub style_image_sha256: Option<String>,
    pub strength: f32,
    pub preserve_colors: bool,
    pub max_side: Option<u32>,
    pub temporal: Option<f32>,
    /// `--temporal-motion` when not the default flow (so outputs made before it keep their
    /// fingerprints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporal_motion: Option<&'static str>,
    pub value_range: Option<String>,
    /// The part of the input that is read: `--limit` frames, `--start` and `--duration`
    /// seconds. These and the settings below that are left out when unset keep the
    /// fingerprints of outputs made before they were recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `--style-predictor`'s SHA-256, when one is named (else the model's metadata names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style_predictor_sha256: Option<String>,
    /// `-an`, `-sn`: the audio or the subtitles left out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_audio: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_subtitles: bool,
    pub codec: Option<String>,
    pub crf: Option<u32>,
    pub preset: Option<String>,
    pub pix_fmt: Option<String>,
    pub encoder_opts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u64>,
    /// Optimisation mode's flags, as given.
    pub optimize: Option<String>,
    /// Tiles as asked for: `--tile` when not auto, the thumbnail, the smoothing over time and the
    /// refresh when not the defaults (auto tiling follows the machine's memory, which is no setting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile_thumbnail: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile_smoothing: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile_refresh: Option<u32>,
}

fn lossy_model_path<S: serde::Serializer>(
    path: &Option<PathBuf>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match path {
        Some(p) => super::batch::lossy_path(p, s),
        None => s.serialize_none(),
    }
}

/// The SHA-256 of a file, in hex.
///
/// # Errors
/// An unreadable file.
pub fn sha256_file(path: &Path) -> Result<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err(Error::input(path, "is a folder")),
        Ok(m) if !m.is_file() => return Err(Error::input(path, "not a regular file")),
        _ => {}
    }
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::input(path, crate::decode::io_problem(&e)))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::input(path, format!("cannot read it ({e})")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Record {
    /// The record of this command line; `model` is the file that runs (`None` in optimisation
    /// mode) with its precision.
    ///
    /// # Errors
    /// An unreadable model or style image.
    pub fn new(args: &Args, mode: Mode, model: Option<(&Path, &'static str)>) -> Result<Self> {
        // A model that cannot be read is a model problem (exit 2), named as such.
        let model_sha256 = model
            .map(|(p, _)| {
                sha256_file(p).map_err(|e| match e {
                    Error::Input { path, message } => Error::model(path, message),
                    other => other,
                })
            })
            .transpose()?;
        let images = super::optimize::style_images(&args.optimize.style)?;
        let (style, style_image_sha256) = match (&args.style_name, &args.style_mix, &images[..]) {
            (Some(n), _, _) => (Some(n.clone()), None),
            (_, Some(m), _) => (Some(m.clone()), None),
            // One image keeps the fingerprint it always had.
            (_, _, [(img, _)]) => (Some(img.display().to_string()), Some(sha256_file(img)?)),
            (_, _, []) => (None, None),
            (_, _, several) => {
                let mut names = Vec::new();
                let mut sums = Vec::new();
                for (img, w) in several {
                    names.push(format!("{}={w}", img.display()));
                    sums.push(format!("{}={w}", sha256_file(img)?));
                }
                (Some(names.join(",")), Some(sums.join(",")))
            }
        };
        Ok(Self {
            mode: match mode {
                Mode::Feedforward => "feedforward",
                Mode::Optimize => "optimize",
            },
            model: model.map(|(p, _)| p.to_path_buf()),
            model_sha256,
            precision: model.map(|(_, p)| p),
            style,
            style_image_sha256,
            strength: args.strength,
            preserve_colors: args.preserve_colors,
            max_side: args.max_side,
            temporal: args.temporal,
            temporal_motion: (args.temporal.is_some()
                && args.temporal_motion == crate::temporal::MotionSource::Decoder)
                .then_some("decoder"),
            value_range: args.value_range.map(|r| format!("{r:?}")),
            limit: args.limit,
            // Starting at 0 is reading from the start.
            start: args.start.filter(|&s| s > 0.0),
            duration: args.duration,
            style_predictor_sha256: args
                .style_predictor
                .as_deref()
                .map(sha256_file)
                .transpose()?,
            no_audio: args.no_audio,
            no_subtitles: args.no_subtitles,
            codec: args.codec.clone(),
            crf: args.crf,
            preset: args.preset.clone(),
            pix_fmt: args.pix_fmt.clone(),
            encoder_opts: args.encoder_opt.clone(),
            bitrate: args.bitrate,
            optimize: (mode == Mode::Optimize).then(|| format!("{:?}", args.optimize)),
            tile: (args.tile != TileMode::Auto).then(|| format!("{:?}", args.tile)),
            tile_thumbnail: (args.tile_thumbnail != tiled::DEFAULT_THUMBNAIL)
                .then_some(args.tile_thumbnail),
            tile_smoothing: (args.tile_smoothing != tiled::DEFAULT_SMOOTHING)
                .then_some(args.tile_smoothing),
            tile_refresh: args
                .tile_refresh
                .filter(|&n| n != tiled::DEFAULT_REFRESH && args.jobs <= 1),
        })
    }

    /// A short fingerprint of everything but the model's path (a model moved elsewhere is the
    /// same model): 16 hex digits of the SHA-256 of the record.
    pub fn fingerprint(&self) -> String {
        let mut r = self.clone();
        r.model = None;
        if r.style_image_sha256.is_some() {
            r.style = None;
        }
        let json = serde_json::to_string(&r).expect("a record serialises");
        hex(&Sha256::digest(json.as_bytes()))[..16].to_string()
    }

    /// The text written into each output's metadata (`comment`).
    pub fn tag(&self) -> String {
        format!("{TAG_PREFIX}{}", self.fingerprint())
    }
}

/// How the tag starts, so other comments are told apart.
pub const TAG_PREFIX: &str = "vstyle settings ";

/// The fingerprint an existing output was made with, when it says: in the container's
/// comment, the video stream's (Ogg) or the program's provider (MPEG-TS). MPEG-PS and MXF carry
/// none.
pub fn fingerprint_of(output: &Path) -> Option<String> {
    // A picture's in its own comment (PNG text, JPEG comment).
    if crate::encode::is_image_path(output) {
        return crate::encode::image_tag::read(output)
            .iter()
            .find_map(|t| t.strip_prefix(TAG_PREFIX).map(str::to_string));
    }
    crate::init_ffmpeg();
    let input = crate::decode::open_input(output).ok()?;
    let ours = |text: &str| text.strip_prefix(TAG_PREFIX).map(str::to_string);
    if let Some(f) = input.metadata().get("comment").and_then(ours) {
        return Some(f);
    }
    if let Some(f) = input
        .streams()
        .best(ffmpeg_next::media::Type::Video)
        .and_then(|s| s.metadata().get("comment").and_then(ours))
    {
        return Some(f);
    }
    // SAFETY: reads the programs of an open format context; each dictionary is only borrowed
    // while `input` lives.
    unsafe {
        let ctx = input.as_ptr();
        for i in 0..(*ctx).nb_programs as usize {
            let program = *(*ctx).programs.add(i);
            let meta = ffmpeg_next::DictionaryRef::wrap((*program).metadata);
            if let Some(f) = meta.get("service_provider").and_then(ours) {
                return Some(f);
            }
        }
    }
    None
}

/// The time now as RFC 3339 UTC (`2026-11-30T06:20:00Z`).
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_019_600), "2026-11-30T06:20:00Z");
    }
}
