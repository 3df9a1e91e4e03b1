//! Shared helpers for the integration tests: fixture clips made at test time with the `ffmpeg`
//! command, frame dumps read back with it, and a runner for the real `vstyle` binary.

#![allow(dead_code)] // each test file uses a different subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The committed test models (see tests/data/README.md).
pub fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The pattern of frame `index`: every pixel depends on its position and on the index, so both
/// a wrong pixel and a wrong frame order show up exactly.
pub fn pattern(index: u32, width: u32, height: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            v.push(((x * 7 + index * 31) % 256) as u8);
            v.push(((y * 5 + index * 17) % 256) as u8);
            v.push(((x + y + index * 53) % 256) as u8);
        }
    }
    v
}

/// A smooth pattern (for checks through resampling): gentle ramps plus a per-frame offset.
pub fn smooth_pattern(index: u32, width: u32, height: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            v.push((40 + x * 150 / width.max(1)) as u8);
            v.push((40 + y * 150 / height.max(1)) as u8);
            v.push((40 + (index * 10) % 150) as u8);
        }
    }
    v
}

/// How a fixture clip is made.
pub struct Clip<'a> {
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub rate: &'a str,
    /// Extra output arguments for ffmpeg (codec, pixel format, …).
    pub codec_args: &'a [&'a str],
    pub audio: bool,
    /// A `setpts` expression for variable frame rate clips.
    pub setpts: Option<&'a str>,
    pub smooth: bool,
}

impl Default for Clip<'_> {
    fn default() -> Self {
        Self {
            width: 64,
            height: 48,
            frames: 10,
            rate: "25",
            codec_args: &["-c:v", "ffv1", "-pix_fmt", "bgr0"],
            audio: false,
            setpts: None,
            smooth: false,
        }
    }
}

/// Writes the clip to `path` (container from the extension).
pub fn make_clip(path: &Path, clip: &Clip) {
    let (w, h) = (clip.width, clip.height);
    if clip.smooth {
        make_clip_of(path, clip, |i| smooth_pattern(i, w, h));
    } else {
        make_clip_of(path, clip, |i| pattern(i, w, h));
    }
}

/// Writes the clip to `path` with frame `i` from `frame(i)` (packed RGB24), whatever
/// `clip.smooth` says.
pub fn make_clip_of(path: &Path, clip: &Clip, frame: impl Fn(u32) -> Vec<u8>) {
    let size = format!("{}x{}", clip.width, clip.height);
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        &size,
        "-r",
        clip.rate,
        "-i",
        "-",
    ]);
    if clip.audio {
        cmd.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
    }
    if let Some(expr) = clip.setpts {
        cmd.args(["-vf", &format!("setpts={expr}"), "-fps_mode", "passthrough"]);
    }
    cmd.args(clip.codec_args);
    if clip.audio {
        cmd.args(["-c:a", "aac", "-b:a", "64k", "-shortest"]);
    }
    cmd.arg(path).stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("ffmpeg runs");
    {
        let mut stdin = child.stdin.take().unwrap();
        for i in 0..clip.frames {
            stdin.write_all(&frame(i)).unwrap();
        }
    }
    assert!(
        child.wait().unwrap().success(),
        "ffmpeg made {}",
        path.display()
    );
}

/// Decodes every frame of `path` to packed RGB24 (upright: ffmpeg applies rotation by default
/// unless `autorotate` is false).
pub fn read_frames(path: &Path, width: u32, height: u32, autorotate: bool) -> Vec<Vec<u8>> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-loglevel", "error"]);
    if !autorotate {
        cmd.arg("-noautorotate");
    }
    let out = cmd
        .arg("-i")
        .arg(path)
        .args([
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-fps_mode",
            "passthrough",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "decode {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let n = (width * height * 3) as usize;
    assert_eq!(out.stdout.len() % n, 0, "whole frames of {width}x{height}");
    out.stdout.chunks(n).map(<[u8]>::to_vec).collect()
}

/// One line per stream/packet/frame from ffprobe, as `key=value|…`.
pub fn probe(path: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .args(["-of", "compact=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The presentation timestamps (seconds) of the video frames of `path`.
pub fn video_pts(path: &Path) -> Vec<f64> {
    probe(
        path,
        &["-select_streams", "v:0", "-show_entries", "frame=pts_time"],
    )
    .lines()
    .filter_map(|l| {
        l.trim()
            .strip_prefix("pts_time=")
            .or(Some(l.trim()))
            .and_then(|v| v.parse().ok())
    })
    .collect()
}

/// Runs the vstyle binary with `args`, a clean environment and no terminal.
pub fn vstyle(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vstyle"))
        .args(args)
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("VSTYLE_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("vstyle runs")
}

/// `vstyle` with string-like arguments.
#[macro_export]
macro_rules! vstyle {
    ($($a:expr),* $(,)?) => {
        $crate::support::vstyle(&[$(::std::convert::AsRef::<::std::ffi::OsStr>::as_ref(&$a)),*])
    };
}

/// Largest per-byte difference between two images.
pub fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

pub fn inverted(v: &[u8]) -> Vec<u8> {
    v.iter().map(|b| 255 - b).collect()
}

/// Files in `dir` (names only), sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Asserts that a run succeeded, showing its stderr when it did not.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "vstyle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The temporary output (`STEM.partial-HOST-PID.EXT`) of a run in `dir`, if there is one.
pub fn partial_in(dir: &Path, stem: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{stem}.partial")))
        })
}
