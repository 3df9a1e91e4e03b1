//! Bad input never does damage: each case gets one clear error line naming the file, a non-zero
//! exit, and no output file (final or partial) left behind.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// Runs vstyle expecting failure with exit code 1; returns stderr. Asserts the shape of the
/// failure.
fn fails(
    args: &[&std::ffi::OsStr],
    names: &str,
    out_dir: &Path,
    leftovers_allowed: &[&str],
) -> String {
    fails_with(1, args, names, out_dir, leftovers_allowed)
}

/// As [`fails`], for a problem of the command line (a bad model, a usage error): exit code 2.
fn refused(
    args: &[&std::ffi::OsStr],
    names: &str,
    out_dir: &Path,
    leftovers_allowed: &[&str],
) -> String {
    fails_with(2, args, names, out_dir, leftovers_allowed)
}

fn fails_with(
    code: i32,
    args: &[&std::ffi::OsStr],
    names: &str,
    out_dir: &Path,
    leftovers_allowed: &[&str],
) -> String {
    let out = support::vstyle(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code {code}; stderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error: {stderr:?}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].contains(names),
        "the message names {names:?}: {stderr}"
    );
    let left: Vec<String> = files_in(out_dir)
        .into_iter()
        .filter(|f| !leftovers_allowed.contains(&f.as_str()))
        .collect();
    assert!(
        left.is_empty(),
        "nothing left behind, found {left:?} after: {stderr}"
    );
    stderr
}

fn good_clip(dir: &Path) -> PathBuf {
    let p = dir.join("good.mkv");
    make_clip(
        &p,
        &Clip {
            frames: 3,
            ..Clip::default()
        },
    );
    p
}

