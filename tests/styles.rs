//! Style-conditioned networks through the real binary: a multi-style network picked by name,
//! index or mix (ours, 0..255, named in the metadata; another project's, 0..1, by index), an
//! arbitrary-style pair fed a style image, channels-last models, the contact sheet, the video
//! preview, and models found by name. The fixtures are exact (tests/data/README.md), so every
//! pixel can be checked.

mod support;

use std::path::{Path, PathBuf};

use support::*;

const W: u32 = 24;
const H: u32 = 16;

/// A flat-coloured PNG of `W x H` (flat, so resizing to a fixed-size model and back is exact).
fn flat_png(dir: &Path, name: &str, rgb: [u8; 3]) -> PathBuf {
    let p = dir.join(name);
    let img = image::RgbImage::from_pixel(W, H, image::Rgb(rgb));
    img.save(&p).unwrap();
    p
}

fn pattern_png(dir: &Path) -> PathBuf {
    let p = dir.join("pattern.png");
    image::RgbImage::from_raw(W, H, pattern(3, W, H))
        .unwrap()
        .save(&p)
        .unwrap();
    p
}

fn pixels(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().to_rgb8().into_raw()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A usage error: exit 2, one line, naming `needle`, and nothing written to `dir` but `keep`.
fn usage_error(out: &std::process::Output, needle: &str, dir: &Path, keep: &[&str]) -> String {
    let e = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit 2: {e}");
    assert_eq!(e.lines().count(), 1, "one line: {e:?}");
    assert!(e.contains(needle), "names {needle:?}: {e}");
    let left: Vec<String> = files_in(dir)
        .into_iter()
        .filter(|f| !keep.contains(&f.as_str()))
        .collect();
    assert!(left.is_empty(), "nothing written, found {left:?}");
    e
}

#[test]
fn each_style_of_a_multi_style_network_and_a_mix_paint_what_they_should() {
    let dir = tempfile::tempdir().unwrap();
    let input = pattern_png(dir.path());
    let src = pixels(&input);
    let m = model("multi_invert.onnx");
    let out = dir.path().join("out.png");

    let run = vstyle!(input, "-m", m, "--style-name", "identity", "-o", out);
    assert_success(&run);
    assert_eq!(pixels(&out), src, "style 0 is the identity");
    assert!(stderr(&run).contains("style identity"), "{}", stderr(&run));

    // By index, and names ignore case.
    for pick in ["1", "INVERT"] {
        let run = vstyle!(input, "-m", m, "--style-name", pick, "-o", out, "-y");
        assert_success(&run);
        assert_eq!(pixels(&out), inverted(&src), "style {pick} inverts");
    }

    // An even mix of identity and inversion is 127.5 everywhere (rounded to 128).
    let run = vstyle!(
        input,
        "-m",
        m,
        "--style-mix",
        "identity=1,invert=1",
        "-o",
        out,
        "-y"
    );
    assert_success(&run);
    assert!(pixels(&out).iter().all(|&v| v == 128));
    assert!(
        stderr(&run).contains("style identity=0.5+invert=0.5"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn a_video_through_a_multi_style_network_keeps_every_frame_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mkv");
    make_clip(&input, &Clip::default());
    let out = dir.path().join("out.mkv");
    let run = vstyle!(
        input,
        "-m",
        model("multi_invert.onnx"),
        "--style-name",
        "invert",
        "--codec",
        "ffv1",
        "--pix-fmt",
        "bgr0",
        "-o",
        out
    );
    assert_success(&run);
    let frames = read_frames(&out, 64, 48, true);
    assert_eq!(frames.len(), 10);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f, &inverted(&pattern(i as u32, 64, 48)), "frame {i}");
    }
}

#[test]
fn a_unit_range_network_by_index_like_styletransfer_lites() {
    let dir = tempfile::tempdir().unwrap();
    let input = pattern_png(dir.path());
    let src = pixels(&input);
    let m = model("multi_unit.onnx");
    let out = dir.path().join("out.png");
    assert_success(&vstyle!(input, "-m", m, "--style-name", "1", "-o", out));
    let got = pixels(&out);
    // 0..1 in and out: y = 1 - x, so 255 - x up to one level of rounding.
    assert!(max_diff(&got, &inverted(&src)) <= 1);
    assert_success(&vstyle!(
        input,
        "-m",
        m,
        "--style-name",
        "2",
        "-o",
        out,
        "-y"
    ));
    assert!(pixels(&out).iter().all(|&v| v == 128), "style 2 is grey");
    // Without its metadata the range would be wrong; the flag overrides it.
    assert_success(&vstyle!(
        input,
        "-m",
        m,
        "--style-name",
        "0",
        "--value-range",
        "0..1",
        "-o",
        out,
        "-y"
    ));
    assert!(max_diff(&pixels(&out), &src) <= 1);
}

#[test]
fn an_arbitrary_style_pair_paints_the_style_images_vector() {
    let dir = tempfile::tempdir().unwrap();
    let content = flat_png(dir.path(), "content.png", [40, 80, 120]);
    let red = flat_png(dir.path(), "red.png", [255, 0, 0]);
    let out = dir.path().join("out.png");
    // The transform's metadata names its predictor (arb_predict.onnx, beside it); the vector is
    // the style image's mean colour and the output (content + vector) / 2.
    let run = vstyle!(
        content,
        "-m",
        model("arb_transform.onnx"),
        "--style",
        red,
        "-o",
        out
    );
    assert_success(&run);
    let got = pixels(&out);
    assert_eq!(
        got.len(),
        (W * H * 3) as usize,
        "the input's size comes back"
    );
    for px in got.chunks(3) {
        assert!(
            max_diff(px, &[148, 40, 60]) <= 1,
            "(content + red) / 2, found {px:?}"
        );
    }
    assert!(stderr(&run).contains("style red"), "{}", stderr(&run));

    // A trained network takes no style image; an arbitrary one needs one.
    let e = usage_error(
        &vstyle!(
            content,
            "-m",
            model("invert.onnx"),
            "--style",
            red,
            "-o",
            out,
            "-y"
        ),
        "takes no style image",
        dir.path(),
        &["content.png", "red.png", "out.png"],
    );
    assert!(e.contains("invert.onnx"), "{e}");
    usage_error(
        &vstyle!(
            content,
            "-m",
            model("arb_transform.onnx"),
            "-o",
            dir.path().join("x.png")
        ),
        "--style IMAGE",
        dir.path(),
        &["content.png", "red.png", "out.png"],
    );
}

#[test]
fn channels_last_models_run_like_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let input = pattern_png(dir.path());
    let out = dir.path().join("out.png");
    assert_success(&vstyle!(input, "-m", model("invert_nhwc.onnx"), "-o", out));
    assert_eq!(pixels(&out), inverted(&pixels(&input)));
}

