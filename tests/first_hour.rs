//! A new user's first hour: finding the installed models, a painting of one's own taking the
//! fast route, the habits ffmpeg users bring, and the small things a first run shows.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::*;

const W: u32 = 32;
const H: u32 = 24;

fn flat_png(dir: &Path, name: &str, rgb: [u8; 3]) -> PathBuf {
    let p = dir.join(name);
    image::RgbImage::from_pixel(W, H, image::Rgb(rgb))
        .save(&p)
        .unwrap();
    p
}

fn pixels(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().to_rgb8().into_raw()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A model folder as set-up makes one, from the test fixtures: `invert` (single style),
/// `multi_invert` (two named styles), `arbitrary` with its predictor.
fn model_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("invert.onnx", "invert.onnx"),
        ("multi_invert.onnx", "multi_invert.onnx"),
        ("arb_transform.onnx", "arbitrary.onnx"),
        ("arb_predict.onnx", "arb_predict.onnx"),
    ] {
        std::fs::copy(model(from), dir.path().join(to)).unwrap();
    }
    dir
}

/// vstyle with `models` first among the model folders.
fn vstyle_with(models: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vstyle"))
        .args(args)
        .env("VSTYLE_MODELS", models)
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("VSTYLE_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("vstyle runs")
}

macro_rules! vstyle_in {
    ($models:expr, $($a:expr),* $(,)?) => {
        vstyle_with($models, &[$(::std::convert::AsRef::<::std::ffi::OsStr>::as_ref(&$a)),*])
    };
}

/// A usage error: exit 2, one line, naming `needle`, and nothing written to `dir` but `keep`.
fn usage_error(out: &Output, needle: &str, dir: &Path, keep: &[&str]) -> String {
    let e = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit 2: {e}");
    assert_eq!(e.lines().count(), 1, "one line: {e:?}");
    assert!(e.starts_with("error: "), "{e}");
    assert!(e.contains(needle), "names {needle:?}: {e}");
    let left: Vec<String> = files_in(dir)
        .into_iter()
        .filter(|f| !keep.contains(&f.as_str()))
        .collect();
    assert!(left.is_empty(), "nothing written, found {left:?}");
    e
}

#[test]
fn list_models_shows_what_is_installed_and_a_slip_is_answered_with_a_suggestion() {
    let models = model_folder();
    let run = vstyle_in!(models.path(), "--list-models");
    assert_success(&run);
    let table = stdout(&run);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("a row for {name}: {table}"))
            .to_string()
    };
    assert!(row("invert").contains("single"), "{table}");
    let multi = row("multi_invert");
    assert!(multi.contains("multi") && multi.contains(" 2 "), "{table}");
    assert!(row("arbitrary").contains("arbitrary"), "{table}");
    assert!(row("arb_predict").contains("other"), "{table}");
    assert!(row("invert").contains("fp32"), "{table}");

    let run = vstyle_in!(models.path(), "--list-models", "--json");
    assert_success(&run);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let multi = json
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "multi_invert")
        .unwrap();
    assert_eq!(multi["kind"], "multi");
    assert_eq!(multi["styles"], 2);
    assert_eq!(multi["names"], serde_json::json!(["identity", "invert"]));
    assert_eq!(multi["precisions"], serde_json::json!(["fp32"]));
    assert!(
        multi["path"]
            .as_str()
            .unwrap()
            .ends_with("multi_invert.onnx")
    );

    let dir = tempfile::tempdir().unwrap();
    let input = flat_png(dir.path(), "in.png", [10, 20, 30]);
    let e = usage_error(
        &vstyle_in!(
            models.path(),
            input,
            "-m",
            "invrt",
            "-o",
            dir.path().join("o.png")
        ),
        "did you mean invert?",
        dir.path(),
        &["in.png"],
    );
    assert!(
        e.contains("multi_invert") && e.contains("--list-models"),
        "{e}"
    );
}

