//! The pipeline without ONNX Runtime: fake stylizers that finish frames out of order, or fail.

mod support;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use support::*;
use vstyle::decode::Source;
use vstyle::encode::{EncodeOptions, Sink};
use vstyle::pipeline::{self, FakeStylizer, PipelineOptions};
use vstyle::progress::NoProgress;
use vstyle::stylize::{Adjust, Stylizer};

fn run_with(
    workers: Vec<Box<dyn Stylizer>>,
    frames: u32,
) -> (
    Result<pipeline::FileStats, vstyle::Error>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("out.mkv"));
    make_clip(
        &input,
        &Clip {
            frames,
            ..Clip::default()
        },
    );
    let source = Source::open(&input).unwrap();
    let sink = Sink::create(
        &output,
        &source.info,
        &source.copyable_streams(),
        &EncodeOptions {
            codec: Some("ffv1".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let mut workers = workers;
    let cancel = AtomicBool::new(false);
    let r = pipeline::run(
        source,
        sink,
        &mut workers,
        &PipelineOptions {
            temporal: None,
            temporal_motion: Default::default(),
            adjust: Adjust::default(),
            limit: None,
            cancel: &cancel,
            progress: &NoProgress,
        },
    );
    (r, dir)
}

fn fakes(n: u64, fail_at: Option<u64>) -> Vec<Box<dyn Stylizer>> {
    (0..n)
        .map(|seed| {
            Box::new(FakeStylizer {
                seed: seed + 1,
                max_sleep: Duration::from_millis(15),
                fail_at,
            }) as Box<dyn Stylizer>
        })
        .collect()
}

#[test]
fn frames_stay_in_order_when_workers_finish_out_of_order() {
    for frames in [1, 2, 5, 23] {
        let (r, dir) = run_with(fakes(4, None), frames);
        let stats = r.unwrap();
        assert_eq!(stats.frames, u64::from(frames));
        let out = read_frames(&dir.path().join("out.mkv"), 64, 48, true);
        assert_eq!(out.len(), frames as usize);
        for (i, f) in out.iter().enumerate() {
            assert_eq!(
                f,
                &inverted(&pattern(i as u32, 64, 48)),
                "frame {i} of {frames}"
            );
        }
    }
}

#[test]
fn a_failing_worker_is_the_error_reported_and_no_output_is_left() {
    let (r, dir) = run_with(fakes(3, Some(7)), 20);
    let e = r.unwrap_err();
    assert_eq!(
        e.to_string(),
        "fake failure at frame 7",
        "the root cause, not a disconnect"
    );
    assert_eq!(
        files_in(dir.path()),
        vec!["in.mkv"],
        "no final or partial output"
    );
}

#[test]
fn cancelling_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("out.mkv"));
    make_clip(
        &input,
        &Clip {
            frames: 30,
            ..Clip::default()
        },
    );
    let source = Source::open(&input).unwrap();
    let sink = Sink::create(&output, &source.info, &[], &EncodeOptions::default()).unwrap();
    let cancel = AtomicBool::new(true);
    let mut workers = fakes(1, None);
    let r = pipeline::run(
        source,
        sink,
        &mut workers,
        &PipelineOptions {
            temporal: None,
            temporal_motion: Default::default(),
            adjust: Adjust::default(),
            limit: None,
            cancel: &cancel,
            progress: &NoProgress,
        },
    );
    assert!(matches!(r, Err(vstyle::Error::Cancelled)), "{r:?}");
    assert_eq!(files_in(dir.path()), vec!["in.mkv"]);
}
