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