#[test]
fn help_examples_name_only_models_that_set_up_installs() {
    let run = vstyle!("--help");
    assert_success(&run);
    let help = stdout(&run);
    for name in help
        .lines()
        .filter(|l| l.trim_start().starts_with("vstyle "))
        .flat_map(|l| {
            let words: Vec<String> = l.split_whitespace().map(String::from).collect();
            words
                .windows(2)
                .filter(|w| w[0] == "-m" || w[0] == "--list-styles")
                .map(|w| w[1].clone())
                .collect::<Vec<_>>()
        })
    {
        assert!(
            [
                "scream",
                "scream_light",
                "paintings",
                "multistyle26",
                "arbitrary"
            ]
            .contains(&name.as_str()),
            "--help names a model set-up does not install: {name}"
        );
    }
    assert!(help.contains("--list-models"), "{help}");
}

#[test]
fn list_styles_of_unnamed_styles_points_to_the_sheet() {
    // multi_unit.onnx holds three styles without names.
    let run = vstyle!("--list-styles", model("multi_unit.onnx"));
    assert_success(&run);
    let listing = stdout(&run);
    assert!(listing.contains("names none"), "{listing}");
    assert!(listing.contains("--sheet PHOTO.jpg -m"), "{listing}");
}

#[test]
fn a_painting_without_a_mode_takes_the_arbitrary_network_and_says_so() {
    let models = model_folder();
    let dir = tempfile::tempdir().unwrap();
    let content = flat_png(dir.path(), "content.png", [40, 80, 120]);
    let red = flat_png(dir.path(), "red.png", [255, 0, 0]);
    let blue = flat_png(dir.path(), "blue.png", [0, 0, 255]);
    let out = dir.path().join("out.png");
    // No -m, no --mode: the installed `arbitrary` network paints it (the fixture's output is
    // (content + the style image's mean colour) / 2), in one pass, not the optimiser.
    let run = vstyle_in!(models.path(), content, "--style", red, "-o", out);
    assert_success(&run);
    for px in pixels(&out).chunks(3) {
        assert!(max_diff(px, &[148, 40, 60]) <= 1, "{px:?}");
    }
    let e = stderr(&run);
    let notes: Vec<&str> = e.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(notes.len(), 1, "one line says which route ran: {e}");
    assert!(
        notes[0].contains("arbitrary-style network") && notes[0].contains("--mode optimize"),
        "{e}"
    );

    // Two paintings blend through the style vectors, with weights.
    let run = vstyle_in!(
        models.path(),
        content,
        "--style",
        format!("{}=0.75", red.display()),
        "--style",
        format!("{}=0.25", blue.display()),
        "-o",
        out,
        "-y"
    );
    assert_success(&run);
    // vector (191.25, 0, 63.75); output ((40 + 191.25) / 2, 40, (120 + 63.75) / 2).
    for px in pixels(&out).chunks(3) {
        assert!(max_diff(px, &[116, 40, 92]) <= 1, "{px:?}");
    }
    assert!(
        stderr(&run).contains("style red 0.75 + blue 0.25"),
        "{}",
        stderr(&run)
    );
    // Equal weights when none are given.
    let run = vstyle_in!(
        models.path(),
        content,
        "--style",
        red,
        "--style",
        blue,
        "-o",
        out,
        "-y"
    );
    assert_success(&run);
    for px in pixels(&out).chunks(3) {
        assert!(max_diff(px, &[84, 40, 124]) <= 1, "{px:?}");
    }

    // The optimiser takes one painting.
    let keep = ["content.png", "red.png", "blue.png", "out.png"];
    usage_error(
        &vstyle_in!(
            models.path(),
            content,
            "--mode",
            "optimize",
            "--style",
            red,
            "--style",
            blue,
            "-o",
            dir.path().join("o2.png")
        ),
        "one --style image",
        dir.path(),
        &keep,
    );
    usage_error(
        &vstyle_in!(
            models.path(),
            content,
            "--style",
            format!("{}=lots", red.display()),
            "-o",
            dir.path().join("o2.png")
        ),
        "not a weight",
        dir.path(),
        &keep,
    );
}

