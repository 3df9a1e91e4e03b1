//! The per-frame kernels on the hot path: RGB24 ↔ float32 CHW (with padding/cropping), the
//! colour-preserving blend, and the reorder buffer. Seeded synthetic frames, 1080p and an odd size.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use vstyle::frame::Frame;
use vstyle::frame::{chw_to_rgb_cropped, rgb_to_chw_padded, round_up};
use vstyle::pipeline::reorder::ReorderBuffer;
use vstyle::stylize::Adjust;
use vstyle::temporal::{MotionEstimator, TemporalBlend};

fn frame(w: usize, h: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..w * h * 3)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

fn conversions(c: &mut Criterion) {
    let mut g = c.benchmark_group("convert");
    for (w, h) in [(1920, 1080), (641, 359)] {
        let rgb = frame(w, h, 7);
        let (pw, ph) = (round_up(w, 4), round_up(h, 4));
        let mut chw = vec![0f32; 3 * pw * ph];
        g.throughput(Throughput::Elements((w * h) as u64));
        g.bench_with_input(
            BenchmarkId::new("rgb_to_chw_padded", format!("{w}x{h}")),
            &rgb,
            |b, rgb| {
                b.iter(|| rgb_to_chw_padded(black_box(rgb), w, h, pw, ph, &mut chw));
            },
        );
        let mut back = vec![0u8; w * h * 3];
        g.bench_function(
            BenchmarkId::new("chw_to_rgb_cropped", format!("{w}x{h}")),
            |b| {
                b.iter(|| {
                    black_box(chw_to_rgb_cropped(
                        black_box(&chw),
                        pw,
                        ph,
                        w,
                        h,
                        1.0,
                        &mut back,
                    ))
                });
            },
        );
        let original = frame(w, h, 9);
        let mut styled = rgb.clone();
        let adjust = Adjust {
            strength: 0.8,
            preserve_colors: true,
        };
        g.bench_function(
            BenchmarkId::new("adjust_preserve_colors", format!("{w}x{h}")),
            |b| {
                b.iter(|| adjust.apply(black_box(&original), &mut styled));
            },
        );
    }
    g.finish();
}

fn reorder(c: &mut Criterion) {
    // 1000 indices in a shuffled order, as 8 workers finishing at random would deliver them.
    let mut order: Vec<u64> = (0..1000).collect();
    let mut s = 42u64;
    for i in (1..order.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    c.bench_function("reorder/1000_shuffled", |b| {
        b.iter(|| {
            let mut r = ReorderBuffer::new();
            let mut n = 0;
            for &i in &order {
                n += r.push(i, i).len();
            }
            black_box(n)
        });
    });
}

/// `--temporal`'s per-frame work at 640x360: the motion back to the previous frame (decode
/// stage) and the warp and blend of the previous output (encode stage), on two frames of a
/// smooth texture 4 px apart.
fn temporal(c: &mut Criterion) {
    let (w, h) = (640usize, 360usize);
    let texture = |dx: f32| -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let fx = x as f32 - dx;
                let a = 128.0 + 60.0 * (fx * 0.05).sin() * (y as f32 * 0.04).cos();
                v.extend_from_slice(&[a as u8, (255.0 - a) as u8, (y % 256) as u8]);
            }
        }
        v
    };
    let (a, b) = (texture(0.0), texture(4.0));
    let mut g = c.benchmark_group("temporal");
    g.sample_size(20);
    g.bench_function("motion_640x360", |bench| {
        bench.iter(|| {
            let mut est = MotionEstimator::default();
            est.next(black_box(&a), w, h);
            black_box(est.next(black_box(&b), w, h))
        });
    });
    let mut est = MotionEstimator::default();
    est.next(&a, w, h);
    let motion = est.next(&b, w, h).expect("motion between the frames");
    let mut blend = TemporalBlend::new(0.5);
    let mut first = Frame::blank(0, w as u32, h as u32);
    first.rgb.copy_from_slice(&a);
    blend.apply(&mut first);
    g.bench_function("warp_blend_640x360", |bench| {
        bench.iter(|| {
            let mut f = Frame::blank(1, w as u32, h as u32);
            f.rgb.copy_from_slice(&b);
            f.motion = Some(Box::new(motion.clone()));
            blend.apply(black_box(&mut f));
            black_box(f.rgb[0])
        });
    });
    g.finish();
}

criterion_group!(benches, conversions, reorder, temporal);
criterion_main!(benches);
