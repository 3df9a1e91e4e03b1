//! Optimisation mode through the real binary, at tiny sizes with the tiny loss network
//! `tests/data/tiny_vgg.onnx`: texture synthesis without an input, style transfer of a picture
//! and of a short clip, and the refusal of flags that belong to the other mode.

mod support;

use std::path::Path;

use support::{Clip, make_clip, model, probe, read_frames};

fn picture(path: &Path, width: u32, height: u32, smooth: bool) {
    make_clip(
        path,
        &Clip {
            width,
            height,
            frames: 1,
            codec_args: &["-frames:v", "1"],
            smooth,
            ..Default::default()
        },
    );
}

fn size_of(path: &Path) -> (u32, u32) {
    let out = probe(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
        ],
    );
    // `width=32|height=27`
    let value = |key: &str| {
        out.trim()
            .split('|')
            .find_map(|kv| kv.strip_prefix(key))
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("{key} in {out:?}"))
    };
    (value("width="), value("height="))
}

#[test]
fn a_texture_is_made_from_the_style_alone_at_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    let style = dir.path().join("style.png");
    picture(&style, 48, 40, false);
    let out = dir.path().join("texture.png");
    let run = vstyle!(
        "--mode",
        "optimize",
        "--style",
        &style,
        "--content-weight",
        "0",
        "--size",
        "32",
        "--steps",
        "5",
        "--loss-net",
        model("tiny_vgg.onnx"),
        "-o",
        &out,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        size_of(&out),
        (32, 27),
        "the processing size, not the style's"
    );
    let texture = &read_frames(&out, 32, 27, true)[0];
    let source = &read_frames(&style, 48, 40, true)[0];
    assert!(texture.iter().any(|&v| v != texture[0]), "not a flat image");
    assert_ne!(&texture[..32 * 3], &source[..32 * 3], "not the style image");
}

#[test]
fn style_transfer_of_a_picture_keeps_its_size_and_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = (dir.path().join("in.png"), dir.path().join("style.png"));
    picture(&content, 40, 32, true);
    picture(&style, 48, 40, false);
    let out = dir.path().join("out.png");
    let run = vstyle!(
        &content,
        "--style",
        &style,
        "--size",
        "32",
        "--steps",
        "5",
        "--loss-net",
        model("tiny_vgg.onnx"),
        "-o",
        &out,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(size_of(&out), (40, 32));
    let before = &read_frames(&content, 40, 32, true)[0];
    let after = &read_frames(&out, 40, 32, true)[0];
    assert!(
        support::max_diff(before, after) > 10,
        "the style changed it"
    );
}

#[test]
fn every_frame_of_a_clip_is_optimised_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (clip, style) = (dir.path().join("in.mkv"), dir.path().join("style.png"));
    make_clip(
        &clip,
        &Clip {
            width: 32,
            height: 24,
            frames: 3,
            smooth: true,
            ..Default::default()
        },
    );
    picture(&style, 48, 40, false);
    let input = read_frames(&clip, 32, 24, true);
    // Each way of starting a later frame: moved by the motion (the default), unmoved, alone.
    for start in ["warped", "previous", "independent"] {
        let out = dir.path().join(format!("out_{start}.mkv"));
        let run = vstyle!(
            &clip,
            "--style",
            &style,
            "--steps",
            "4",
            "--steps-next",
            "2",
            "--video-start",
            start,
            "--loss-net",
            model("tiny_vgg.onnx"),
            "--codec",
            "ffv1",
            "-o",
            &out,
        );
        assert!(
            run.status.success(),
            "{start}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let frames = read_frames(&out, 32, 24, true);
        assert_eq!(frames.len(), 3, "{start}");
        for (a, b) in input.iter().zip(&frames) {
            assert!(
                support::max_diff(a, b) > 10,
                "{start}: each frame is stylized"
            );
        }
        // In order: the input's blue rises by 10 levels a frame, and the content loss carries
        // some of that into each output (a few levels after so few steps, less where a frame
        // starts from the previous result), so the outputs' mean blue rises in the same order.
        let blue: Vec<f64> = frames.iter().map(|f| mean_blue(f)).collect();
        assert!(
            blue.windows(2).all(|w| w[1] > w[0]),
            "{start}: the frames come out in the input's order: mean blue {blue:?}"
        );
    }
}

#[test]
fn flags_of_the_other_mode_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("in.png");
    picture(&content, 16, 16, true);
    let run = vstyle!(
        &content,
        "--mode",
        "feedforward",
        "--model",
        dir.path().join("m.onnx"),
        "--steps",
        "3",
        "-o",
        dir.path().join("out.png"),
    );
    assert_eq!(run.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("--steps is only for --mode optimize"), "{err}");

    let run = vstyle!(
        &content,
        "--mode",
        "feedforward",
        "--model",
        dir.path().join("m.onnx"),
        "--style-scale",
        "0.5",
        "--temporal-weight",
        "3",
        "-o",
        dir.path().join("out.png"),
    );
    assert_eq!(run.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("--style-scale, --temporal-weight are only for --mode optimize"),
        "{err}"
    );

    // --style alone is the arbitrary-style network's, which takes --max-side; with a flag of
    // the optimiser it is optimisation, which sets its size with --size.
    let run = vstyle!(
        &content,
        "--style",
        &content,
        "--steps",
        "3",
        "--max-side",
        "64",
        "-o",
        dir.path().join("out.png"),
    );
    assert_eq!(run.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("--max-side is only for --mode feedforward") && err.contains("--size"),
        "{err}"
    );

    let run = vstyle!("--mode", "optimize", "--style", &content);
    assert_eq!(run.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("no input given"), "{err}");
}

#[test]
fn ctrl_c_stops_an_optimisation_within_a_step_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = (dir.path().join("c.png"), dir.path().join("s.png"));
    picture(&content, 64, 48, true);
    picture(&style, 64, 48, false);
    let output = dir.path().join("out.png");
    // Far more steps than fit in the time before the signal.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vstyle"))
        .arg(&content)
        .arg("--style")
        .arg(&style)
        .arg("--loss-net")
        .arg(model("tiny_vgg.onnx"))
        .args(["--size", "64", "--steps", "100000", "-v", "-o"])
        .arg(&output)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The signal comes once the optimisation of the frame is under way (`-v` says so).
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push(line);
        }
        all.join("\n")
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("the optimisation starts");
        if line.contains("frame 0: optimising") {
            break;
        }
    }
    let sent = std::time::Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        sent.elapsed() < std::time::Duration::from_secs(5),
        "stopped mid-frame, not after 100000 steps"
    );
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["c.png", "s.png"], "no output, no partial");
}

/// The mean of the blue channel of a packed RGB24 frame.
fn mean_blue(rgb: &[u8]) -> f64 {
    let blue: u64 = rgb.iter().skip(2).step_by(3).map(|&v| u64::from(v)).sum();
    blue as f64 / (rgb.len() / 3) as f64
}
