//! What vstyle promises when things go wrong around it: a final name only ever holds a complete
//! file (whatever runs beside it), what is reported matches what is on disk, diagnostics never
//! abort the work, valid files are not refused, damaged ones are stylized with a warning, and
//! every refusal is one clear line. Each test waits on observable state, never on a blind sleep.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vstyle"));
    c.env_remove("ORT_DYLIB_PATH")
        .env_remove("VSTYLE_LOG")
        .env_remove("VSTYLE_SHARD")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .stdin(Stdio::null());
    c
}

fn ffmpeg(args: &[&str]) {
    let ok = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(args)
        .status()
        .unwrap();
    assert!(ok.success(), "ffmpeg {args:?}");
}

/// Frames an ffmpeg decode of `path` gives, or None when it does not decode cleanly to the end.
fn decodes_completely(path: &Path) -> Option<usize> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !err.trim().is_empty() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn no_partials(dir: &Path) {
    let left: Vec<String> = walk(dir)
        .into_iter()
        .filter(|p| p.contains(".partial"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn folder_of_clips(dir: &Path, n: usize, frames: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        make_clip(
            &dir.join(format!("c{i}.mkv")),
            &Clip {
                frames,
                width: 96,
                height: 64,
                ..Clip::default()
            },
        );
    }
}

// 1. Two runs on the same outputs.
#[test]
fn two_batches_on_one_folder_leave_only_complete_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    folder_of_clips(&input, 4, 20);
    let spawn = || {
        bin()
            .args(["in", "-m"])
            .arg(model("small_conv.onnx"))
            .args(["-o", "out/"])
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for (name, child) in [("first", a), ("second", b)] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name} run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for i in 0..4 {
        let out = dir.path().join(format!("out/c{i}.mkv"));
        assert_eq!(decodes_completely(&out), Some(20), "{}", out.display());
    }
    no_partials(dir.path());
    // A third run trusts them: all done.
    let out = bin()
        .args(["in", "-m"])
        .arg(model("small_conv.onnx"))
        .args(["-o", "out/"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipping 4 file(s)"));
}

#[test]
fn two_single_file_runs_to_one_output_leave_one_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mkv");
    make_clip(
        &input,
        &Clip {
            frames: 30,
            ..Clip::default()
        },
    );
    let out = dir.path().join("out.mp4");
    let spawn = || {
        bin()
            .arg(&input)
            .arg("-m")
            .arg(model("small_conv.onnx"))
            .arg("-o")
            .arg(&out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs: Vec<_> = [spawn(), spawn()]
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let ok = runs.iter().filter(|r| r.status.success()).count();
    assert!(ok >= 1, "one run at least finishes");
    for r in runs.iter().filter(|r| !r.status.success()) {
        // The other either saw the file at the start, or finished second and left the first
        // run's file as it was: never a corrupt file, never a silent replacement.
        let e = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{e}");
        assert!(
            e.contains("already exists") || e.contains("another run finished"),
            "{e}"
        );
    }
    assert_eq!(decodes_completely(&out), Some(30));
    no_partials(dir.path());
}

#[test]
fn resume_redoes_an_output_that_is_not_a_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    folder_of_clips(&dir.path().join("in"), 2, 5);
    std::fs::create_dir(dir.path().join("out")).unwrap();
    // What an older version's race left: an MP4-like file without its index, under the final name.
    std::fs::write(
        dir.path().join("out/c0.mkv"),
        b"\x1a\x45\xdf\xa3 not really",
    )
    .unwrap();
    let out = bin()
        .args(["in", "-m"])
        .arg(model("invert.onnx"))
        .args(["-o", "out"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    assert!(e.contains("redoing 1 file(s)"), "{e}");
    assert_eq!(decodes_completely(&dir.path().join("out/c0.mkv")), Some(5));
}

// 2. A closed stderr.
#[test]
fn a_closed_stderr_does_not_stop_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    folder_of_clips(&dir.path().join("in"), 3, 4);
    let mut child = bin()
        .args(["in", "-m"])
        .arg(model("invert.onnx"))
        .args(["-o", "out"])
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // the reader is gone: every write gets EPIPE
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    for i in 0..3 {
        assert_eq!(
            decodes_completely(&dir.path().join(format!("out/c{i}.mkv"))),
            Some(4)
        );
    }
}

// 3. The report's path.
#[test]
fn the_report_goes_to_stdout_follows_symlinks_and_is_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    folder_of_clips(&dir.path().join("in"), 2, 3);
    let run = |args: &[&str]| {
        bin()
            .args(["in", "-m"])
            .arg(model("invert.onnx"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["-o", "a", "--report", "-"]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["done"], 2);

    // A symlink is followed: the file it points to gets the report, the link stays a link.
    std::fs::create_dir(dir.path().join("reports")).unwrap();
    std::os::unix::fs::symlink("reports/r.json", dir.path().join("link.json")).unwrap();
    let out = run(&["-o", "b", "--report", "link.json"]);
    assert!(out.status.success());
    assert!(
        std::fs::symlink_metadata(dir.path().join("link.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("reports/r.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["done"], 2);

    // A FIFO is written into, not replaced by a regular file.
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = run(&["-o", "c", "--report", "fifo"]);
    assert!(out.status.success());
    assert!(reader.join().unwrap().contains("\"done\": 2"));
    assert!(!std::fs::metadata(&fifo).unwrap().is_file(), "still a FIFO");

    // An unwritable place is found before any work: exit 2, nothing stylized.
    let out = run(&["-o", "d", "--report", "no/such/folder/r.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--report"));
    assert!(!dir.path().join("d").exists(), "no work was done");
}

// 4. The truncation policy.
#[test]
fn valid_files_are_stylized_and_cut_ones_warned_about_with_the_report_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join("in").join(n).to_string_lossy().into_owned();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    let src = dir.path().join("src.mp4");
    let src = src.to_str().unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=160x120:r=15:d=2",
        "-c:v",
        "libx264",
        "-g",
        "10",
        src,
    ]);
    // A stream-copy cut: an edit list makes the container list more frames than play.
    ffmpeg(&["-ss", "0.5", "-i", src, "-c", "copy", &d("cut.mp4")]);
    // An AVI with dropped (null) frames.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=160x120:r=15:d=2",
        "-vf",
        "select='not(mod(n\\,3))'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "mpeg4",
        &d("vfr.avi"),
    ]);
    // A Matroska file cut in half: it says 2 s, its frames end at about 1.
    let whole = dir.path().join("whole.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=160x120:r=15:d=2",
        "-c:v",
        "libx264",
        whole.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(d("half.mkv"), &bytes[..bytes.len() / 2]).unwrap();

    let out = bin()
        .args(["in", "-m"])
        .arg(model("invert.onnx"))
        .args(["-o", "out", "--report", "r.json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    assert!(!e.contains("truncated"), "{e}");
    let played = |f: &str| decodes_completely(&dir.path().join("in").join(f));
    let made = |f: &str| decodes_completely(&dir.path().join("out").join(f));
    for f in ["cut.mp4", "vfr.avi"] {
        assert_eq!(made(f), played(f), "{f}: every frame that plays");
        assert!(
            !e.contains(&format!("warning: in/{f}")),
            "no warning for {f}: {e}"
        );
    }
    assert!(made("half.mkv").is_some_and(|n| n > 0 && n < 30));
    assert!(
        e.contains("warning: in/half.mkv") && e.contains("cut short"),
        "{e}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let half = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["input"] == "in/half.mkv")
        .unwrap();
    assert_eq!(half["status"], "done");
    assert!(half["warnings"][0].as_str().unwrap().contains("cut short"));
}

// 5. Non-finite network output.
#[test]
fn nan_output_is_refused_or_counted_never_silent() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mkv");
    make_clip(&input, &Clip::default());
    let out = dir.path().join("out.mkv");
    let r = vstyle!(input, "-m", model("nan_all.onnx"), "-o", out);
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{e}");
    assert!(e.contains("nan_all.onnx") && e.contains("NaN"), "{e}");
    assert!(!out.exists());
    let r = vstyle!(input, "-m", model("nan_some.onnx"), "-o", out);
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{e}");
    assert!(
        e.contains("warning: ") && e.contains("NaN or infinite value(s) in 10 frame(s)"),
        "{e}"
    );
}

// 6. What is reported matches what is on disk, whenever the interruption comes.
#[test]
fn after_ctrl_c_the_exit_code_matches_what_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mkv");
    make_clip(
        &input,
        &Clip {
            frames: 12,
            ..Clip::default()
        },
    );
    let out = dir.path().join("out.mp4");
    let mut outcomes = (0, 0);
    for step in 0..16u64 {
        let _ = std::fs::remove_file(&out);
        let child = bin()
            .arg(&input)
            .arg("-m")
            .arg(model("small_conv.onnx"))
            .arg("-o")
            .arg(&out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Once the run is under way (its temporary file exists, so the handler is installed),
        // the signal comes at a different point of the run each time, up to past its end.
        wait_for("the temporary output", Duration::from_secs(30), || {
            partial_in(dir.path(), "out").is_some() || out.exists()
        });
        std::thread::sleep(Duration::from_millis(step * 8));
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let r = child.wait_with_output().unwrap();
        let e = String::from_utf8_lossy(&r.stderr);
        match r.status.code() {
            Some(0) => {
                outcomes.0 += 1;
                assert_eq!(
                    decodes_completely(&out),
                    Some(12),
                    "exit 0 means complete: {e}"
                );
            }
            Some(130) => {
                outcomes.1 += 1;
                assert!(!out.exists(), "exit 130 means no output: {e}");
            }
            other => panic!("exit {other:?}: {e}"),
        }
        no_partials(dir.path());
    }
    assert_eq!(outcomes.0 + outcomes.1, 16, "{outcomes:?}");
}

// 7. An output folder that is the input folder under another name.
#[test]
fn an_output_folder_that_is_the_input_folder_through_a_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    folder_of_clips(&dir.path().join("in"), 2, 3);
    std::os::unix::fs::symlink("in", dir.path().join("in_link")).unwrap();
    for out in ["in_link/", "in/../in/"] {
        let r = bin()
            .args(["in", "-m"])
            .arg(model("invert.onnx"))
            .args(["-o", out, "--suffix", ""])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{out}: {e}");
        assert!(e.contains("written over itself"), "{e}");
    }
    assert_eq!(files_in(&dir.path().join("in")), ["c0.mkv", "c1.mkv"]);
}

// 8. Two Ctrl-C.
#[test]
fn a_second_ctrl_c_quits_quietly_and_removes_the_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.mkv");
    make_clip(
        &input,
        &Clip {
            width: 160,
            height: 120,
            frames: 300,
            ..Clip::default()
        },
    );
    let mut child: Child = bin()
        .arg(&input)
        .arg("-m")
        .arg(model("transformer_net.onnx"))
        .arg("-o")
        .arg(dir.path().join("out.mp4"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push(line);
        }
        all
    });
    wait_for("the temporary output", Duration::from_secs(60), || {
        partial_in(dir.path(), "out").is_some()
    });
    let signal = || {
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
    };
    signal();
    // The first press is acknowledged before the second comes.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the interruption is acknowledged");
        if line.contains("Ctrl-C again") {
            break;
        }
    }
    signal();
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{lines:?}");
    let last = lines.iter().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.contains("interrupted again"),
        "ours is the last word: {lines:?}"
    );
    assert_eq!(
        files_in(dir.path()),
        ["long.mkv"],
        "no output, no temporary file"
    );
}

