//! One input in parts (`--segments N`): made in one process or one part per process
//! (`--shard K/N`) and joined (`--join`), the output equals a one-pass run's: the same frames
//! (a lossless codec), timestamps, duration and audio. A run started again keeps the parts it
//! finished; bad plans are refused before any work and nothing is written under the output's
//! name.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A 6 s clip of `size` at 25 fps with a key frame every second (H.264) and a tone (AAC).
fn clip(dir: &Path, size: &str) -> PathBuf {
    let p = dir.join("in.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t", "6", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p",
        ])
        .args(["-c:a", "aac", "-shortest"])
        .arg(&p)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    p
}

/// ffmpeg's `framemd5` lines of one stream kind ("v" or "a"): timestamps, sizes and hashes of
/// every decoded frame.
fn framemd5(path: &Path, stream: &str) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", &format!("0:{stream}"), "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn duration(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// vstyle on `input` with `model` into `out` in FFV1, with `args` besides.
fn ffv1(input: &Path, model: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    let mut a: Vec<&std::ffi::OsStr> = vec![input.as_os_str(), "-m".as_ref(), model.as_os_str()];
    a.extend(["--codec", "ffv1", "-o"].map(std::ffi::OsStr::new));
    a.push(out.as_os_str());
    a.extend(args.iter().map(std::ffi::OsStr::new));
    vstyle(&a)
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part-") || n.contains("partial"))
        .collect()
}

#[test]
fn parts_in_one_process_and_one_per_shard_join_into_the_one_pass_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "160x120");
    let m = model("invert.onnx");
    let run = |out: &Path, extra: &[&str]| {
        let r = ffv1(&input, &m, out, extra);
        assert_success(&r);
        stderr(&r)
    };
    let one = dir.path().join("one.mkv");
    run(&one, &[]);
    let seg = dir.path().join("seg.mkv");
    let said = run(&seg, &["--segments", "3"]);
    assert!(
        said.contains("starting at 0.00 s, 2.00 s, 4.00 s"),
        "{said}"
    );
    let shard = dir.path().join("shard.mkv");
    for k in 0..3 {
        run(&shard, &["--segments", "3", "--shard", &format!("{k}/3")]);
        assert!(!shard.exists(), "a shard makes its part only");
    }
    assert_eq!(
        leftovers(dir.path()).len(),
        3,
        "{:?}",
        leftovers(dir.path())
    );
    run(&shard, &["--segments", "3", "--join"]);
    let (video, audio) = (framemd5(&one, "v"), framemd5(&one, "a"));
    assert_eq!(video.len(), 150);
    assert!(audio.len() > 100);
    for out in [&seg, &shard] {
        assert_eq!(
            framemd5(out, "v"),
            video,
            "{}: frames and timestamps",
            out.display()
        );
        assert_eq!(framemd5(out, "a"), audio, "{}: audio", out.display());
        assert_eq!(duration(out), duration(&one));
    }
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn with_temporal_each_part_is_primed_before_its_cut_and_the_joins_do_not_show() {
    let dir = tempfile::tempdir().unwrap();
    // Real motion (a slow zoom), a key frame every second.
    let input = dir.path().join("zoom.mp4");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/clip.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&sample)
        .args(["-vf", "scale=160:90", "-c:v", "libx264", "-g", "25", "-an"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    let m = model("light_multi.onnx");
    let make = |out: &Path, extra: &[&str]| {
        let args: Vec<&str> = ["--style-name", "wild"]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        assert_success(&ffv1(&input, &m, out, &args));
        framemd5(out, "v")
    };
    let plain = make(&dir.path().join("plain.mkv"), &[]);
    let one = make(&dir.path().join("one.mkv"), &["--temporal"]);
    let parts = make(
        &dir.path().join("parts.mkv"),
        &["--temporal", "--segments", "3"],
    );
    assert_eq!(one.len(), 100);
    // The blend changes most frames, and the parts, each primed for two seconds before its
    // cut, give the one-pass frames, those right after the cuts too.
    let blended = one.iter().zip(&plain).filter(|(a, b)| a != b).count();
    assert!(blended > 80, "{blended}");
    assert_eq!(parts, one);
}

#[test]
fn a_run_killed_part_way_redoes_only_the_unfinished_parts() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "160x120");
    // A network slow enough that the first part is finished well before the last.
    let m = model("transformer_net.onnx");
    let out = dir.path().join("out.mkv");
    let first = dir.path().join("out.part-0-of-3.mkv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vstyle"))
        .arg(&input)
        .args(["-m"])
        .arg(&m)
        .args(["--codec", "ffv1", "--segments", "3", "-o"])
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !first.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(first.exists(), "the first part was finished");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "killed before the join");
    let again = vstyle!(
        &input,
        "-m",
        &m,
        "--codec",
        "ffv1",
        "--segments",
        "3",
        "-o",
        &out
    );
    assert_success(&again);
    let said = stderr(&again);
    assert!(said.contains("part 0/3: reused"), "{said}");
    assert!(said.contains("part 2/3: wrote"), "{said}");
    assert_eq!(
        said.matches("reused").count() + said.matches(": wrote").count(),
        3,
        "{said}"
    );
    assert_eq!(framemd5(&out, "v").len(), 150);
    assert!(!first.exists(), "parts are removed after the join");
}