#[test]
fn ffmpeg_habits_an_output_named_last_is_refused_and_every_input_is_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let input = flat_png(dir.path(), "in.png", [10, 20, 30]);
    let inv = model("invert.onnx");
    let e = usage_error(
        &vstyle!(input, dir.path().join("out.png"), "-m", inv),
        "to name the output use -o",
        dir.path(),
        &["in.png"],
    );
    assert!(e.contains("out.png"), "{e}");
    // A missing input among several stops the run before the first is stylized.
    let other = flat_png(dir.path(), "b.png", [1, 2, 3]);
    let run = vstyle!(input, other, dir.path().join("gone.png"), "-m", inv);
    let e = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("gone.png") && e.contains("no such file"), "{e}");
    assert_eq!(files_in(dir.path()), ["b.png", "in.png"], "nothing written");
}

#[test]
fn ffmpeg_habits_i_ss_and_t_work_as_in_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("in.mkv");
    make_clip(
        &clip,
        &Clip {
            frames: 20,
            ..Clip::default()
        },
    );
    let out = dir.path().join("out.mkv");
    let run = vstyle!(
        "-ss",
        "0.2",
        "-t",
        "0.4",
        "-i",
        clip,
        "-m",
        model("invert.onnx"),
        "--codec",
        "ffv1",
        "-o",
        out
    );
    assert_success(&run);
    let frames = read_frames(&out, 64, 48, true);
    assert_eq!(frames.len(), 10, "0.4 s at 25 fps");
    assert_eq!(frames[0], inverted(&read_frames(&clip, 64, 48, true)[5]));
}

#[test]
fn encoder_presets_and_tunes_are_checked_against_the_encoder_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = flat_png(dir.path(), "in.png", [10, 20, 30]);
    let out = dir.path().join("out.mp4");
    // A missing model shows the check comes before the model loads.
    let missing = dir.path().join("no_model.onnx");
    let e = usage_error(
        &vstyle!(input, "-m", missing, "--preset", "fsat", "-o", out),
        "--preset",
        dir.path(),
        &["in.png"],
    );
    assert!(e.contains("fsat") && e.contains("veryfast, faster"), "{e}");
    let e = usage_error(
        &vstyle!(
            input,
            "-m",
            missing,
            "--encoder-opt",
            "tune=flim",
            "-o",
            out
        ),
        "tune",
        dir.path(),
        &["in.png"],
    );
    assert!(e.contains("film, animation"), "{e}");
    let e = usage_error(
        &vstyle!(
            input, "-m", missing, "--codec", "libx265", "--preset", "turbo", "-o", out
        ),
        "libx265",
        dir.path(),
        &["in.png"],
    );
    assert!(e.contains("ultrafast"), "{e}");
}

