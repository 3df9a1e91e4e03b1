//! Batch mode through the real binary: folders of good and bad files, resume after a kill, shards.
//! Fixture clips are made at test time with the `ffmpeg` command (tiny, so the suite stays fast);
//! the model is `tests/data/batch_invert.onnx` (y = 255 − x, see `tests/data/make_batch_fixtures.py`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/batch_invert.onnx")
}

/// The binary with a cleared environment (no scheduler variables leak in), run in `dir`.
fn vstyle(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vstyle"));
    c.env_clear().current_dir(dir);
    if let Some(lib) = std::env::var_os("ORT_DYLIB_PATH") {
        c.env("ORT_DYLIB_PATH", lib);
    }
    c.arg("--model").arg(model());
    c
}

fn run(c: &mut Command) -> (i32, String) {
    let Output { status, stderr, .. } = c.output().expect("run vstyle");
    let err = String::from_utf8_lossy(&stderr).into_owned();
    (status.code().unwrap_or(-1), err)
}

/// Writes a test-pattern clip (or, for an image extension, one picture) with the ffmpeg command.
fn make_clip(path: &Path, width: u32, height: u32, frames: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={width}x{height}:rate=25"))
        .args(["-frames:v", &frames.to_string(), "-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .expect("the ffmpeg command is installed");
    assert!(status.success(), "ffmpeg made {path:?}");
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn frame_count(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("frame count of {path:?}"))
}

/// Every file under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// good: 3 clips and a picture in nested folders; bad: corrupt, empty, text and audio-only files
/// with video names; ignored: a text file.
fn mixed_folder(root: &Path) {
    make_clip(&root.join("a.mp4"), 32, 24, 5);
    make_clip(&root.join("sub/b.mkv"), 32, 24, 5);
    make_clip(&root.join("sub/deeper/c.mov"), 32, 24, 3);
    make_clip(&root.join("sub/deeper/photo.png"), 32, 24, 1);
    let good = std::fs::read(root.join("a.mp4")).unwrap();
    write(&root.join("sub/corrupt.mp4"), &good[..good.len() / 3]);
    write(&root.join("empty.mkv"), b"");
    write(&root.join("sub/deeper/text.mp4"), b"this is not a video\n");
    write(&root.join("notes.txt"), b"not an input\n");
}

#[test]
fn a_folder_with_bad_files_stylizes_the_good_ones_in_a_mirrored_tree_and_lists_the_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    mixed_folder(&dir.path().join("in"));

    let (code, err) = run(vstyle(dir.path()).args(["in", "-r", "-o", "out", "--report", "r.json"]));
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        tree(&dir.path().join("out")),
        [
            "a.mp4",
            "sub/b.mkv",
            "sub/deeper/c.mov",
            "sub/deeper/photo.png"
        ],
        "{err}"
    );
    assert_eq!(frame_count(&dir.path().join("out/a.mp4")), 5);
    assert_eq!(frame_count(&dir.path().join("out/sub/deeper/c.mov")), 3);
    for bad in [
        "in/sub/corrupt.mp4: ",
        "in/empty.mkv: ",
        "in/sub/deeper/text.mp4: ",
    ] {
        assert_eq!(err.matches(bad).count(), 1, "{bad} once in:\n{err}");
    }
    assert!(!err.contains("notes.txt"), "{err}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["done"], 4);
    assert_eq!(report["summary"]["failed"], 3);
    assert_eq!(report["summary"]["frames"], 5 + 5 + 3 + 1);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 7);
    let empty = files.iter().find(|f| f["input"] == "in/empty.mkv").unwrap();
    assert_eq!(empty["status"], "failed");
    assert_eq!(empty["error"], "file is empty");

    // The second run skips every finished file and writes nothing new.
    let before = std::fs::metadata(dir.path().join("out/a.mp4"))
        .unwrap()
        .modified()
        .unwrap();
    let (code, err) = run(vstyle(dir.path()).args(["in", "-r", "-o", "out", "--report", "r.json"]));
    assert_eq!(code, 1, "the bad files still fail: {err}");
    assert!(err.contains("skipping 4 file(s) already done"), "{err}");
    let after = std::fs::metadata(dir.path().join("out/a.mp4"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["skipped"], 4);
    assert_eq!(report["summary"]["done"], 0);
}

#[test]
fn a_folder_of_good_files_exits_zero_and_a_second_run_skips_everything() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["x.mp4", "y.mp4", "z.mp4"] {
        make_clip(&dir.path().join("in").join(name), 32, 24, 4);
    }
    // Two files in flight sharing one model.
    let (code, err) = run(vstyle(dir.path()).args(["in", "-o", "out", "-j", "2"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(tree(&dir.path().join("out")), ["x.mp4", "y.mp4", "z.mp4"]);
    for name in ["x.mp4", "y.mp4", "z.mp4"] {
        assert_eq!(frame_count(&dir.path().join("out").join(name)), 4);
    }
    let (code, err) = run(vstyle(dir.path()).args(["in", "-o", "out", "-j", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("skipping 3 file(s)"), "{err}");
    assert!(
        !err.contains("running on"),
        "nothing to run, so no model is loaded: {err}"
    );
    // -y redoes them.
    let (code, err) = run(vstyle(dir.path()).args(["in", "-o", "out", "-y"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("done: in/x.mp4"), "{err}");
}

#[test]
fn a_run_killed_mid_file_leaves_no_final_output_and_a_rerun_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough (seconds in a debug build) that the kill lands mid-file.
    make_clip(&dir.path().join("in/long.mp4"), 64, 48, 1500);
    make_clip(&dir.path().join("in/short.mp4"), 32, 24, 3);
    let mut child = vstyle(dir.path())
        .args(["in", "-o", "out"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // This run's temporary name: long.partial-HOST-PID.mp4.
    let partial_exists = || {
        std::fs::read_dir(dir.path().join("out")).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("long.partial-"))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !partial_exists() {
        assert!(Instant::now() < deadline, "no partial output appeared");
        assert!(child.try_wait().unwrap().is_none(), "vstyle ended early");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no handler runs, nothing is cleaned up.
    child.wait().unwrap();
    assert!(
        !dir.path().join("out/long.mp4").exists(),
        "a killed file must not have its final name"
    );

    let (code, err) = run(vstyle(dir.path()).args(["in", "-o", "out"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(tree(&dir.path().join("out")), ["long.mp4", "short.mp4"]);
    assert_eq!(frame_count(&dir.path().join("out/long.mp4")), 1500);
}

#[test]
fn shards_from_flags_or_the_environment_together_do_the_batch_once() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        make_clip(&dir.path().join(format!("in/c{i}.mp4")), 32, 24, 2);
    }
    let mut outputs = Vec::new();
    let shards: [&[(&str, &str)]; 3] = [
        &[("JOB_COMPLETION_INDEX", "0"), ("VSTYLE_SHARD_COUNT", "3")],
        &[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
        &[],
    ];
    for (k, vars) in shards.iter().enumerate() {
        let out = format!("out{k}");
        let mut c = vstyle(dir.path());
        c.args(["in", "-o", &out]);
        c.envs(vars.iter().copied());
        if vars.is_empty() {
            c.args(["--shard", "1/3"]);
        }
        let (code, err) = run(&mut c);
        assert_eq!(code, 0, "{err}");
        outputs.push(tree(&dir.path().join(&out)));
    }
    assert_eq!(outputs[0], ["c0.mp4", "c3.mp4"]);
    assert_eq!(outputs[1], ["c2.mp4"]);
    assert_eq!(outputs[2], ["c1.mp4", "c4.mp4"]);
}

#[test]
fn usage_errors_exit_with_two() {
    let dir = tempfile::tempdir().unwrap();
    make_clip(&dir.path().join("a/clip.mp4"), 32, 24, 2);
    make_clip(&dir.path().join("b/clip.mp4"), 32, 24, 2);
    // Two inputs with one output name.
    let (code, err) = run(vstyle(dir.path()).args(["a", "b", "-o", "out"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("would both be written"), "{err}");
    let (code, err) = run(vstyle(dir.path()).args(["a", "-o", "out", "--shard", "3/3"]));
    assert_eq!(code, 2, "{err}");
    let (code, err) = run(vstyle(dir.path())
        .args(["a", "-o", "out"])
        .env("JOB_COMPLETION_INDEX", "1"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("VSTYLE_SHARD_COUNT"), "{err}");
    let (code, err) = run(vstyle(dir.path()).args(["a/clip.mp4", "--recursive"]));
    assert_eq!(code, 2, "{err}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn one_file_keeps_the_single_file_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    make_clip(&dir.path().join("clip.mp4"), 32, 24, 2);
    let (code, err) = run(vstyle(dir.path()).args(["clip.mp4", "-o", "styled.mp4"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote styled.mp4"), "{err}");
    let (code, err) = run(vstyle(dir.path()).args(["clip.mp4", "-o", "styled.mp4"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("already exists (use -y to overwrite)"),
        "{err}"
    );
    // Without -o the output sits beside the input.
    let (code, err) = run(vstyle(dir.path()).arg("clip.mp4"));
    assert_eq!(code, 0, "{err}");
    assert!(dir.path().join("clip_styled.mp4").is_file());
}
