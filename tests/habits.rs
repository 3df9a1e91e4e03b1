//! Habits users bring from ffmpeg and batch tools: cutting the input by time, leaving the audio
//! out, a report for one file, and resume that knows what made an output.

mod support;

use std::process::Command;

use support::*;

fn probe_streams(path: &std::path::Path) -> String {
    probe(
        path,
        &[
            "-count_frames",
            "-show_entries",
            "stream=codec_type,nb_read_frames,start_time",
        ],
    )
}

#[test]
fn start_and_duration_cut_video_and_audio_and_an_drops_the_audio() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    make_clip(
        &input,
        &Clip {
            frames: 50, // 2 s at 25 fps
            codec_args: &["-c:v", "libx264", "-g", "10"],
            audio: true,
            ..Clip::default()
        },
    );
    let out = dir.path().join("cut.mkv");
    let r = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "--start",
        "0.4",
        "--duration",
        "1",
        "--codec",
        "ffv1",
        "--pix-fmt",
        "bgr0",
        "-o",
        out
    );
    assert_success(&r);
    let frames = read_frames(&out, 64, 48, true);
    assert_eq!(frames.len(), 25, "1 s at 25 fps");
    // The frames kept are input frames 10..35 (0.4 s on), the same as a whole run gives there.
    let whole = dir.path().join("whole.mkv");
    assert_success(&vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "--codec",
        "ffv1",
        "--pix-fmt",
        "bgr0",
        "-o",
        whole
    ));
    let all = read_frames(&whole, 64, 48, true);
    assert_eq!(frames[0], all[10]);
    assert_eq!(frames[24], all[34]);
    let pts = video_pts(&out);
    assert!(pts[0].abs() < 1e-6, "starts at 0: {pts:?}");
    let s = probe_streams(&out);
    assert!(s.contains("codec_type=audio"), "the audio is kept: {s}");

    let quiet = dir.path().join("quiet.mp4");
    assert_success(&vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "-an",
        "-o",
        quiet
    ));
    let s = probe_streams(&quiet);
    assert!(!s.contains("codec_type=audio"), "no audio: {s}");
    assert!(s.contains("nb_read_frames=50"), "{s}");

    // A start past the end is one clear line.
    let r = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "--start",
        "1:00",
        "-o",
        dir.path().join("x.mp4")
    );
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--start is past the end"));
}

#[test]
fn a_single_file_writes_a_report_with_the_settings_that_made_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mkv");
    make_clip(&input, &Clip::default());
    let out = dir.path().join("out.mkv");
    let report = dir.path().join("r.json");
    let r = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "--strength",
        "0.7",
        "-o",
        out,
        "--report",
        report
    );
    assert_success(&r);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(v["schema"], 2);
    assert_eq!(v["summary"]["done"], 1);
    assert_eq!(v["files"][0]["status"], "done");
    assert_eq!(v["files"][0]["frames"], 10);
    assert_eq!(v["settings"]["strength"], 0.7);
    assert_eq!(v["settings"]["model_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["run"]["provider"], "CPU");
    assert_eq!(v["run"]["precision"], "fp32");
    assert!(v["started"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn resume_redoes_outputs_made_with_other_settings_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    for i in 0..2 {
        make_clip(
            &dir.path().join(format!("in/c{i}.mkv")),
            &Clip {
                frames: 3,
                ..Clip::default()
            },
        );
    }
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_vstyle"))
            .args(["in", "-m"])
            .arg(model("invert.onnx"))
            .args(["-o", "out"])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    run(&[]);
    let e = run(&[]);
    assert!(e.contains("skipping 2 file(s)"), "same settings: {e}");
    let e = run(&["--strength", "0.5"]);
    assert!(
        e.contains("redoing 2 file(s) made with other settings"),
        "{e}"
    );
    assert!(e.contains("done: in/c0.mkv"), "{e}");
    let e = run(&["--strength", "0.5"]);
    assert!(e.contains("skipping 2 file(s)"), "{e}");
    let e = run(&["--resume-any"]);
    assert!(
        e.contains("skipping 2 file(s)"),
        "--resume-any keeps them: {e}"
    );
}