#[test]
fn small_things_one_frame_the_style_of_scream_gpu_and_the_manual() {
    let dir = tempfile::tempdir().unwrap();
    let input = flat_png(dir.path(), "in.png", [10, 20, 30]);
    let run = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "-o",
        dir.path().join("o.png")
    );
    assert_success(&run);
    let e = stderr(&run);
    assert!(e.contains(": 1 frame in "), "{e}");

    // The shipped single-style network names its style, as the light one does.
    let run = vstyle!("--list-styles", "scream");
    assert_success(&run);
    assert!(
        stdout(&run).contains("one style, the_scream"),
        "{}",
        stdout(&run)
    );

    // The shipped seven-painting network lists its paintings by name, paints each by name, and
    // refuses a name it does not hold with the list, before any work.
    let run = vstyle!("--list-styles", "paintings");
    assert_success(&run);
    let list = stdout(&run);
    for name in [
        "the_scream",
        "starry_night",
        "great_wave",
        "composition_vii",
        "shipwreck_minotaur",
        "udnie",
        "woman_with_hat",
    ] {
        assert!(list.contains(name), "{name} missing: {list}");
    }
    assert!(list.contains("7 styles"), "{list}");
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lighthouse.jpg");
    let paint = |style: &str, out: &Path| {
        vstyle!(&photo, "-m", "paintings", "--style-name", style, "-o", out)
    };
    let out = dir.path().join("udnie.png");
    let run = paint("udnie", &out);
    assert_success(&run);
    assert!(stderr(&run).contains("style udnie"), "{}", stderr(&run));
    // The photo's size; another style paints another picture (the name is not ignored).
    let styled = image::open(&out).unwrap().to_rgb8();
    assert_eq!((styled.width(), styled.height()), (640, 372));
    let wave = dir.path().join("wave.png");
    assert_success(&paint("great_wave", &wave));
    let wave = image::open(&wave).unwrap().to_rgb8();
    let differ = styled
        .as_raw()
        .iter()
        .zip(wave.as_raw())
        .filter(|(a, b)| a.abs_diff(**b) > 32)
        .count();
    assert!(
        differ * 4 > styled.as_raw().len(),
        "udnie and great_wave alike: {differ}"
    );
    let missing = dir.path().join("missing.png");
    let run = paint("mona_lisa", &missing);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let e = stderr(&run);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(e.contains("mona_lisa") && e.contains("udnie"), "{e}");
    assert!(!missing.exists());

    // --device gpu is CUDA's other name: never "invalid value".
    let run = vstyle!(
        input,
        "-m",
        model("invert.onnx"),
        "--device",
        "gpu",
        "-o",
        dir.path().join("g.png")
    );
    let e = stderr(&run);
    assert!(!e.contains("invalid value"), "{e}");
    if !run.status.success() {
        assert!(e.contains("cuda") || e.contains("CUDA"), "{e}");
    }

    let run = vstyle!("--manpage");
    assert_success(&run);
    let page = stdout(&run);
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        "VSTYLE_MODELS",
        "130",
    ] {
        assert!(page.contains(section), "{section} in the manual page");
    }
}

#[test]
fn the_batch_table_says_why_done_can_exceed_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for (i, name) in ["a.mkv", "b.mkv", "c.mkv", "d.mkv"].iter().enumerate() {
        make_clip(
            &inputs.join(name),
            &Clip {
                frames: 6 + i as u32,
                ..Clip::default()
            },
        );
    }
    let run = vstyle!(
        inputs,
        "-m",
        model("invert.onnx"),
        "-o",
        dir.path().join("out"),
        "-j",
        "4"
    );
    assert_success(&run);
    let e = stderr(&run);
    let secs = |row: &str| -> f64 {
        e.lines()
            .find(|l| l.starts_with(row) && !l.starts_with("done:"))
            .unwrap_or_else(|| panic!("{row} in {e}"))
            .split_whitespace()
            .nth(3)
            .unwrap()
            .parse()
            .unwrap()
    };
    if secs("done") > secs("total") {
        assert!(e.contains("side by side"), "{e}");
    }
}

