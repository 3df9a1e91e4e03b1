//! End-to-end: clips made at test time go through the real binary with the analytic models
//! (`255 - x`, identity), and what comes out is decoded and compared with what must come out.

mod support;

use support::*;

#[test]
fn lossless_round_trip_inverts_every_pixel_of_every_frame_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("out.mkv"));
    make_clip(
        &input,
        &Clip {
            frames: 12,
            ..Clip::default()
        },
    );
    let out = vstyle!(
        input,
        "--model",
        model("invert.onnx"),
        "-o",
        output,
        "--codec",
        "ffv1",
        "--pix-fmt",
        "bgr0"
    );
    assert_success(&out);
    let frames = read_frames(&output, 64, 48, true);
    assert_eq!(frames.len(), 12);
    for (i, f) in frames.iter().enumerate() {
        // Lossless RGB in and out: the only tolerance is none.
        assert_eq!(f, &inverted(&pattern(i as u32, 64, 48)), "frame {i}");
    }
}

#[test]
fn odd_sizes_are_padded_for_the_network_and_cropped_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("odd.mkv"), dir.path().join("odd_out.mkv"));
    make_clip(
        &input,
        &Clip {
            width: 67,
            height: 37,
            frames: 3,
            ..Clip::default()
        },
    );
    let out = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "-o",
        output,
        "--codec",
        "ffv1",
        "--pix-fmt",
        "bgr0",
        "--batch",
        "2"
    );
    assert_success(&out);
    let frames = read_frames(&output, 67, 37, true);
    assert_eq!(frames.len(), 3);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f, &inverted(&pattern(i as u32, 67, 37)), "frame {i}");
    }
}

#[test]
fn h264_output_matches_within_the_codec_tolerance_and_keeps_timestamps_and_audio() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mp4"), dir.path().join("out.mp4"));
    make_clip(
        &input,
        &Clip {
            frames: 25,
            audio: true,
            codec_args: &[
                "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", "-bf", "3",
            ],
            ..Clip::default()
        },
    );
    let out = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "-o",
        output,
        "--crf",
        "0",
        "--pix-fmt",
        "yuv444p"
    );
    assert_success(&out);
    let expected: Vec<Vec<u8>> = read_frames(&input, 64, 48, true)
        .iter()
        .map(|f| inverted(f))
        .collect();
    let got = read_frames(&output, 64, 48, true);
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        // 4:4:4 at crf 0 is lossless in x264, but RGB↔YUV rounding twice costs up to 2 levels.
        assert!(
            max_diff(g, e) <= 3,
            "frame {i}: max difference {}",
            max_diff(g, e)
        );
    }
    assert_eq!(video_pts(&output), video_pts(&input));
    let audio = |p: &std::path::Path| {
        probe(
            p,
            &[
                "-select_streams",
                "a:0",
                "-show_entries",
                "packet=pts,dts,size",
            ],
        )
    };
    assert_eq!(
        audio(&output),
        audio(&input),
        "audio packets are copied unchanged"
    );
    assert!(!audio(&output).is_empty());
}

#[test]
fn variable_frame_rate_timestamps_survive() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("vfr.mkv"), dir.path().join("vfr_out.mkv"));
    // Frames 0-4 at 25 fps, then a 0.3 s jump: not a constant rate.
    make_clip(
        &input,
        &Clip {
            frames: 10,
            setpts: Some("N/25/TB+gte(N\\,5)*0.3/TB"),
            ..Clip::default()
        },
    );
    let out = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "-o",
        output,
        "--codec",
        "ffv1"
    );
    assert_success(&out);
    let (pin, pout) = (video_pts(&input), video_pts(&output));
    assert_eq!(pin.len(), 10);
    assert!(
        pin[5] - pin[4] > 0.2 && pin[4] - pin[3] < 0.05,
        "the input really is VFR: {pin:?}"
    );
    assert_eq!(pout, pin);
}

#[test]
fn fixed_size_models_run_on_resized_frames_and_come_back_at_the_input_size() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("out.mkv"));
    make_clip(
        &input,
        &Clip {
            width: 96,
            height: 64,
            frames: 4,
            smooth: true,
            ..Clip::default()
        },
    );
    let out = vstyle!(
        input,
        "-m",
        model("invert_224.onnx"),
        "-o",
        output,
        "--codec",
        "ffv1",
        "--pix-fmt",
        "bgr0"
    );
    assert_success(&out);
    let frames = read_frames(&output, 96, 64, true);
    assert_eq!(frames.len(), 4);
    for (i, f) in frames.iter().enumerate() {
        // Scaling to 224x224 and back blurs the ramps by a level or two at most.
        let d = max_diff(f, &inverted(&smooth_pattern(i as u32, 96, 64)));
        assert!(d <= 4, "frame {i}: max difference {d}");
    }
}

#[test]
fn rotation_metadata_is_honoured_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, input, output) = (
        dir.path().join("plain.mp4"),
        dir.path().join("rot.mp4"),
        dir.path().join("rot_out.mp4"),
    );
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
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&plain)
        .args(["-c", "copy", "-metadata:s:v:0", "rotate=90"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    let rotation = |p: &std::path::Path| {
        probe(
            p,
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream_side_data=rotation",
            ],
        )
    };
    assert!(
        rotation(&input).contains("rotation=90"),
        "fixture carries a rotation: {:?}",
        rotation(&input)
    );
    let out = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "-o",
        output,
        "--crf",
        "0",
        "--pix-fmt",
        "yuv444p"
    );
    assert_success(&out);
    assert_eq!(rotation(&output), rotation(&input));
    // Played upright (autorotate), the output is the inverted upright input.
    let (a, b) = (
        read_frames(&input, 32, 64, true),
        read_frames(&output, 32, 64, true),
    );
    assert_eq!(a.len(), 3);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(max_diff(&inverted(x), y) <= 3);
    }
}