#[test]
fn missing_empty_and_not_a_video_inputs_are_refused() {
    let inputs = tempfile::tempdir().unwrap();
    let outputs = tempfile::tempdir().unwrap();
    let out = outputs.path().join("out.mp4");
    let invert = model("invert.onnx");
    let missing = inputs.path().join("missing.mp4");
    let e = fails(
        &[
            missing.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "missing.mp4",
        outputs.path(),
        &[],
    );
    assert!(e.contains("no such file"), "{e}");

    let empty = inputs.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let e = fails(
        &[
            empty.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "empty.mp4",
        outputs.path(),
        &[],
    );
    assert!(e.contains("empty"), "{e}");

    let text = inputs.path().join("notes.mp4");
    std::fs::write(&text, "this is not a video\n".repeat(100)).unwrap();
    fails(
        &[
            text.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "notes.mp4",
        outputs.path(),
        &[],
    );
}

#[test]
fn audio_only_and_unreadable_inputs_are_refused_and_cut_ones_warned_about() {
    let inputs = tempfile::tempdir().unwrap();
    let outputs = tempfile::tempdir().unwrap();
    let out = outputs.path().join("out.mp4");
    let invert = model("invert.onnx");

    let audio = inputs.path().join("tone.m4a");
    let ok = std::process::Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-c:a",
            "aac",
        ])
        .arg(&audio)
        .status()
        .unwrap();
    assert!(ok.success());
    let e = fails(
        &[
            audio.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "tone.m4a",
        outputs.path(),
        &[],
    );
    assert!(e.contains("no video stream"), "{e}");

    // An MP4 cut off part-way: its index is at the end, so nothing of it can be read.
    let whole = inputs.path().join("whole.mp4");
    make_clip(
        &whole,
        &Clip {
            frames: 25,
            codec_args: &["-c:v", "libx264"],
            ..Clip::default()
        },
    );
    let bytes = std::fs::read(&whole).unwrap();
    let cut = inputs.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    fails(
        &[
            cut.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "cut.mp4",
        outputs.path(),
        &[],
    );

    // A cut-off MP4 with its index in front is stylized as far as it goes, with a warning.
    let fast = inputs.path().join("fast.mp4");
    make_clip(
        &fast,
        &Clip {
            frames: 25,
            codec_args: &["-c:v", "libx264", "-movflags", "+faststart"],
            ..Clip::default()
        },
    );
    let bytes = std::fs::read(&fast).unwrap();
    let cut = inputs.path().join("cut_fast.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let r = vstyle!(cut, "-m", invert, "-o", out);
    let e = String::from_utf8_lossy(&r.stderr);
    assert_success(&r);
    assert!(e.contains("warning: ") && e.contains("cut_fast.mp4"), "{e}");
    assert!(e.contains("cut short") || e.contains("missing"), "{e}");
    let n = read_frames(&out, 64, 48, true).len();
    assert!(n > 0 && n < 25, "the frames there are: {n}");
}

#[test]
fn unreadable_and_unfit_models_are_refused_before_any_frame() {
    let dir = tempfile::tempdir().unwrap();
    let input = good_clip(dir.path());
    let out = dir.path().join("out.mp4");
    let keep = ["good.mkv", "garbage.onnx"];

    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not a model").unwrap();
    let e = refused(
        &[
            input.as_ref(),
            "-m".as_ref(),
            garbage.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "garbage.onnx",
        dir.path(),
        &keep,
    );
    assert!(e.contains("not an ONNX model"), "{e}");

    let missing = dir.path().join("nope.onnx");
    let e = refused(
        &[
            input.as_ref(),
            "-m".as_ref(),
            missing.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "nope.onnx",
        dir.path(),
        &keep,
    );
    assert!(e.contains("no such file"), "{e}");
    let e = refused(
        &[
            input.as_ref(),
            "-m".as_ref(),
            dir.path().as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "is a folder",
        dir.path(),
        &keep,
    );
    assert!(e.contains("model"), "{e}");

    // A style predictor is no style network: its output is a vector, not a picture.
    let vector = model("arb_predict.onnx");
    let e = refused(
        &[
            input.as_ref(),
            "-m".as_ref(),
            vector.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "arb_predict.onnx",
        dir.path(),
        &keep,
    );
    assert!(
        e.contains("differs from the input shape"),
        "says what was expected and found: {e}"
    );

    let two = model("bad_two_inputs.onnx");
    let e = refused(
        &[
            input.as_ref(),
            "-m".as_ref(),
            two.as_ref(),
            "-o".as_ref(),
            out.as_ref(),
        ],
        "bad_two_inputs.onnx",
        dir.path(),
        &keep,
    );
    assert!(e.contains("2 inputs"), "{e}");
}

#[test]
fn existing_outputs_the_input_itself_and_unwritable_places_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = good_clip(dir.path());
    let invert = model("invert.onnx");
    let before = std::fs::read(&input).unwrap();

    let existing = dir.path().join("existing.mp4");
    std::fs::write(&existing, b"precious").unwrap();
    let e = fails(
        &[
            input.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            existing.as_ref(),
        ],
        "existing.mp4",
        dir.path(),
        &["good.mkv", "existing.mp4"],
    );
    assert!(e.contains("-y"), "{e}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");

    let e = fails(
        &[
            input.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            input.as_ref(),
            "-y".as_ref(),
        ],
        "good.mkv",
        dir.path(),
        &["good.mkv", "existing.mp4"],
    );
    assert!(e.contains("is the input"), "{e}");
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the input is untouched"
    );

    let nowhere = dir.path().join("no/such/folder/out.mp4");
    fails(
        &[
            input.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            nowhere.as_ref(),
        ],
        "out.mp4",
        dir.path(),
        &["good.mkv", "existing.mp4"],
    );

    let unknown = dir.path().join("out.xyz");
    let e = fails(
        &[
            input.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            unknown.as_ref(),
        ],
        "out.xyz",
        dir.path(),
        &["good.mkv", "existing.mp4"],
    );
    assert!(e.contains("no container"), "{e}");

    // A file where a folder should be: unwritable even for root.
    let under_file = dir.path().join("existing.mp4/out.mp4");
    fails(
        &[
            input.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            under_file.as_ref(),
        ],
        "out.mp4",
        dir.path(),
        &["good.mkv", "existing.mp4"],
    );

    // -y does overwrite.
    let out = support::vstyle(&[
        input.as_ref(),
        "-m".as_ref(),
        invert.as_ref(),
        "-o".as_ref(),
        existing.as_ref(),
        "-y".as_ref(),
        "-q".as_ref(),
    ]);
    assert_success(&out);
    assert!(
        out.stderr.is_empty(),
        "-q prints nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(std::fs::read(&existing).unwrap(), b"precious");
}

#[test]
fn a_missing_ort_library_gets_one_line_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let input = good_clip(dir.path());
    let out = dir.path().join("out.mp4");
    let r = support::vstyle(&[
        input.as_ref(),
        "-m".as_ref(),
        model("invert.onnx").as_ref(),
        "-o".as_ref(),
        out.as_ref(),
        "--ort-lib".as_ref(),
        dir.path().join("libonnxruntime.so").as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("setup") && stderr.contains("--ort-lib"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn configuration_problems_exit_with_code_2_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = good_clip(dir.path());
    let out = dir.path().join("out.mp4");
    let invert = model("invert.onnx");
    let base = |extra: &[&str]| -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = vec![
            input.clone().into(),
            "-m".into(),
            invert.clone().into(),
            "-o".into(),
            out.clone().into(),
        ];
        v.extend(extra.iter().map(Into::into));
        v
    };
    for (extra, names) in [
        (&["--codec", "no-such-encoder"][..], "--codec"),
        (&["--pix-fmt", "yuv999p"][..], "--pix-fmt"),
        (
            &["--mode", "feedforward", "--steps", "3"][..],
            "--steps is only for --mode optimize",
        ),
        (&["--style-mix", "a=x"][..], "--style-mix"),
        (&["--jobs", "2"][..], "--jobs is for batch mode"),
        (&["--shard", "0/2"][..], "--shard is for batch mode"),
        (&["--suffix", "_x"][..], "--suffix"),
        (&["--mode", "optimize"][..], "only for --mode feedforward"),
    ] {
        let args = base(extra);
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        refused(&args, names, dir.path(), &["good.mkv"]);
    }
    // Several inputs are a batch, which takes no --workers.
    let other = dir.path().join("other.mkv");
    std::fs::copy(&input, &other).unwrap();
    let batch_out = dir.path().join("styled/");
    refused(
        &[
            input.as_ref(),
            other.as_ref(),
            "-m".as_ref(),
            invert.as_ref(),
            "-o".as_ref(),
            batch_out.as_ref(),
            "--workers".as_ref(),
            "2".as_ref(),
        ],
        "--workers",
        dir.path(),
        &["good.mkv", "other.mkv"],
    );
}

#[test]
fn usage_errors_exit_with_code_2() {
    let r = support::vstyle(&["in.mp4".as_ref(), "--strength".as_ref(), "2".as_ref()]);
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn cuda_that_cannot_be_registered_fails_loudly_instead_of_falling_back() {
    let dir = tempfile::tempdir().unwrap();
    let input = good_clip(dir.path());
    let out = dir.path().join("out.mp4");
    // The CPU build of ONNX Runtime that set-up installs has no CUDA provider.
    let r = support::vstyle(&[
        input.as_ref(),
        "-m".as_ref(),
        model("invert.onnx").as_ref(),
        "-o".as_ref(),
        out.as_ref(),
        "--device".as_ref(),
        "cuda".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot use --device cuda"), "{stderr}");
    assert!(!out.exists());
    // --device auto says which provider it chose and runs.
    let r = support::vstyle(&[
        input.as_ref(),
        "-m".as_ref(),
        model("invert.onnx").as_ref(),
        "-o".as_ref(),
        out.as_ref(),
        "--device".as_ref(),
        "auto".as_ref(),
    ]);
    assert!(r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("fps on CPU"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

#[test]
fn ctrl_c_drains_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.mkv");
    // Long and slow enough (the TransformerNet-size model) to be mid-file when the signal comes.
    make_clip(
        &input,
        &Clip {
            width: 160,
            height: 120,
            frames: 400,
            ..Clip::default()
        },
    );
    let output = dir.path().join("out.mp4");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_vstyle"))
        .arg(&input)
        .args([
            "-m".as_ref(),
            model("transformer_net.onnx").as_os_str(),
            "-o".as_ref(),
            output.as_os_str(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-file: the temporary output exists (made before the first frame is read).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while partial_in(dir.path(), "out").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        files_in(dir.path()),
        vec!["long.mkv"],
        "neither the output nor its partial file is left"
    );
}

#[test]
fn completions_the_manual_page_and_the_device_list_are_printed() {
    for shell in ["bash", "zsh", "fish"] {
        let r = vstyle!("--completions", shell);
        assert_success(&r);
        let text = String::from_utf8_lossy(&r.stdout);
        assert!(text.contains("style-name"), "{shell}: {text}");
    }
    let r = vstyle!("--manpage");
    assert_success(&r);
    let page = String::from_utf8_lossy(&r.stdout);
    assert!(
        page.contains(".TH vstyle 1") && page.contains("temporal"),
        "{page}"
    );

    let r = vstyle!("--list-devices");
    assert_success(&r);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("cpu: usable"), "{text}");
    // Whether CUDA is usable depends on the library and the machine; either way it says so.
    assert!(
        text.contains("cuda: usable") || text.contains("cuda: not usable here: "),
        "{text}"
    );

    let r = vstyle!("--help");
    assert!(String::from_utf8_lossy(&r.stdout).contains("Examples:"));
}