#[test]
fn bad_plans_are_refused_with_one_line_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "64x48");
    let m = model("invert.onnx");
    let out = dir.path().join("out.mkv");
    let picture = dir.path().join("p.png");
    image::RgbImage::from_raw(8, 8, vec![100; 192])
        .unwrap()
        .save(&picture)
        .unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(&input, folder.join("a.mp4")).unwrap();
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![input.as_ref(), "--segments".as_ref(), "0".as_ref()],
            "--segments",
        ),
        (
            vec![folder.as_ref(), "--segments".as_ref(), "2".as_ref()],
            "one input video",
        ),
        (
            vec![picture.as_ref(), "--segments".as_ref(), "2".as_ref()],
            "is a picture",
        ),
        (
            vec![input.as_ref(), "--segments".as_ref(), "40".as_ref()],
            "key frame",
        ),
        (
            vec![
                input.as_ref(),
                "--segments".as_ref(),
                "3".as_ref(),
                "--shard".as_ref(),
                "1/2".as_ref(),
            ],
            "--segments cuts 3",
        ),
        (
            vec![
                input.as_ref(),
                "--segments".as_ref(),
                "2".as_ref(),
                "--start".as_ref(),
                "1".as_ref(),
            ],
            "--start",
        ),
    ];
    for (args, needle) in cases {
        let mut a = args.clone();
        a.extend(["-m".as_ref(), m.as_os_str(), "-o".as_ref(), out.as_os_str()]);
        let r = vstyle(&a);
        let e = stderr(&r);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains(needle), "{args:?}: {e}");
        assert!(e.trim().lines().count() <= 3, "{args:?}: one line: {e}");
        assert!(!out.exists(), "{args:?}");
    }
    // --join with a part missing: exit 1, naming it.
    let make = |extra: &[&str]| {
        let args: Vec<&str> = ["--segments", "2"]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        ffv1(&input, &m, &out, &args)
    };
    assert_success(&make(&["--shard", "0/2"]));
    let r = make(&["--join"]);
    let e = stderr(&r);
    assert_eq!(r.status.code(), Some(1), "{e}");
    assert!(
        e.contains("out.part-1-of-2.mkv") && e.contains("missing"),
        "{e}"
    );
    assert!(!out.exists());
    // A part made with other settings (another quality): exit 2, naming it.
    assert_success(&make(&["--shard", "1/2", "--crf", "30"]));
    let r = make(&["--join"]);
    let e = stderr(&r);
    assert_eq!(r.status.code(), Some(2), "{e}");
    assert!(
        e.contains("out.part-1-of-2.mkv") && e.contains("other settings"),
        "{e}"
    );
    assert!(!out.exists());
    // Made again with these settings, the parts join.
    assert_success(&make(&["--shard", "1/2"]));
    assert_success(&make(&["--join"]));
    assert!(out.exists());
}