#[test]
fn bad_style_choices_are_usage_errors_that_list_the_styles() {
    let dir = tempfile::tempdir().unwrap();
    let input = pattern_png(dir.path());
    let keep = ["pattern.png"];
    let out = dir.path().join("out.png");
    let multi = model("multi_invert.onnx");

    let e = usage_error(
        &vstyle!(input, "-m", multi, "--style-name", "mona_lisa", "-o", out),
        "mona_lisa",
        dir.path(),
        &keep,
    );
    assert!(e.contains("identity, invert"), "lists the styles: {e}");
    let e = usage_error(
        &vstyle!(input, "-m", multi, "-o", out),
        "holds 2 styles",
        dir.path(),
        &keep,
    );
    assert!(e.contains("identity, invert"), "{e}");
    usage_error(
        &vstyle!(
            input,
            "-m",
            multi,
            "--style-mix",
            "identity=1,mona_lisa=1",
            "-o",
            out
        ),
        "mona_lisa",
        dir.path(),
        &keep,
    );
    usage_error(
        &vstyle!(
            input,
            "-m",
            multi,
            "--style-mix",
            "identity=-1,invert=2",
            "-o",
            out
        ),
        "0 or more",
        dir.path(),
        &keep,
    );
    usage_error(
        &vstyle!(
            input,
            "-m",
            multi,
            "--style-mix",
            "identity=0,invert=0",
            "-o",
            out
        ),
        "every weight",
        dir.path(),
        &keep,
    );
    usage_error(
        &vstyle!(
            input,
            "-m",
            model("invert.onnx"),
            "--style-mix",
            "a=1",
            "-o",
            out
        ),
        "single-style",
        dir.path(),
        &keep,
    );
    usage_error(
        &vstyle!(
            input,
            "-m",
            model("invert.onnx"),
            "--style-name",
            "a",
            "-o",
            out
        ),
        "single-style",
        dir.path(),
        &keep,
    );
}

#[test]
fn list_styles_prints_names_and_credits() {
    let run = vstyle!("--list-styles", model("multi_invert.onnx"));
    assert_success(&run);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(text.contains("2 styles"), "{text}");
    assert!(
        text.contains("0  identity") && text.contains("1  invert"),
        "{text}"
    );
    assert!(
        text.contains("test fixture: y = 255 - x"),
        "credits: {text}"
    );
    let run = vstyle!("--list-styles", model("multi_unit.onnx"));
    assert_success(&run);
    assert!(String::from_utf8_lossy(&run.stdout).contains("styles 0 to 2"));
    let run = vstyle!("--list-styles", model("invert.onnx"));
    assert_success(&run);
    assert!(String::from_utf8_lossy(&run.stdout).contains("one style"));
}