// 9. Damaged but decodable input.
#[test]
fn corrupt_but_decodable_input_is_stylized_with_a_count_of_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25:d=2",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-movflags",
        "+faststart",
        clean.to_str().unwrap(),
    ]);
    let mut bytes = std::fs::read(&clean).unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap() + 100;
    // A few hundred seeded bit flips in the coded pictures.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..300 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let at = mdat + (s as usize) % (bytes.len() - mdat);
        bytes[at] ^= 1 << (s >> 60 & 7);
    }
    let flipped = dir.path().join("flipped.mp4");
    std::fs::write(&flipped, &bytes).unwrap();
    let out = dir.path().join("out.mp4");
    let r = vstyle!(flipped, "-m", model("invert.onnx"), "-o", out);
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{e}");
    assert!(
        e.contains("warning: ")
            && (e.contains("could not be decoded") || e.contains("decoded with errors")),
        "{e}"
    );
    assert!(decodes_completely(&out).is_some_and(|n| n > 0));
}

// 10. Messages.
#[test]
fn every_refusal_is_one_line_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mkv");
    make_clip(&clip, &Clip::default());
    let out = dir.path().join("out.mp4");
    let one_line = |r: &std::process::Output, code: i32, words: &[&str]| {
        let e = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(r.status.code(), Some(code), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        for w in words {
            assert!(e.contains(w), "{w:?} in {e}");
        }
        assert!(!out.exists());
    };
    let inv = model("invert.onnx");
    one_line(
        &vstyle!("-", "-m", inv, "-o", out),
        1,
        &["\"-\"", "no such file"],
    );
    let fifo = dir.path().join("pipe.mp4");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    one_line(
        &vstyle!(fifo, "-m", inv, "-o", out),
        1,
        &["pipe.mp4", "not a regular file"],
    );
    one_line(
        &vstyle!(clip, "-m", dir.path(), "-o", out),
        2,
        &["is a folder"],
    );
    one_line(
        &vstyle!(clip, "-m", clip, "-o", out),
        2,
        &["clip.mkv", "not an ONNX model"],
    );
    one_line(
        &vstyle!(clip, "-m", model("zero_size.onnx"), "-o", out),
        2,
        &["zero_size.onnx", "size 0"],
    );
    one_line(
        &vstyle!(clip, "-m", inv, "-o", out, "--pix-fmt", "yuv999p"),
        2,
        &["--pix-fmt", "yuv999p"],
    );

    // An empty shard is not an error.
    std::fs::create_dir(dir.path().join("in")).unwrap();
    std::fs::copy(&clip, dir.path().join("in/a.mkv")).unwrap();
    let r = bin()
        .args(["in", "-m"])
        .arg(&inv)
        .args(["-o", "o", "--shard", "3/4"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{e}");
    assert!(
        e.contains("shard 3/4 is empty (the batch has 1 file(s))"),
        "{e}"
    );
}

// 11. The report never replaces a file the run reads or writes.
#[test]
fn the_report_never_names_an_input_an_output_or_the_model() {
    let dir = tempfile::tempdir().unwrap();
    folder_of_clips(&dir.path().join("rin"), 2, 3);
    std::fs::copy(model("invert.onnx"), dir.path().join("m.onnx")).unwrap();
    std::os::unix::fs::symlink("rin/c0.mkv", dir.path().join("link.json")).unwrap();
    std::fs::hard_link(dir.path().join("m.onnx"), dir.path().join("hard.json")).unwrap();
    let before = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
    let (clip, net) = (before("rin/c0.mkv"), before("m.onnx"));
    let run = |args: &[&str]| bin().args(args).current_dir(dir.path()).output().unwrap();
    for (args, what) in [
        (
            &[
                "rin/c0.mkv",
                "-m",
                "m.onnx",
                "-o",
                "sx.mkv",
                "--report",
                "sx.mkv",
            ][..],
            "the output",
        ),
        (
            &[
                "rin/c0.mkv",
                "-m",
                "m.onnx",
                "-o",
                "sx.mkv",
                "--report",
                "rin/c0.mkv",
            ],
            "the input",
        ),
        (
            &[
                "rin/c0.mkv",
                "-m",
                "m.onnx",
                "-o",
                "sx.mkv",
                "--report",
                "m.onnx",
            ],
            "the model",
        ),
        (
            &[
                "rin",
                "-m",
                "m.onnx",
                "-o",
                "out/",
                "--report",
                "rin/c1.mkv",
            ],
            "an input",
        ),
        (
            &[
                "rin",
                "-m",
                "m.onnx",
                "-o",
                "out/",
                "--report",
                "out/c0.mkv",
            ],
            "an output",
        ),
        (
            &[
                "rin",
                "-m",
                "m.onnx",
                "-o",
                "out/",
                "--report",
                "./rin/../m.onnx",
            ],
            "the model",
        ),
        (
            &["rin", "-m", "m.onnx", "-o", "out/", "--report", "link.json"],
            "an input",
        ),
        (
            &["rin", "-m", "m.onnx", "-o", "out/", "--report", "hard.json"],
            "the model",
        ),
    ] {
        let r = run(args);
        let e = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
        assert!(e.contains("--report") && e.contains(what), "{args:?}: {e}");
        assert_eq!(before("rin/c0.mkv"), clip, "{args:?}");
        assert_eq!(before("m.onnx"), net, "{args:?}");
        assert!(!dir.path().join("sx.mkv").exists() && !dir.path().join("out").exists());
    }
    assert!(
        std::fs::symlink_metadata(dir.path().join("link.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// The video frames ffprobe decodes from `path` (an MPEG-TS lists its streams twice: under its
/// program, then alone).
fn frame_count(path: &Path) -> Option<usize> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.trim().parse().ok())
}

// 12. Resume keeps only what the current settings would write.
#[test]
fn resume_redoes_outputs_made_with_any_other_setting_that_changes_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    make_clip(
        &dir.path().join("in/c.mkv"),
        &Clip {
            frames: 10,
            audio: true,
            ..Clip::default()
        },
    );
    let run = |extra: &[&str]| {
        let r = bin()
            .args(["in", "-o", "out/"])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&r.stderr).into_owned();
        assert!(r.status.success(), "{extra:?}: {e}");
        e
    };
    let inv = model("invert.onnx").to_string_lossy().into_owned();
    let multi = model("multi_invert.onnx").to_string_lossy().into_owned();
    let base = ["-m", inv.as_str()];
    let redone = "redoing 1 file(s) made with other settings";
    let frames = |ext: &str| frame_count(&dir.path().join(format!("out/c.{ext}")));
    // Each setting that changes what is written, against the plain run, both ways.
    run(&base);
    for setting in [
        &["--limit", "3"][..],
        &["--start", "0.12"],
        &["--duration", "0.2"],
        &["--max-side", "32"],
        &["--strength", "0.5"],
        &["--preserve-colors"],
        &["--temporal"],
        &["--value-range", "0..1"],
        &["--codec", "ffv1"],
        &["--crf", "30"],
        &["--preset", "fast"],
        &["--pix-fmt", "yuv444p"],
        &["--encoder-opt", "g=5"],
        &["--bitrate", "1M"],
        &["-an"],
        &["-sn"],
    ] {
        let e = run(&[&base[..], setting].concat());
        assert!(e.contains(redone), "{setting:?}: {e}");
        let e = run(&base);
        assert!(e.contains(redone), "back from {setting:?}: {e}");
        assert_eq!(frames("mkv"), Some(10), "{setting:?}");
    }
    assert!(run(&base).contains("skipping 1 file(s) already done"));
    // The part of the input read shows in the output kept.
    run(&[&base[..], &["--limit", "3"]].concat());
    assert_eq!(frames("mkv"), Some(3));
    run(&base);
    assert_eq!(frames("mkv"), Some(10));
    // The style of a multi-style network.
    run(&["-m", &multi, "--style-name", "identity"]);
    let e = run(&["-m", &multi, "--style-name", "invert"]);
    assert!(e.contains(redone), "{e}");
    let e = run(&["-m", &multi, "--style-mix", "identity=0.5,invert=0.5"]);
    assert!(e.contains(redone), "{e}");
    // Containers without a comment field carry the fingerprint elsewhere.
    for ext in ["ts", "ogv"] {
        run(&[&base[..], &["--format", ext]].concat());
        let e = run(&[&base[..], &["--format", ext, "--limit", "4"]].concat());
        assert!(e.contains(redone), "{ext}: {e}");
        assert_eq!(frames(ext), Some(4), "{ext}");
        let e = run(&[&base[..], &["--format", ext, "--limit", "4"]].concat());
        assert!(e.contains("skipping 1 file(s)"), "{ext}: {e}");
    }
}

// 13. File names that are not UTF-8.
#[test]
fn names_that_are_not_utf8_are_stylized_like_any_other() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    folder_of_clips(&input, 2, 3);
    let odd = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
    std::fs::create_dir(input.join(odd(b"d\xfe"))).unwrap();
    std::fs::copy(input.join("c0.mkv"), input.join(odd(b"b\xff.mkv"))).unwrap();
    std::fs::copy(input.join("c0.mkv"), input.join(odd(b"d\xfe/x\xff.mkv"))).unwrap();
    let r = bin()
        .args(["in", "-r", "-m"])
        .arg(model("invert.onnx"))
        .args(["-o", "out/", "--report", "r.json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{e}");
    for name in [&b"c0.mkv"[..], b"b\xff.mkv", b"c1.mkv", b"d\xfe/x\xff.mkv"] {
        let out = dir.path().join("out").join(OsStr::from_bytes(name));
        assert_eq!(decodes_completely(&out), Some(3), "{out:?}: {e}");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["done"], 4, "{report}");
    // A re-run finds them done; one file alone gets its name beside it.
    let r = bin()
        .args(["in", "-r", "-m"])
        .arg(model("invert.onnx"))
        .args(["-o", "out/"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("skipping 4 file(s)"), "{e}");
    let r = bin()
        .arg(input.join(odd(b"b\xff.mkv")))
        .arg("-m")
        .arg(model("invert.onnx"))
        .output()
        .unwrap();
    assert_success(&r);
    assert_eq!(
        decodes_completely(&input.join(odd(b"b\xff_styled.mkv"))),
        Some(3)
    );
}

// 14. Outputs cut short after they were finished.
#[test]
fn resume_redoes_an_output_cut_short_in_every_container() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    make_clip(
        &dir.path().join("in/c.mkv"),
        &Clip {
            frames: 20,
            audio: true,
            ..Clip::default()
        },
    );
    for ext in ["mp4", "mkv", "mov", "ts", "webm", "avi"] {
        let run = || {
            let r = bin()
                .args(["in", "-m"])
                .arg(model("invert.onnx"))
                .args(["-o", "out/", "--format", ext])
                .current_dir(dir.path())
                .output()
                .unwrap();
            let e = String::from_utf8_lossy(&r.stderr).into_owned();
            assert!(r.status.success(), "{ext}: {e}");
            e
        };
        let out = dir.path().join(format!("out/c.{ext}"));
        run();
        assert_eq!(frame_count(&out), Some(20), "{ext}");
        // A whole output is kept.
        let e = run();
        assert!(e.contains("skipping 1 file(s) already done"), "{ext}: {e}");
        let bytes = std::fs::read(&out).unwrap();
        std::fs::write(&out, &bytes[..bytes.len() / 2]).unwrap();
        let e = run();
        assert!(
            e.contains("redoing 1 file(s) whose output is there but incomplete"),
            "{ext}: {e}"
        );
        assert_eq!(frame_count(&out), Some(20), "{ext}");
    }
}

// 15. A closed stderr with logging on.
#[test]
fn a_closed_stderr_does_not_stop_a_verbose_run() {
    let dir = tempfile::tempdir().unwrap();
    folder_of_clips(&dir.path().join("in"), 2, 3);
    for (i, (flag, log)) in [("-v", None), ("-vv", None), ("-q", Some("debug"))]
        .into_iter()
        .enumerate()
    {
        let mut cmd = bin();
        cmd.args(["in", "-m"])
            .arg(model("invert.onnx"))
            .args(["-o", &format!("out{i}/"), flag])
            .current_dir(dir.path())
            .stderr(Stdio::piped());
        if let Some(level) = log {
            cmd.env("VSTYLE_LOG", level);
        }
        let mut child = cmd.spawn().unwrap();
        drop(child.stderr.take()); // the reader is gone: every write gets EPIPE
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{flag} {log:?}");
        for c in ["c0", "c1"] {
            let out = dir.path().join(format!("out{i}/{c}.mkv"));
            assert_eq!(decodes_completely(&out), Some(3), "{flag} {log:?}");
        }
    }
}

// 16. The input folder as the output folder under another name, run again.
#[test]
fn outputs_beside_their_inputs_are_not_inputs_whatever_the_folder_is_called() {
    let dir = tempfile::tempdir().unwrap();
    folder_of_clips(&dir.path().join("d8"), 2, 3);
    std::os::unix::fs::symlink("d8", dir.path().join("d8link")).unwrap();
    for out in ["d8link/", "d8/../d8/", "d8link/", "d8/"] {
        let r = bin()
            .args(["d8", "-m"])
            .arg(model("invert.onnx"))
            .args(["-o", out])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{out}: {e}");
        assert_eq!(
            files_in(&dir.path().join("d8")),
            ["c0.mkv", "c0_styled.mkv", "c1.mkv", "c1_styled.mkv"],
            "{out}: {e}"
        );
    }
}

// 17. A FIFO nobody reads as the report.
#[test]
fn a_report_fifo_nobody_reads_neither_hangs_nor_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    folder_of_clips(&dir.path().join("in"), 1, 3);
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let spawn = |out: &str| {
        bin()
            .args(["in", "-m"])
            .arg(model("invert.onnx"))
            .args(["-o", out, "--report", "fifo"])
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Waits for the exit, or kills the run and fails.
    let finish = |child: &mut Child, within: Duration| {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("still running after {within:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // SIGTERM once the work is done (its summary printed) ends the wait for a reader.
    let mut child = spawn("a");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let lines = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push(line);
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the summary table");
        if line.starts_with("total") {
            break;
        }
    }
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = finish(&mut child, Duration::from_secs(5));
    let lines: Vec<String> = lines.join().unwrap();
    assert_eq!(status.code(), Some(130), "{lines:?}");
    assert_eq!(decodes_completely(&dir.path().join("a/c0.mkv")), Some(3));
    // Without a signal the run gives up on its own, saying why.
    let mut child = spawn("b");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let lines = std::thread::spawn(move || stderr.lines().map_while(Result::ok).collect());
    let status = finish(&mut child, Duration::from_secs(30));
    let lines: Vec<String> = lines.join().unwrap();
    assert_eq!(status.code(), Some(1), "{lines:?}");
    let last = lines.last().unwrap();
    assert!(
        last.contains("fifo") && last.contains("nothing read"),
        "{lines:?}"
    );
    assert_eq!(decodes_completely(&dir.path().join("b/c0.mkv")), Some(3));
}

// 18. Audio a container cannot hold as it is.
#[test]
fn audio_the_container_cannot_hold_is_converted_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, audio: &[&str]| {
        let path = dir.path().join(name);
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=64x48:r=25:d=0.6",
            "-f",
            "lavfi",
            "-i",
            "sine=d=0.6",
            "-c:v",
            "ffv1",
        ];
        args.extend(audio);
        args.push(path.to_str().unwrap());
        ffmpeg(&args);
        path
    };
    // PCM in AVI and Matroska names no channel layout.
    let pcm_avi = make("pcm.avi", &["-c:a", "pcm_s16le"]);
    let pcm_mkv = make("pcm.mkv", &["-ac", "2", "-c:a", "pcm_s16le"]);
    let flac = make("flac.mkv", &["-c:a", "flac"]);
    let opus = make("opus.mkv", &["-c:a", "libopus"]);
    let mut cases = Vec::new();
    for input in [&pcm_avi, &pcm_mkv] {
        for ext in ["mp4", "ts", "m2ts", "webm", "ogv", "mpg"] {
            cases.push((input, ext));
        }
    }
    cases.extend([(&flac, "mp4"), (&flac, "mov"), (&opus, "mov")]);
    for (input, ext) in cases {
        let out = dir.path().join(format!("out.{ext}"));
        let r = vstyle!(input, "-m", model("invert.onnx"), "-o", out, "-y");
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{input:?} → {ext}: {e}");
        assert!(e.contains("re-encoding it with"), "{input:?} → {ext}: {e}");
        let audio = probe(
            &out,
            &["-select_streams", "a", "-show_entries", "stream=codec_name"],
        );
        assert!(!audio.trim().is_empty(), "{input:?} → {ext}: no audio");
        assert!(
            frame_count(&out).is_some_and(|n| n > 0),
            "{input:?} → {ext}"
        );
    }
}

// 19. A turned video into a container that cannot say so.
#[test]
fn a_turned_video_plays_upright_in_every_container() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, input) = (dir.path().join("plain.mp4"), dir.path().join("rot.mp4"));
    make_clip(
        &plain,
        &Clip {
            width: 64,
            height: 32,
            frames: 3,
            codec_args: &["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p"],
            ..Clip::default()
        },
    );
    // FFmpeg 5.1 turns the `rotate` tag into a display matrix only when stream-copying.
    ffmpeg(&[
        "-i",
        plain.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        input.to_str().unwrap(),
    ]);
    let upright_in = read_frames(&input, 32, 64, true);
    assert_eq!(upright_in.len(), 3);
    // Lossless where the container takes FFV1; WebM and MPEG-TS get their own encoder.
    let ffv1 = ["--codec", "ffv1", "--pix-fmt", "yuv444p"];
    let own = ["--crf", "4", "--pix-fmt", "yuv444p"];
    for (ext, kept, codec) in [
        ("mov", true, &ffv1),
        ("mkv", false, &ffv1),
        ("webm", false, &own),
        ("ts", false, &own),
        ("avi", false, &ffv1),
    ] {
        let out = dir.path().join(format!("out.{ext}"));
        let r = bin()
            .arg(&input)
            .arg("-m")
            .arg(model("invert.onnx"))
            .arg("-o")
            .arg(&out)
            .args(codec)
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{ext}: {e}");
        let rotation = probe(
            &out,
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream_side_data=rotation",
            ],
        );
        assert_eq!(rotation.contains("rotation=90"), kept, "{ext}: {rotation}");
        assert_eq!(e.contains("upright"), !kept, "{ext}: {e}");
        let played = read_frames(&out, 32, 64, true);
        assert_eq!(played.len(), 3, "{ext}");
        for (x, y) in upright_in.iter().zip(&played) {
            let mean = inverted(x)
                .iter()
                .zip(y)
                .map(|(a, b)| f64::from(a.abs_diff(*b)))
                .sum::<f64>()
                / y.len() as f64;
            assert!(
                mean < 12.0,
                "{ext}: played upright, inverted: mean diff {mean}"
            );
        }
    }
}

