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
