//! The values of an encoder's options checked before any work: `--preset`, `tune` and the other
//! `--encoder-opt` values, against what the encoder takes.

use ffmpeg::encoder;
use ffmpeg_next as ffmpeg;

/// x264's and x265's presets (`x264_preset_names`, `x265_preset_names`).
const X26X_PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];
/// x264's tunes (`x264_tune_names`; several join with commas).
const X264_TUNES: [&str; 8] = [
    "film",
    "animation",
    "grain",
    "stillimage",
    "psnr",
    "ssim",
    "fastdecode",
    "zerolatency",
];
/// x265's tunes (`x265_tune_names`).
const X265_TUNES: [&str; 6] = [
    "psnr",
    "ssim",
    "grain",
    "zerolatency",
    "fastdecode",
    "animation",
];

/// The memory x264's look-ahead may hold. Each look-ahead frame costs about 3 bytes a pixel (the
/// 4:2:0 frame and its quarter-size planes; 25 MB at 3840x2160, measured), so the presets' 40-60
/// frames hold 1-1.5 GB at 4K and four times that at 8K, more than the tiled network itself.
const X264_LOOKAHEAD_MEMORY: u64 = 256 << 20;
/// Fewest look-ahead frames the cap leaves (x264's B-frame decisions need a few).
const X264_LOOKAHEAD_MIN: u64 = 4;

/// x264's `rc-lookahead` for `preset` (`x264_presets` in x264's common/base.c), with `tune`'s
/// `zerolatency` (no look-ahead).
fn x264_preset_lookahead(preset: &str, tune: Option<&str>) -> u64 {
    if tune.is_some_and(|t| t.split([',', '+']).any(|t| t.trim() == "zerolatency")) {
        return 0;
    }
    match preset {
        "ultrafast" | "superfast" => 0,
        "veryfast" => 10,
        "faster" => 20,
        "fast" => 30,
        "medium" => 40,
        "slow" => 50,
        _ => 60,
    }
}

/// The look-ahead (frames) x264 gets for `width x height` frames when the user leaves it to
/// vstyle, or `None` to keep the preset's: at most what [`X264_LOOKAHEAD_MEMORY`] holds, so the
/// encoder's memory stops growing with the frame from about 1440p up (4K: 10 frames instead of
/// medium's 40; benches/README.md has what it costs in file size and PSNR).
pub fn x264_lookahead(preset: &str, tune: Option<&str>, width: u32, height: u32) -> Option<u64> {
    let preset_frames = x264_preset_lookahead(preset, tune);
    let per_frame = 3 * u64::from(width) * u64::from(height);
    let fits = (X264_LOOKAHEAD_MEMORY / per_frame.max(1)).max(X264_LOOKAHEAD_MIN);
    (fits < preset_frames).then_some(fits)
}

/// Checks a value of the encoder option `key` (`preset`, `tune`, or an `--encoder-opt`) against
/// encoder `codec` before any work: x264's and x265's presets and tunes by name, any option with
/// named values or a numeric range by what FFmpeg declares. Options it cannot judge pass.
///
/// # Errors
/// The problem, with the valid values.
pub fn check_encoder_option(
    codec: &str,
    key: &str,
    value: &str,
) -> std::result::Result<(), String> {
    let named: Option<&[&str]> = match (codec, key) {
        ("libx264" | "libx264rgb" | "libx265", "preset") => Some(&X26X_PRESETS),
        ("libx264" | "libx264rgb", "tune") => Some(&X264_TUNES),
        ("libx265", "tune") => Some(&X265_TUNES),
        _ => None,
    };
    if let Some(valid) = named {
        let parts: Vec<&str> = if key == "tune" && codec != "libx265" {
            value.split([',', '+']).collect()
        } else {
            vec![value]
        };
        if let Some(bad) = parts.iter().find(|p| !valid.contains(&p.trim())) {
            return Err(format!(
                "{codec} has no {key} {bad:?}; valid: {}",
                valid.join(", ")
            ));
        }
        return Ok(());
    }
    crate::init_ffmpeg();
    let Some(enc) = encoder::find_by_name(codec) else {
        return Ok(());
    };
    let Ok(name) = std::ffi::CString::new(key) else {
        return Ok(());
    };
    // SAFETY: the codec's private class is static data; FAKE_OBJ searches a pointer to it.
    unsafe {
        let class = (*enc.as_ptr()).priv_class;
        if class.is_null() {
            return Ok(());
        }
        let fake = &class as *const *const ffmpeg::ffi::AVClass as *mut std::ffi::c_void;
        let opt = ffmpeg::ffi::av_opt_find(
            fake,
            name.as_ptr(),
            std::ptr::null(),
            0,
            ffmpeg::ffi::AV_OPT_SEARCH_FAKE_OBJ,
        );
        if opt.is_null() {
            return Ok(());
        }
        let o = &*opt;
        use ffmpeg::ffi::AVOptionType as T;
        let numeric = matches!(
            o.type_,
            T::AV_OPT_TYPE_INT
                | T::AV_OPT_TYPE_INT64
                | T::AV_OPT_TYPE_FLOAT
                | T::AV_OPT_TYPE_DOUBLE
        );
        if !numeric {
            return Ok(());
        }
        // The named values of its unit.
        let mut consts = Vec::new();
        if !o.unit.is_null() {
            let unit = std::ffi::CStr::from_ptr(o.unit);
            let mut prev = std::ptr::null();
            loop {
                let next = ffmpeg::ffi::av_opt_next(fake as *const _, prev);
                if next.is_null() {
                    break;
                }
                let n = &*next;
                if n.type_ == T::AV_OPT_TYPE_CONST
                    && !n.unit.is_null()
                    && std::ffi::CStr::from_ptr(n.unit) == unit
                {
                    consts.push(
                        std::ffi::CStr::from_ptr(n.name)
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
                prev = next;
            }
        }
        if consts.iter().any(|c| c == value) {
            return Ok(());
        }
        match value.trim().parse::<f64>() {
            Ok(v) if v >= o.min && v <= o.max => Ok(()),
            _ => {
                let range = if o.min > -1e15 && o.max < 1e15 {
                    format!("{} to {}", o.min, o.max)
                } else {
                    "a number".into()
                };
                let names = if consts.is_empty() {
                    String::new()
                } else {
                    format!(" or {}", consts.join(", "))
                };
                Err(format!(
                    "{codec}: {key} {value:?} is not valid; valid: {range}{names}"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x264_lookahead_is_capped_only_where_the_preset_would_hold_more() {
        // Up to 1080p the presets keep theirs.
        assert_eq!(x264_lookahead("medium", None, 1920, 1080), None);
        assert_eq!(x264_lookahead("veryslow", None, 1280, 720), None);
        // 4K: 256 MiB at 3 bytes a pixel holds 10 frames; 8K 2, raised to the least, 4.
        assert_eq!(x264_lookahead("medium", None, 3840, 2160), Some(10));
        assert_eq!(x264_lookahead("medium", None, 7680, 4320), Some(4));
        assert_eq!(x264_lookahead("slow", None, 2560, 1440), Some(24));
        // A preset with less, or none, keeps it; so does zerolatency in any tune list.
        assert_eq!(x264_lookahead("veryfast", None, 3840, 2160), None);
        assert_eq!(x264_lookahead("ultrafast", None, 7680, 4320), None);
        assert_eq!(
            x264_lookahead("medium", Some("film,zerolatency"), 7680, 4320),
            None
        );
        assert_eq!(x264_lookahead("medium", Some("film"), 3840, 2160), Some(10));
    }
}