// 20. Edges: nothing written in vain, nothing of the user's removed, every refusal clear.
#[test]
fn edge_cases_are_refused_clearly_or_said_and_user_files_stay() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mkv");
    make_clip(&clip, &Clip::default());
    let inv = model("invert.onnx");
    let refused = |r: &std::process::Output, code: i32, words: &[&str]| {
        let e = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(r.status.code(), Some(code), "{e}");
        for w in words {
            assert!(e.contains(w), "{w:?} in {e}");
        }
    };
    let out = dir.path().join("out.mp4");
    // A duration of 0 takes nothing: a usage error, nothing written.
    refused(
        &vstyle!(clip, "-m", inv, "-o", out, "--duration", "0"),
        2,
        &["--duration", "above 0"],
    );
    assert!(!out.exists());
    // Outputs that are no files.
    for (o, words) in [
        ("-", &["not standard output"][..]),
        ("/dev/null", &["device or a FIFO"]),
        (".mp4", &["only an extension"]),
        ("out.gif", &["GIF output is not supported"]),
    ] {
        let r = bin()
            .arg(&clip)
            .arg("-m")
            .arg(&inv)
            .args(["-o", o])
            .current_dir(dir.path())
            .output()
            .unwrap();
        refused(&r, 1, words);
        assert_eq!(String::from_utf8_lossy(&r.stderr).lines().count(), 1);
    }
    refused(
        &vstyle!("-", "-m", inv, "-o", out),
        1,
        &["\"-\"", "not standard input"],
    );
    // A dangling symlink as the output is an existing name: refused before any work.
    let link = dir.path().join("link.mp4");
    std::os::unix::fs::symlink("nowhere/x.mp4", &link).unwrap();
    refused(
        &vstyle!(clip, "-m", inv, "-o", link),
        1,
        &["already exists"],
    );
    assert!(std::fs::symlink_metadata(&link).is_ok());
    // MPEG-1 video at a rate it cannot state: the rate is named as the cause.
    let slow = dir.path().join("slow.mkv");
    make_clip(
        &slow,
        &Clip {
            rate: "15",
            ..Clip::default()
        },
    );
    refused(
        &vstyle!(slow, "-m", inv, "-o", dir.path().join("slow.mpg")),
        1,
        &["frames a second", "15", ".mp4"],
    );
    // A frame smaller than the network's own padding is stylized all the same.
    let tiny = dir.path().join("tiny.mkv");
    make_clip(
        &tiny,
        &Clip {
            width: 4,
            height: 4,
            frames: 2,
            ..Clip::default()
        },
    );
    let tiny_out = dir.path().join("tiny_out.mkv");
    let r = vstyle!(tiny, "-m", model("transformer_net.onnx"), "-o", tiny_out);
    assert_success(&r);
    assert_eq!(read_frames(&tiny_out, 4, 4, true).len(), 2);
    // A contact sheet of a single-style network: its one style, no complaint about flags not
    // given.
    let photo = dir.path().join("photo.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=64x48",
        "-frames:v",
        "1",
        photo.to_str().unwrap(),
    ]);
    let r = vstyle!(
        "--sheet",
        photo,
        "-m",
        inv,
        "-o",
        dir.path().join("sheet.png")
    );
    assert_success(&r);
    // A video into a picture: one frame, and said so.
    let r = vstyle!(clip, "-m", inv, "-o", dir.path().join("still.png"));
    assert_success(&r);
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("first frame only"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    // The user's own `a.partial.mp4` stays; a dead run's temporary file goes, in single-file
    // mode too.
    let mine = dir.path().join("a.partial.mp4");
    std::fs::write(&mine, b"the user's").unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    // The machine's name as temporary names carry it: letters, digits and `-`.
    let host: String = String::from_utf8_lossy(&Command::new("hostname").output().unwrap().stdout)
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    let dead = dir.path().join(format!("a.partial-{host}-{pid}.mp4"));
    std::fs::write(&dead, b"killed").unwrap();
    let r = vstyle!(clip, "-m", inv, "-o", dir.path().join("a.mp4"));
    assert_success(&r);
    assert_eq!(std::fs::read(&mine).unwrap(), b"the user's");
    assert!(!dead.exists(), "the killed run's temporary file is removed");
}