#[test]
fn a_sheet_for_every_case_all_installed_models_one_model_several_paintings() {
    let models = model_folder();
    let dir = tempfile::tempdir().unwrap();
    let photo = flat_png(dir.path(), "photo.png", [40, 80, 120]);
    let red = flat_png(dir.path(), "red.png", [255, 0, 0]);
    let blue = flat_png(dir.path(), "blue.png", [0, 0, 255]);
    let size = |p: &Path| image::image_dimensions(p).unwrap();

    // No -m: every installed style network, multi-style ones with all their styles; the
    // arbitrary one is named as left out (it needs a painting).
    let all = dir.path().join("all.png");
    let run = vstyle_in!(
        models.path(),
        "--sheet",
        photo,
        "-o",
        all,
        "--max-side",
        "32"
    );
    assert_success(&run);
    let e = stderr(&run);
    let styles: usize = e
        .split("wrote ")
        .nth(1)
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the count of styles: {e}"));
    // invert (1) and multi_invert (2) at least, with what else is installed.
    assert!(styles >= 3, "{e}");
    assert!(e.contains("arbitrary (paints --style"), "{e}");
    assert!(all.is_file());

    // -m a single-style model: the photo and its one style.
    let one = dir.path().join("one.png");
    let run = vstyle!("--sheet", photo, "-m", model("invert.onnx"), "-o", one);
    assert_success(&run);
    assert!(stderr(&run).contains("1 style "), "{}", stderr(&run));

    // Several paintings: each through the arbitrary network, beside the photo.
    let two = dir.path().join("two.png");
    let run = vstyle_in!(
        models.path(),
        "--sheet",
        photo,
        "--style",
        red,
        "--style",
        blue,
        "-o",
        two
    );
    assert_success(&run);
    assert!(
        stderr(&run).contains("2 styles of 1 model"),
        "{}",
        stderr(&run)
    );
    // Two rows of two columns (the photo and the red painting, then the blue one), where one
    // painting gives one row.
    let single = dir.path().join("single.png");
    let run = vstyle_in!(
        models.path(),
        "--sheet",
        photo,
        "--style",
        red,
        "-o",
        single
    );
    assert_success(&run);
    let (w, h) = size(&two);
    let (sw, sh) = size(&single);
    assert_eq!((w, h), (sw, sh * 2 - 8), "a 2x2 layout against 2x1");
}

#[test]
fn resume_redoes_pictures_that_other_settings_made_and_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let png = flat_png(&inputs, "a.png", [10, 20, 30]);
    let jpg = inputs.join("b.jpg");
    make_clip(
        &jpg,
        &Clip {
            width: W,
            height: H,
            frames: 1,
            codec_args: &[],
            ..Clip::default()
        },
    );
    let jpg_pixels = |p: &Path| read_frames(p, W, H, true).remove(0);
    let out = dir.path().join("out");
    let batch = |m: &str| {
        let run = vstyle!(inputs, "-m", model(m), "-o", out);
        assert_success(&run);
        stderr(&run)
    };
    batch("invert.onnx");
    let (png_out, jpg_out) = (out.join("a.png"), out.join("b.jpg"));
    assert!(max_diff(&pixels(&png_out), &inverted(&pixels(&png))) <= 1);
    // The same settings: both kept.
    let e = batch("invert.onnx");
    assert!(e.contains("skipping 2 file(s) already done"), "{e}");
    // Another model: both redone, the pictures as the videos are.
    let e = batch("identity.onnx");
    assert!(!e.contains("skipping"), "{e}");
    assert!(max_diff(&pixels(&png_out), &pixels(&png)) <= 1, "{e}");
    // JPEG again: within its loss of the input, where the inverted one is far.
    let (a, b) = (jpg_pixels(&jpg_out), jpg_pixels(&jpg));
    let mean = a
        .iter()
        .zip(&b)
        .map(|(x, y)| x.abs_diff(*y) as f64)
        .sum::<f64>()
        / a.len() as f64;
    assert!(mean < 8.0, "{mean}: {e}");
}

#[test]
fn a_missing_painting_gets_one_error_line_and_no_route_note() {
    let models = model_folder();
    let dir = tempfile::tempdir().unwrap();
    let input = flat_png(dir.path(), "in.png", [10, 20, 30]);
    let run = vstyle_in!(
        models.path(),
        input,
        "--style",
        dir.path().join("nope.jpg"),
        "-o",
        dir.path().join("o.png")
    );
    let e = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("error: ") && e.contains("nope.jpg"), "{e}");
    assert_eq!(files_in(dir.path()), ["in.png"]);
}
