//! Defects visible in the pictures: what the eye found, held by numbers.

mod support;

use std::path::Path;

use support::*;

fn pixels(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// Mean brightness of column `x`.
fn column_mean(img: &image::RgbImage, x: u32) -> f64 {
    let sum: u64 = (0..img.height())
        .flat_map(|y| img.get_pixel(x, y).0)
        .map(u64::from)
        .sum();
    sum as f64 / f64::from(img.height() * 3)
}

#[test]
fn the_scream_network_leaves_no_stripe_on_the_right_edge() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("barn.png");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let scream = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/scream.onnx");
    assert_success(&vstyle!(
        samples.join("barn.jpg"),
        "-m",
        scream,
        "--precision",
        "fp32",
        "-o",
        out
    ));
    let img = pixels(&out);
    let w = img.width();
    let last = column_mean(&img, w - 1);
    let before: f64 = (2..6).map(|k| column_mean(&img, w - k)).sum::<f64>() / 4.0;
    // Without the mirrored margin the last column was 82.6 against 71 beside it.
    assert!(
        (last - before).abs() < 0.1 * before,
        "last column {last:.1} against {before:.1} beside it"
    );
}

/// Share of the pixels that stand out from their 3x3 neighbourhood's median by more than 80
/// levels in a channel: single-pixel dots.
fn dots(img: &image::RgbImage) -> f64 {
    let (w, h) = img.dimensions();
    let mut n = 0;
    for y in 0..h {
        for x in 0..w {
            let odd = (0..3).any(|c| {
                let mut around: Vec<u8> = (-1i32..=1)
                    .flat_map(|dy| (-1i32..=1).map(move |dx| (dx, dy)))
                    .map(|(dx, dy)| {
                        let xx = (x as i32 + dx).clamp(0, w as i32 - 1) as u32;
                        let yy = (y as i32 + dy).clamp(0, h as i32 - 1) as u32;
                        img.get_pixel(xx, yy).0[c]
                    })
                    .collect();
                around.sort_unstable();
                img.get_pixel(x, y).0[c].abs_diff(around[4]) > 80
            });
            n += usize::from(odd);
        }
    }
    n as f64 / f64::from(w * h)
}

/// With the loss network set-up prepares (`models/vgg16_features.onnx`): the tiny test network's
/// gradients are steep enough to move even saturated pixels.
#[test]
fn a_texture_from_noise_keeps_no_stuck_saturated_dots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("texture.png");
    let style = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/styles/the_scream.jpg");
    let run = vstyle!(
        "--mode",
        "optimize",
        "--style",
        style,
        "--content-weight",
        "0",
        "--size",
        "64",
        "--steps",
        "40",
        "-o",
        out
    );
    assert_success(&run);
    let share = dots(&pixels(&out));
    // From noise over the whole 0..255 range, pixels that started near an end stayed there.
    assert!(share < 0.005, "{:.2} % single-pixel dots", share * 100.0);
}

#[test]
fn a_light_network_below_the_resolution_it_needs_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 150]))
        .save(&input)
        .unwrap();
    let light = model("light_multi.onnx");
    let run = |side: &str, out: &str| {
        let run = vstyle!(
            input,
            "-m",
            light,
            "--style-name",
            "0",
            "--max-side",
            side,
            "-o",
            dir.path().join(out)
        );
        assert_success(&run);
        String::from_utf8_lossy(&run.stderr).into_owned()
    };
    let e = run("360", "small.png");
    let warnings: Vec<&str> = e.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{e}");
    assert!(
        warnings[0].contains("light_multi.onnx") && warnings[0].contains("480"),
        "{e}"
    );
    let e = run("640", "large.png");
    assert!(!e.contains("warning"), "{e}");
    // A standard network is not warned about.
    let run = vstyle!(
        input,
        "-m",
        model("transformer_net.onnx"),
        "--max-side",
        "360",
        "-o",
        dir.path().join("std.png")
    );
    assert_success(&run);
    assert!(!String::from_utf8_lossy(&run.stderr).contains("warning"));
}
