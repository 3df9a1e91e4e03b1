//! Frames in tiles (`--tile`, `--max-memory`): every instance norm takes its statistics from a
//! thumbnail of the frame, and tiles overlap by the network's receptive margin. With a
//! thumbnail as large as the frame the statistics are the frame's own, and the tiles must then
//! give the whole-frame output (up to rounding), for a single-style network, a multi-style one
//! with a mix, on an image and through `--temporal` on a clip. A network without instance
//! norms falls back to whole frames and says so; bad settings are refused before any work.

mod support;

use std::path::{Path, PathBuf};

use support::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A PNG of a busy pattern of `w x h` (sides that are not multiples of 4 on purpose).
fn photo(dir: &Path, w: u32, h: u32) -> PathBuf {
    let p = dir.join("photo.png");
    image::RgbImage::from_raw(w, h, pattern(5, w, h))
        .unwrap()
        .save(&p)
        .unwrap();
    p
}

fn pixels(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().to_rgb8().into_raw()
}

/// Stylizes `input` with `args`, whole and in tiles of `tile` px with the frame's own
/// statistics, and returns both outputs' pixels.
fn whole_and_tiled(dir: &Path, input: &Path, args: &[&str], tile: &str) -> (Vec<u8>, Vec<u8>) {
    let whole = dir.join("whole.png");
    let tiled = dir.join("tiled.png");
    for (out, extra) in [
        (&whole, vec!["--tile", "off"]),
        (&tiled, vec!["--tile", tile, "--tile-thumbnail", "4096"]),
    ] {
        let mut a: Vec<&std::ffi::OsStr> = vec![input.as_os_str()];
        a.extend(args.iter().map(std::ffi::OsStr::new));
        a.extend(extra.iter().map(std::ffi::OsStr::new));
        a.extend(["-o".as_ref(), out.as_os_str(), "-y".as_ref()]);
        assert_success(&vstyle(&a));
    }
    (pixels(&whole), pixels(&tiled))
}

#[test]
fn tiles_with_the_frames_own_statistics_give_the_whole_frame_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = photo(dir.path(), 150, 98);
    // The shipped network (trained, so its output is a picture; the standard architecture).
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/scream.onnx");
    let (whole, tiled) = whole_and_tiled(
        dir.path(),
        &input,
        &["-m", model.to_str().unwrap(), "--precision", "fp32"],
        "64",
    );
    assert!(
        max_diff(&whole, &tiled) <= 1,
        "{}",
        max_diff(&whole, &tiled)
    );
    // The output is a picture, not a constant that would match anyway.
    assert!(whole.iter().max().unwrap() - whole.iter().min().unwrap() > 20);
}

#[test]
fn an_opset_9_network_runs_in_tiles_like_the_whole_frame() {
    // The derived graphs speak the network's own opset (Slice's bounds as attributes before 10).
    let dir = tempfile::tempdir().unwrap();
    let input = photo(dir.path(), 120, 80);
    let model = model("norm_opset9.onnx");
    let (whole, tiled) =
        whole_and_tiled(dir.path(), &input, &["-m", model.to_str().unwrap()], "32");
    assert!(
        max_diff(&whole, &tiled) <= 1,
        "{}",
        max_diff(&whole, &tiled)
    );
    assert!(whole.iter().max().unwrap() - whole.iter().min().unwrap() > 20);
}

#[test]
fn a_multi_style_network_and_a_mix_run_in_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let input = photo(dir.path(), 130, 90);
    let model = model("light_multi.onnx");
    let m = model.to_str().unwrap();
    let (calm, calm_tiled) =
        whole_and_tiled(dir.path(), &input, &["-m", m, "--style-name", "calm"], "64");
    assert!(max_diff(&calm, &calm_tiled) <= 1);
    let (mix, mix_tiled) = whole_and_tiled(
        dir.path(),
        &input,
        &["-m", m, "--style-mix", "calm=0.3,wild=0.7"],
        "64",
    );
    assert!(max_diff(&mix, &mix_tiled) <= 1);
    assert!(max_diff(&calm, &mix) > 10, "the mix paints differently");
}

#[test]
fn a_thumbnail_smaller_than_the_frame_still_paints_the_frame_seamlessly_close() {
    // Statistics from a quarter-size thumbnail: not exact, but close, with the same look.
    let dir = tempfile::tempdir().unwrap();
    let w = 240;
    let h = 160;
    let p = dir.path().join("smooth.png");
    image::RgbImage::from_raw(w, h, smooth_pattern(2, w, h))
        .unwrap()
        .save(&p)
        .unwrap();
    let model = model("light_multi.onnx");
    let whole = dir.path().join("whole.png");
    let tiled = dir.path().join("tiled.png");
    for (out, extra) in [
        (&whole, ["--tile", "off", "--tile-thumbnail", "4096"]),
        (&tiled, ["--tile", "64", "--tile-thumbnail", "120"]),
    ] {
        assert_success(&vstyle!(
            &p,
            "-m",
            &model,
            "--style-name",
            "wild",
            extra[0],
            extra[1],
            extra[2],
            extra[3],
            "-o",
            out
        ));
    }
    let (a, b) = (pixels(&whole), pixels(&tiled));
    let mse: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    let psnr = 10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10();
    assert!(psnr > 25.0 && psnr < 90.0, "PSNR {psnr:.1} dB");
}

