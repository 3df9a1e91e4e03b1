//! The pipeline without ONNX Runtime: fake stylizers that finish frames out of order, or fail.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use support::*;
use vstyle::cancel::Cancel;
use vstyle::decode::Source;
use vstyle::encode::{EncodeOptions, Sink};
use vstyle::pipeline::{self, FakeStylizer, PipelineOptions};
use vstyle::progress::{Event, NoProgress, Progress};
use vstyle::stylize::{Adjust, Stylizer};

fn run_with(
    workers: Vec<Box<dyn Stylizer>>,
    frames: u32,
) -> (
    Result<pipeline::FileStats, vstyle::Error>,
    tempfile::TempDir,
) {
    run_sized(workers, frames, 64, 48)
}

fn run_sized(
    workers: Vec<Box<dyn Stylizer>>,
    frames: u32,
    width: u32,
    height: u32,
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
            width,
            height,
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
    let cancel = Cancel::new();
    let r = pipeline::run(
        source,
        sink,
        &mut workers,
        &PipelineOptions {
            temporal: None,
            temporal_motion: Default::default(),
            warm_up: false,
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
fn large_frames_with_a_smaller_pool_of_buffers_still_arrive_all_in_order() {
    // 4K frames (25 MB each): the pool shrinks from 22 buffers to a frame per worker and one
    // more, and four workers finishing out of order must neither stall nor reorder.
    let (w, h) = (3840, 2160);
    let (r, dir) = run_sized(fakes(4, None), 9, w, h);
    assert_eq!(r.unwrap().frames, 9);
    let out = read_frames(&dir.path().join("out.mkv"), w, h, true);
    assert_eq!(out.len(), 9);
    for (i, f) in out.iter().enumerate() {
        assert!(f == &inverted(&pattern(i as u32, w, h)), "frame {i}");
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
fn cancelling_before_the_start_leaves_no_output() {
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
    let cancel = Cancel::new();
    cancel.cancel();
    let mut workers = fakes(1, None);
    let r = pipeline::run(
        source,
        sink,
        &mut workers,
        &PipelineOptions {
            temporal: None,
            temporal_motion: Default::default(),
            warm_up: false,
            adjust: Adjust::default(),
            limit: None,
            cancel: &cancel,
            progress: &NoProgress,
        },
    );
    assert!(matches!(r, Err(vstyle::Error::Cancelled)), "{r:?}");
    assert_eq!(files_in(dir.path()), vec!["in.mkv"]);
}

/// Counts the frames written and fires `cancel` once `after` of them have been seen.
struct CancelAfter {
    after: u64,
    cancel: Cancel,
    written: Mutex<Vec<u64>>,
}

impl Progress for CancelAfter {
    fn event(&self, event: Event<'_>) {
        if let Event::FrameDone { index, .. } = event {
            let mut written = self.written.lock().unwrap();
            written.push(index);
            if written.len() as u64 == self.after {
                self.cancel.cancel();
            }
        }
    }
}

#[test]
fn cancelling_mid_stream_drains_the_stages_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mkv"), dir.path().join("out.mkv"));
    let total = 120;
    make_clip(
        &input,
        &Clip {
            frames: total,
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
    let progress = CancelAfter {
        after: 5,
        cancel: Cancel::new(),
        written: Mutex::new(Vec::new()),
    };
    let mut workers = fakes(3, None);
    let started = std::time::Instant::now();
    let r = pipeline::run(
        source,
        sink,
        &mut workers,
        &PipelineOptions {
            temporal: None,
            temporal_motion: Default::default(),
            warm_up: false,
            adjust: Adjust::default(),
            limit: None,
            cancel: &progress.cancel,
            progress: &progress,
        },
    );
    assert!(matches!(r, Err(vstyle::Error::Cancelled)), "{r:?}");
    let written = progress.written.into_inner().unwrap();
    assert!(
        written.len() >= 5,
        "the cancel came after 5 frames: {written:?}"
    );
    assert!(
        written.len() < total as usize / 2,
        "the stages stopped soon after the cancel, not at the end of the input: {} frames",
        written.len()
    );
    assert_eq!(
        written,
        (0..written.len() as u64).collect::<Vec<_>>(),
        "written in order until the cancel"
    );
    // The fakes sleep up to 15 ms a frame: the whole clip would take far longer than this.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        files_in(dir.path()),
        vec!["in.mkv"],
        "no final or partial output"
    );
}
