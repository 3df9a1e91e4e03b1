//! Every usual output container gives a file that ffprobe reads with the input's frame count,
//! the right frame rate and the input's audio (copied where the container holds it, re-encoded
//! to the container's own codec where it does not); and progress on a non-terminal is plain
//! lines at a steady interval, without escape codes.

mod support;

use std::process::{Command, Stdio};

use support::*;

/// `(codec_type, codec_name, frames read, r_frame_rate)` per stream.
fn streams(path: &std::path::Path) -> Vec<(String, String, String, String)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_type,codec_name,nb_read_frames,r_frame_rate",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // Fields come in the order ffprobe defines: codec_name, codec_type, r_frame_rate, nb_read_frames.
            let f: Vec<&str> = l.split(',').collect();
            (f[1].into(), f[0].into(), f[3].into(), f[2].into())
        })
        .collect();
    v.sort();
    v.dedup(); // MPEG-TS lists its streams once per program as well
    v
}

#[test]
fn every_usual_container_holds_every_frame_at_the_rate_with_the_audio() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    make_clip(
        &input,
        &Clip {
            frames: 20,
            codec_args: &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
            audio: true,
            ..Clip::default()
        },
    );
    // The audio codec each container ends up with: AAC copied, or its own codec.
    for (ext, audio) in [
        ("mkv", "aac"),
        ("mov", "aac"),
        ("ts", "aac"),
        ("avi", "aac"),
        ("mpg", "mp2"),
        ("ogv", "vorbis"),
        ("webm", "opus"),
    ] {
        let out = dir.path().join(format!("out.{ext}"));
        let r = vstyle!(input, "-m", model("invert.onnx"), "-o", out);
        assert_success(&r);
        let s = streams(&out);
        let video: Vec<_> = s.iter().filter(|x| x.0 == "video").collect();
        let sound: Vec<_> = s.iter().filter(|x| x.0 == "audio").collect();
        assert_eq!(video.len(), 1, "{ext}: {s:?}");
        assert_eq!(video[0].2, "20", "{ext}: every frame: {s:?}");
        assert_eq!(video[0].3, "25/1", "{ext}: the input's rate: {s:?}");
        assert_eq!(sound.len(), 1, "{ext}: the audio: {s:?}");
        assert_eq!(sound[0].1, audio, "{ext}: {s:?}");
        let e = String::from_utf8_lossy(&r.stderr);
        assert_eq!(
            e.contains("re-encoding"),
            audio != "aac",
            "{ext}: a warning exactly when the audio is re-encoded: {e}"
        );
    }
}

#[test]
fn progress_on_a_pipe_is_plain_lines_at_a_steady_interval() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mkv");
    make_clip(
        &input,
        &Clip {
            frames: 60,
            width: 160,
            height: 120,
            ..Clip::default()
        },
    );
    let r = Command::new(env!("CARGO_BIN_EXE_vstyle"))
        .arg(&input)
        .arg("-m")
        .arg(model("transformer_net.onnx"))
        .arg("-o")
        .arg(dir.path().join("out.mp4"))
        .args(["--limit", "40"])
        .env("VSTYLE_PROGRESS_SECONDS", "0.2")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{e}");
    let lines: Vec<&str> = e.lines().filter(|l| l.contains(": frame ")).collect();
    assert!(!lines.is_empty(), "progress lines: {e}");
    // The total follows --limit, and every line has a rate and an ETA.
    for l in &lines {
        assert!(
            l.contains("/40 (") && l.contains("fps") && l.contains("ETA"),
            "{l}"
        );
    }
    assert!(!e.contains('\u{1b}'), "no escape codes: {e:?}");
}

/// The settings x264 wrote into the stream (its SEI: `... rc_lookahead=40 ...`).
fn x264_setting(path: &std::path::Path, key: &str) -> String {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let at = text
        .find(&format!(" {key}="))
        .unwrap_or_else(|| panic!("no x264 {key} in {}", path.display()));
    text[at + key.len() + 2..]
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn x264_look_ahead_stops_growing_with_the_frame() {
    // Its memory grows with the frame (1 GB at 4K for medium's 40 frames): from about 1440p up
    // vstyle gives it what 256 MiB holds, unless the user sets it.
    let dir = tempfile::tempdir().unwrap();
    let cases: [(u32, u32, &[&str], &str); 4] = [
        (640, 360, &[], "40"),
        (3840, 2160, &[], "10"),
        (3840, 2160, &["--encoder-opt", "rc-lookahead=20"], "20"),
        (3840, 2160, &["--preset", "veryfast"], "10"),
    ];
    for (i, (width, height, extra, want)) in cases.into_iter().enumerate() {
        let input = dir.path().join(format!("in{i}.mkv"));
        make_clip(
            &input,
            &Clip {
                width,
                height,
                frames: 2,
                ..Clip::default()
            },
        );
        let out = dir.path().join(format!("out{i}.mp4"));
        let mut args: Vec<std::ffi::OsString> = vec![
            input.into(),
            "-m".into(),
            model("invert.onnx").into(),
            "-o".into(),
            out.clone().into(),
        ];
        args.extend(extra.iter().map(Into::into));
        let r = support::vstyle(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
        assert_success(&r);
        assert_eq!(
            x264_setting(&out, "rc_lookahead"),
            want,
            "{width}x{height} {extra:?}"
        );
    }
}