#[test]
fn temporal_video_in_tiles_matches_whole_frames() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("in.mkv");
    make_clip(
        &clip,
        &Clip {
            width: 96,
            height: 64,
            frames: 6,
            smooth: true,
            ..Clip::default()
        },
    );
    let model = model("light_multi.onnx");
    let mut frames = Vec::new();
    for (name, extra) in [
        ("whole.mkv", ["--tile", "off", "--tile-thumbnail", "4096"]),
        ("tiled.mkv", ["--tile", "56", "--tile-thumbnail", "4096"]),
    ] {
        // Every frame measures its own statistics (--tile-refresh 1).
        let out = dir.path().join(name);
        assert_success(&vstyle!(
            &clip,
            "-m",
            &model,
            "--style-name",
            "wild",
            "--temporal",
            "--codec",
            "ffv1",
            "--pix-fmt",
            "bgr0",
            extra[0],
            extra[1],
            extra[2],
            extra[3],
            "--tile-refresh",
            "1",
            "-o",
            &out
        ));
        frames.push(read_frames(&out, 96, 64, true));
    }
    assert_eq!(frames[0].len(), 6);
    assert_eq!(frames[1].len(), 6);
    for (a, b) in frames[0].iter().zip(&frames[1]) {
        assert!(max_diff(a, b) <= 2, "{}", max_diff(a, b));
    }
}

#[test]
fn smoothing_over_time_starts_at_the_first_frame_and_then_mixes_in_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("in.mkv");
    make_clip(
        &clip,
        &Clip {
            width: 96,
            height: 64,
            frames: 5,
            smooth: true,
            ..Clip::default()
        },
    );
    let model = model("light_multi.onnx");
    let mut frames = Vec::new();
    for (name, share) in [("own.mkv", "0"), ("smoothed.mkv", "0.9")] {
        let out = dir.path().join(name);
        assert_success(&vstyle!(
            &clip,
            "-m",
            &model,
            "--style-name",
            "wild",
            "--codec",
            "ffv1",
            "--pix-fmt",
            "bgr0",
            "--tile",
            "56",
            "--tile-thumbnail",
            "64",
            "--tile-smoothing",
            share,
            "--tile-refresh",
            "1",
            "-o",
            &out
        ));
        frames.push(read_frames(&out, 96, 64, true));
    }
    assert_eq!(frames[0].len(), 5);
    assert_eq!(frames[1].len(), 5);
    // The first frame has no past; the next run with statistics that lag behind their own
    // (the clip's colour moves from frame to frame), so they differ, by a little, until a
    // move large for this flat clip counts as a scene cut and starts afresh.
    assert_eq!(frames[0][0], frames[1][0]);
    let diffs: Vec<u8> = (1..5)
        .map(|i| max_diff(&frames[0][i], &frames[1][i]))
        .collect();
    assert!(diffs[0] > 0 && diffs.iter().all(|&d| d < 128), "{diffs:?}");
}

#[test]
fn statistics_are_reused_while_frames_look_alike_and_measured_again_at_a_cut_or_the_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (96u32, 64u32);
    // Six frames whose blue creeps up by 2 levels a frame (0.67 a frame in the glance's mean
    // over the three colours, under its threshold of 3 for four frames), then a cut to another
    // picture that creeps the same way.
    let creep = |base: Vec<u8>, step: u32| -> Vec<u8> {
        base.chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2].saturating_add((2 * step) as u8)])
            .collect()
    };
    let mut frames: Vec<Vec<u8>> = (0..6).map(|i| creep(smooth_pattern(0, w, h), i)).collect();
    let other: Vec<u8> = smooth_pattern(0, w, h)
        .chunks_exact(3)
        .flat_map(|p| [255 - p[1], p[0] / 2, 200 - p[2] / 2])
        .collect();
    frames.extend((0..4).map(|i| creep(other.clone(), i)));
    let clip = dir.path().join("in.mkv");
    make_clip_of(
        &clip,
        &Clip {
            width: w,
            height: h,
            frames: frames.len() as u32,
            ..Clip::default()
        },
        |i| frames[i as usize].clone(),
    );
    let model = model("light_multi.onnx");
    let mut outs = Vec::new();
    for refresh in ["1", "4", "1000"] {
        let out = dir.path().join(format!("r{refresh}.mkv"));
        assert_success(&vstyle!(
            &clip,
            "-m",
            &model,
            "--style-name",
            "wild",
            "--codec",
            "ffv1",
            "--pix-fmt",
            "bgr0",
            "--tile",
            "56",
            "--tile-thumbnail",
            "64",
            "--tile-refresh",
            refresh,
            "-o",
            &out
        ));
        let f = read_frames(&out, w, h, true);
        assert_eq!(f.len(), 10);
        outs.push(f);
    }
    let same = |a: &Vec<Vec<u8>>, b: &Vec<Vec<u8>>| -> Vec<bool> {
        a.iter().zip(b).map(|(x, y)| x == y).collect()
    };
    // Every 4th frame measures (0 and 4), the cut measures (6), the rest reuse and so differ a
    // little from their own statistics' output.
    let r4 = same(&outs[0], &outs[1]);
    assert_eq!(
        r4,
        [
            true, false, false, false, true, false, true, false, false, false
        ],
        "--tile-refresh 4 against 1"
    );
    // Without a limit the creep itself ends the reuse (frame 5 has moved 3.3 levels from
    // frame 0), and the cut still measures.
    let r1000 = same(&outs[0], &outs[2]);
    assert_eq!(
        r1000,
        [
            true, false, false, false, false, true, true, false, false, false
        ],
        "--tile-refresh 1000 against 1"
    );
    // The difference grows with how stale the statistics are (mean over the pixels).
    let mean_diff = |a: &[u8], b: &[u8]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(x.abs_diff(*y)))
            .sum::<f64>()
            / a.len() as f64
    };
    let diffs: Vec<f64> = outs[0]
        .iter()
        .zip(&outs[1])
        .map(|(a, b)| mean_diff(a, b))
        .collect();
    assert!(
        diffs[1] < diffs[2] && diffs[2] < diffs[3] && diffs[7] < diffs[8] && diffs[8] < diffs[9],
        "{diffs:?}"
    );
}

