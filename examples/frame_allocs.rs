//! Heap allocations per frame of the pipeline (Rust's allocator only: FFmpeg's and ONNX Runtime's
//! own buffers are not counted), with the fake stylizer so that only the pipeline's work is seen.
//! Runs the input twice, for `SHORT` and `LONG` frames, and prints the difference per frame, so
//! what a file costs once (opening, the encoder, the threads) drops out.
//!
//! ```text
//! ffmpeg -f lavfi -i testsrc2=size=1920x1080:rate=25 -frames:v 60 -pix_fmt yuv420p /tmp/1080p.mkv
//! cargo run --release --example frame_allocs -- /tmp/1080p.mkv [SHORT LONG] [--adjust]
//! ```
//!
//! `--adjust` adds `--strength 0.5` (the post-processing that blends with the input).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use vstyle::cancel::Cancel;
use vstyle::encode::EncodeOptions;
use vstyle::job::{Job, stylize_file};
use vstyle::pipeline::{FakeStylizer, FileOptions};
use vstyle::progress::NoProgress;
use vstyle::stylize::{Adjust, Stylizer};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(
            new_size.saturating_sub(layout.size()) as u64,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn run(input: &Path, frames: u64, adjust: bool) -> (u64, u64) {
    let dir = std::env::temp_dir().join(format!("frame_allocs_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let job = Job {
        input: input.to_path_buf(),
        output: dir.join("out.mkv"),
    };
    let mut stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(FakeStylizer {
        seed: 1,
        max_sleep: Duration::ZERO,
        fail_at: None,
    })];
    let encode = EncodeOptions {
        codec: Some("ffv1".into()),
        overwrite: true,
        ..Default::default()
    };
    let file = FileOptions {
        adjust: Adjust {
            strength: if adjust { 0.5 } else { 1.0 },
            preserve_colors: false,
        },
        limit: Some(frames),
        ..Default::default()
    };
    let (a0, b0) = (
        ALLOCATIONS.load(Ordering::SeqCst),
        BYTES.load(Ordering::SeqCst),
    );
    let stats = stylize_file(
        &job,
        &mut stylizers,
        &encode,
        &file,
        &Cancel::new(),
        &NoProgress,
    )
    .expect("the run succeeds");
    assert_eq!(stats.frames, frames, "the input has enough frames");
    let counted = (
        ALLOCATIONS.load(Ordering::SeqCst) - a0,
        BYTES.load(Ordering::SeqCst) - b0,
    );
    let _ = std::fs::remove_dir_all(&dir);
    counted
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let adjust = args.iter().any(|a| a == "--adjust");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--adjust").collect();
    let input = PathBuf::from(
        args.first()
            .expect("usage: frame_allocs INPUT [SHORT LONG]"),
    );
    let short: u64 = args.get(1).map_or(10, |s| s.parse().expect("SHORT"));
    let long: u64 = args.get(2).map_or(50, |s| s.parse().expect("LONG"));
    let (a1, b1) = run(&input, short, adjust);
    let (a2, b2) = run(&input, long, adjust);
    let n = (long - short) as f64;
    println!(
        "{}: {:.1} allocations and {:.2} MB allocated per frame ({short} frames: {a1}, {b1} B; {long} frames: {a2}, {b2} B)",
        input.display(),
        (a2 as f64 - a1 as f64) / n,
        (b2 as f64 - b1 as f64) / n / 1e6,
    );
}