#[test]
fn the_sheet_paints_every_style_under_its_label() {
    let dir = tempfile::tempdir().unwrap();
    let photo = pattern_png(dir.path());
    let sheet = dir.path().join("sheet.png");
    let run = vstyle!(
        "--sheet",
        photo,
        "-m",
        model("multi_invert.onnx"),
        "-o",
        sheet
    );
    assert_success(&run);
    assert!(stderr(&run).contains("2 styles"), "{}", stderr(&run));
    let img = image::open(&sheet).unwrap().to_rgb8();
    // Three tiles (the photo, identity, invert) in two columns: two rows.
    assert!(
        img.width() > 2 * W && img.height() > 2 * H,
        "{:?}",
        img.dimensions()
    );
    // The inverted tile's pixels are on the sheet: find the top-left pixel of each tile.
    let src = pixels(&photo);
    let first = [src[0], src[1], src[2]];
    let inv = [255 - src[0], 255 - src[1], 255 - src[2]];
    let has = |rgb: [u8; 3]| img.pixels().filter(|p| p.0 == rgb).count();
    assert!(has(first) >= 2, "the photo and the identity tile");
    assert!(has(inv) >= 1, "the inverted tile");
    // Labels: some black ink on the white margin.
    assert!(img.pixels().any(|p| p.0 == [0, 0, 0]));

    // An existing sheet is not overwritten without -y; a non-PNG name is refused.
    assert_eq!(
        vstyle!(
            "--sheet",
            photo,
            "-m",
            model("multi_invert.onnx"),
            "-o",
            sheet
        )
        .status
        .code(),
        Some(1)
    );
    usage_error(
        &vstyle!(
            "--sheet",
            photo,
            "-m",
            model("multi_invert.onnx"),
            "-o",
            dir.path().join("s.jpg")
        ),
        "PNG",
        dir.path(),
        &["pattern.png", "sheet.png"],
    );
}

#[test]
fn the_preview_shows_evenly_spaced_frames_beside_their_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mkv");
    make_clip(&input, &Clip::default());
    let out = dir.path().join("preview.png");
    let run = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "--preview",
        "3",
        "-o",
        out
    );
    assert_success(&run);
    assert!(stderr(&run).contains("3 frames"), "{}", stderr(&run));
    let img = image::open(&out).unwrap().to_rgb8();
    // Two columns (input, output) of 64 px, three rows.
    assert!(
        img.width() >= 2 * 64 && img.width() < 3 * 64,
        "{:?}",
        img.dimensions()
    );
    assert!(
        img.height() >= 3 * 48 && img.height() < 4 * 48 + 100,
        "{:?}",
        img.dimensions()
    );
    assert_eq!(
        files_in(dir.path()),
        ["in.mkv", "preview.png"],
        "no video written"
    );
}

#[test]
fn models_are_found_by_name_from_any_folder() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("my models");
    std::fs::create_dir(&models).unwrap();
    std::fs::copy(model("multi_invert.onnx"), models.join("paint.onnx")).unwrap();
    let input = pattern_png(dir.path());
    let out = dir.path().join("out.png");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_vstyle"))
        .args(["-m", "paint", "--style-name", "invert"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .env("VSTYLE_MODELS", &models)
        .env_remove("ORT_DYLIB_PATH")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_success(&run);
    assert_eq!(pixels(&out), inverted(&pixels(&input)));

    let run = std::process::Command::new(env!("CARGO_BIN_EXE_vstyle"))
        .arg(&input)
        .args(["-m", "no_such_style_model", "-o"])
        .arg(dir.path().join("x.png"))
        .env("VSTYLE_MODELS", &models)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let e = usage_error(
        &run,
        "no_such_style_model",
        dir.path(),
        &["my models", "out.png", "pattern.png"],
    );
    assert!(e.contains("my models"), "lists where it looked: {e}");
}

#[test]
fn precision_picks_the_sibling_file() {
    let dir = tempfile::tempdir().unwrap();
    // Stand-ins: the "float32" model inverts, its "int8" sibling is the identity.
    std::fs::copy(model("invert.onnx"), dir.path().join("m.onnx")).unwrap();
    std::fs::copy(model("identity.onnx"), dir.path().join("m.int8.onnx")).unwrap();
    let input = pattern_png(dir.path());
    let src = pixels(&input);
    let out = dir.path().join("out.png");
    let m = dir.path().join("m.onnx");

    // auto on the CPU: the int8 sibling, named in the summary line.
    let run = vstyle!(input, "-m", m, "-o", out, "--device", "cpu");
    assert_success(&run);
    assert_eq!(pixels(&out), src, "the int8 file ran");
    assert!(stderr(&run).contains("CPU, int8"), "{}", stderr(&run));
    let run = vstyle!(input, "-m", m, "-o", out, "-y", "--precision", "fp32");
    assert_success(&run);
    assert_eq!(pixels(&out), inverted(&src), "the float32 file ran");
    assert!(stderr(&run).contains("CPU, fp32"), "{}", stderr(&run));
    // A file named in a precision runs as it is.
    let run = vstyle!(input, "-m", dir.path().join("m.int8.onnx"), "-o", out, "-y");
    assert_success(&run);
    assert_eq!(pixels(&out), src);
    // A missing sibling asked for by name: exit 2, the file and the command that makes it.
    let e = usage_error(
        &vstyle!(
            input,
            "-m",
            m,
            "-o",
            dir.path().join("x.png"),
            "--precision",
            "fp16"
        ),
        "m.fp16.onnx",
        dir.path(),
        &["m.onnx", "m.int8.onnx", "pattern.png", "out.png"],
    );
    assert!(e.contains("models/to_fp16.py"), "{e}");
}