#[test]
fn a_network_without_instance_norms_runs_whole_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let input = photo(dir.path(), 400, 300);
    let out = dir.path().join("out.png");
    let m = model("small_conv.onnx");
    // Over the budget: runs whole, with one line that says why.
    let run = vstyle!(&input, "-m", &m, "--max-memory", "64M", "-o", &out);
    assert_success(&run);
    let e = stderr(&run);
    assert!(
        e.contains("cannot run in tiles") && e.contains("no InstanceNormalization"),
        "{e}"
    );
    assert!(out.exists());
    // Tiles asked for explicitly: a usage error before any work.
    let out2 = dir.path().join("out2.png");
    let run = vstyle!(&input, "-m", &m, "--tile", "64", "-o", &out2);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("cannot run in tiles"));
    assert!(!out2.exists());
}

#[test]
fn bad_tile_settings_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = photo(dir.path(), 40, 30);
    let m = model("transformer_net.onnx");
    for (flag, value, needle) in [
        ("--tile", "0", "0 pixels"),
        ("--tile", "7", "receptive margin"),
        ("--tile", "big", "not auto, off or a size"),
        ("--max-memory", "1K", "at least 64M"),
        ("--max-memory", "lots", "not a size"),
        ("--tile-smoothing", "1", "not a share"),
        ("--tile-smoothing", "1.5", "not a share"),
        ("--tile-smoothing", "much", "not a share"),
        ("--tile-refresh", "0", "--tile-refresh"),
        ("--tile-refresh", "often", "--tile-refresh"),
    ] {
        let out = dir.path().join("out.png");
        let run = vstyle!(&input, "-m", &m, flag, value, "-o", &out);
        let e = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{flag} {value}: {e}");
        assert!(e.contains(needle), "{flag} {value}: {e}");
        assert!(
            e.lines().filter(|l| !l.trim().is_empty()).count() <= 3,
            "{flag} {value}: short: {e}"
        );
        assert!(!out.exists(), "{flag} {value}: nothing written");
    }
    // Files side by side share one network, whose statistics over time would mix them.
    let out = dir.path().join("out");
    for (flag, value) in [("--tile-smoothing", "0.5"), ("--tile-refresh", "4")] {
        let run = vstyle!(&input, &input, "-m", &m, "-j", "2", flag, value, "-o", &out);
        let e = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{flag}: {e}");
        assert!(e.contains(flag) && e.contains("-j 1"), "{flag}: {e}");
        assert!(!out.exists(), "{flag}");
    }
}

#[test]
fn the_default_budget_holds_the_thumbnail_pass_that_an_explicit_one_may_refuse() {
    // A thumbnail far beyond 64M: refused with --max-memory 64M, and the default budget grows
    // to hold it (as float32 networks need beside the default thumbnail) instead of refusing a
    // run the user gave no budget for.
    let dir = tempfile::tempdir().unwrap();
    let input = photo(dir.path(), 40, 30);
    let m = model("transformer_net.onnx");
    let out = dir.path().join("out.png");
    let run = vstyle!(
        &input,
        "-m",
        &m,
        "--tile-thumbnail",
        "8000",
        "--max-memory",
        "64M",
        "-o",
        &out
    );
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("too little"), "{}", stderr(&run));
    assert!(!out.exists());
    let run = vstyle!(&input, "-m", &m, "--tile-thumbnail", "8000", "-o", &out);
    assert_success(&run);
    assert!(out.exists());
}
