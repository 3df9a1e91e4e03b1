//! `--temporal` through the real binary: the blend changes pixels, never the frames — count,
//! order and timestamps stay the input's, with several workers finishing frames out of order.

mod support;

use support::*;

#[test]
fn temporal_keeps_frame_count_order_and_timestamps_with_workers() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vfr.mkv");
    make_clip(
        &input,
        &Clip {
            frames: 24,
            width: 96,
            height: 64,
            // A jump in the timestamps after frame 5: a variable frame rate.
            setpts: Some("N/25/TB+gte(N\\,5)*0.3/TB"),
            smooth: true,
            ..Clip::default()
        },
    );
    let plain = dir.path().join("plain.mkv");
    let blended = dir.path().join("blended.mkv");
    for (out, extra) in [(&plain, None), (&blended, Some("0.3"))] {
        let mut args: Vec<std::ffi::OsString> = vec![
            input.clone().into(),
            "-m".into(),
            model("small_conv.onnx").into(),
            "--workers".into(),
            "2".into(),
            "--codec".into(),
            "ffv1".into(),
            "--pix-fmt".into(),
            "bgr0".into(),
            "-o".into(),
            out.into(),
        ];
        if let Some(s) = extra {
            args.extend(["--temporal".into(), s.into()]);
        }
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        assert_success(&support::vstyle(&refs));
    }
    let pts_in = video_pts(&input);
    assert_eq!(pts_in.len(), 24);
    assert_eq!(video_pts(&blended), pts_in, "timestamps unchanged");
    let a = read_frames(&plain, 96, 64, true);
    let b = read_frames(&blended, 96, 64, true);
    assert_eq!((a.len(), b.len()), (24, 24));
    // The first frame has nothing to blend with; later ones moved (the clip's colour changes
    // every frame, so the previous output differs), and stay close to their own frame, in order.
    assert_eq!(a[0], b[0], "frame 0 is the network's own");
    let changed = (1..24).filter(|&i| a[i] != b[i]).count();
    assert!(changed > 0, "the blend changed some frames");
    for (i, out) in b.iter().enumerate().skip(1) {
        // Among the neighbours (the clip's colours repeat every 15 frames).
        let closest = (i.saturating_sub(3)..(i + 4).min(24))
            .min_by_key(|&j| {
                a[j].iter()
                    .zip(out)
                    .map(|(x, y)| u64::from(x.abs_diff(*y)))
                    .sum::<u64>()
            })
            .unwrap();
        assert!(
            closest == i || closest + 1 == i,
            "frame {i} looks like plain frame {closest}: out of order"
        );
    }
}

#[test]
fn temporal_strength_outside_zero_to_one_is_a_usage_error() {
    let r = vstyle!("x.mp4", "-m", model("invert.onnx"), "--temporal", "1.5");
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn decoder_motion_keeps_frame_count_and_timestamps() {
    // H.264 without B frames: every P frame's vectors point at the previous frame.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ippp.mp4");
    make_clip(
        &input,
        &Clip {
            frames: 12,
            width: 96,
            height: 64,
            codec_args: &["-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p"],
            smooth: true,
            ..Clip::default()
        },
    );
    let mut pts = Vec::new();
    for motion in ["flow", "decoder"] {
        let out = dir.path().join(format!("{motion}.mkv"));
        let r = vstyle!(
            &input,
            "-m",
            model("small_conv.onnx"),
            "--temporal",
            "--temporal-motion",
            motion,
            "--codec",
            "ffv1",
            "-o",
            &out
        );
        assert_success(&r);
        pts.push(video_pts(&out));
    }
    assert_eq!(pts[0].len(), 12, "every frame out");
    assert_eq!(
        pts[0], pts[1],
        "the same frames and timestamps with either motion"
    );
}

#[test]
fn temporal_motion_without_temporal_is_a_usage_error() {
    let r = vstyle!(
        "x.mp4",
        "-m",
        model("invert.onnx"),
        "--temporal-motion",
        "decoder"
    );
    assert_eq!(r.status.code(), Some(2));
}