#[test]
fn a_still_image_gives_a_stylized_image() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("photo.png"), dir.path().join("styled.png"));
    make_clip(
        &input,
        &Clip {
            width: 50,
            height: 30,
            frames: 1,
            codec_args: &["-frames:v", "1", "-update", "1"],
            ..Clip::default()
        },
    );
    let out = vstyle!(input, "-m", model("invert.onnx"), "-o", output);
    assert_success(&out);
    let frames = read_frames(&output, 50, 30, true);
    assert_eq!(frames, vec![inverted(&pattern(0, 50, 30))]);
}

#[test]
fn limit_stops_after_n_frames_and_strength_zero_gives_the_input_back() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("out.mkv"));
    make_clip(
        &input,
        &Clip {
            frames: 8,
            ..Clip::default()
        },
    );
    let out = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "-o",
        output,
        "--codec",
        "ffv1",
        "--pix-fmt",
        "bgr0",
        "--limit",
        "3",
        "--strength",
        "0"
    );
    assert_success(&out);
    let frames = read_frames(&output, 64, 48, true);
    assert_eq!(frames.len(), 3);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f, &pattern(i as u32, 64, 48), "frame {i}");
    }
}

#[test]
fn the_transformer_net_runs_at_the_frame_size() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("out.mp4"));
    make_clip(
        &input,
        &Clip {
            width: 50,
            height: 30,
            frames: 2,
            ..Clip::default()
        },
    );
    let out = vstyle!(input, "-m", model("transformer_net.onnx"), "-o", output);
    assert_success(&out);
    let stream = probe(
        &output,
        &[
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=width,height,nb_read_frames",
        ],
    );
    assert_eq!(stream.trim(), "width=50|height=30|nb_read_frames=2");
}

#[test]
fn audio_the_container_cannot_hold_is_re_encoded_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mp4"), dir.path().join("out.webm"));
    // AAC cannot go into WebM: it comes out as the container's default audio codec.
    make_clip(
        &input,
        &Clip {
            frames: 25,
            audio: true,
            codec_args: &["-c:v", "libx264"],
            ..Clip::default()
        },
    );
    let out = vstyle!(input, "-m", model("invert.onnx"), "-o", output);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("re-encoding it with"), "said so: {stderr}");
    let codecs = probe(&output, &["-show_entries", "stream=codec_type,codec_name"]);
    assert!(
        codecs.contains("codec_type=audio") && codecs.contains("codec_name=opus"),
        "{codecs}"
    );
    // Every sample survives: decoded at the input's rate, the lengths agree to a few ms.
    let samples = |p: &std::path::Path| {
        let o = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(p)
            .args([
                "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
            ])
            .output()
            .unwrap();
        o.stdout.len() as f64 / 2.0 / 48000.0
    };
    let (a, b) = (samples(&input), samples(&output));
    assert!(
        a > 0.9 && (a - b).abs() < 0.03,
        "audio {a:.3} s in, {b:.3} s out"
    );
}

#[test]
fn a_video_into_a_jpeg_gives_its_first_frame() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("first.jpg"));
    make_clip(
        &input,
        &Clip {
            frames: 5,
            smooth: true,
            ..Clip::default()
        },
    );
    let out = vstyle!(input, "-m", model("invert.onnx"), "-o", output);
    assert_success(&out);
    let frames = read_frames(&output, 64, 48, true);
    assert_eq!(frames.len(), 1);
    // JPEG at quality 2 on smooth ramps: a few levels. A wrong YUV matrix (the output tagged
    // or converted with another than JPEG's BT.601) shows as a mean error of several levels.
    let expected = inverted(&smooth_pattern(0, 64, 48));
    let d = max_diff(&frames[0], &expected);
    let mean = frames[0]
        .iter()
        .zip(&expected)
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / expected.len() as f64;
    assert!(d <= 8 && mean < 2.0, "max difference {d}, mean {mean:.2}");
}

#[test]
fn text_subtitles_the_container_cannot_hold_are_converted_with_their_timing() {
    let dir = tempfile::tempdir().unwrap();
    let (clip, srt) = (dir.path().join("clip.mkv"), dir.path().join("s.srt"));
    let (input, output) = (dir.path().join("subs.mkv"), dir.path().join("subs.mp4"));
    make_clip(
        &clip,
        &Clip {
            frames: 75,
            codec_args: &["-c:v", "libx264"],
            ..Clip::default()
        },
    );
    let text = "1\n00:00:00,500 --> 00:00:01,200\nHello there\n\n2\n00:00:01,500 --> 00:00:02,400\nSecond line\n\n";
    std::fs::write(&srt, text).unwrap();
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&clip)
        .arg("-i")
        .arg(&srt)
        .args(["-c", "copy", "-c:s", "srt"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(ok.success());
    // SubRip cannot go into MP4: it comes out as mov_text, and says so.
    let out = vstyle!(input, "-m", model("invert.onnx"), "-o", output);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("converting it to mov_text"),
        "{stderr}"
    );
    let back = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&output)
        .args(["-map", "0:s", "-f", "srt", "-"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&back.stdout),
        text,
        "same events, same times"
    );
}