// 21. 10-bit video through an identity network: nothing lost beyond the 8-bit rounding.
#[test]
fn ten_bit_video_through_an_identity_network_loses_only_the_rounding() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("out.mkv"));
    // A test card with its colours inside the RGB cube (8-bit RGB cannot hold the rest).
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25:d=0.2",
        "-vf",
        "lutrgb=r=40+val*0.6:g=40+val*0.6:b=40+val*0.6,format=yuv420p10le",
        "-c:v",
        "ffv1",
        input.to_str().unwrap(),
    ]);
    let r = vstyle!(
        input,
        "-m",
        model("identity.onnx"),
        "-o",
        output,
        "--codec",
        "ffv1"
    );
    assert_success(&r);
    assert!(probe(&output, &["-show_entries", "stream=pix_fmt"]).contains("yuv420p10le"));
    // Every plane at full resolution, 16 bits a sample.
    let planes = |p: &Path| -> Vec<u16> {
        let out = Command::new("ffmpeg")
            .args(["-loglevel", "error", "-i"])
            .arg(p)
            .args(["-f", "rawvideo", "-pix_fmt", "yuv444p16le", "-"])
            .output()
            .unwrap();
        out.stdout
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect()
    };
    let (a, b) = (planes(&input), planes(&output));
    assert_eq!(a.len(), b.len());
    assert_eq!(a.len(), 5 * 320 * 240 * 3);
    let n = 320 * 240;
    for plane in 0..3 {
        // In 10-bit code values.
        let diffs: Vec<f64> = a
            .chunks(n)
            .zip(b.chunks(n))
            .enumerate()
            .filter(|(i, _)| i % 3 == plane)
            .flat_map(|(_, (x, y))| {
                x.iter()
                    .zip(y)
                    .map(|(p, q)| f64::from(p.abs_diff(*q)) / 64.0)
            })
            .collect();
        let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
        let max = diffs.iter().copied().fold(0.0, f64::max);
        assert!(
            mean < 0.5 && max <= 4.0,
            "plane {plane}: mean {mean:.2}, max {max}"
        );
    }
}
