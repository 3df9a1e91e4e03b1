//! CPU time (this thread's, so other processes on the machine barely move it) of `--temporal`'s
//! per-frame work at 640x360 on two frames of a real clip: the motion estimate (the computed flow,
//! and the field from 16x16 block vectors as `--temporal-motion decoder` gets them) and the warp
//! and blend. `cargo run --release --example temporal_cost -- FRAME_A.rgb FRAME_B.rgb` takes two raw
//! RGB24 640x360 frames (e.g. `ffmpeg -i clip.mp4 -vf scale=640:360 -frames:v 2 -f rawvideo
//! -pix_fmt rgb24 -`, split in two); without arguments it uses a synthetic texture.

use vstyle::frame::Frame;
use vstyle::temporal::{BlockVector, MotionEstimator, TemporalBlend};

fn cpu_now() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into `t`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn main() {
    let (w, h) = (640usize, 360usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (a, b) = if let [fa, fb] = args.as_slice() {
        (std::fs::read(fa).unwrap(), std::fs::read(fb).unwrap())
    } else {
        let tex = |dx: f32| -> Vec<u8> {
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
        (tex(0.0), tex(4.0))
    };
    assert_eq!(a.len(), w * h * 3);
    let runs = 20;
    let t0 = cpu_now();
    let mut motion = None;
    for _ in 0..runs {
        let mut est = MotionEstimator::default();
        est.next(&a, w, h);
        motion = est.next(&b, w, h);
    }
    let t_motion = (cpu_now() - t0) / runs as f64;
    let motion = motion.expect("motion between the frames");
    // Block vectors as a decoder exports them: one per 16x16 block, here taken from the flow.
    let scale = w as f32 / motion.flow.w as f32;
    let blocks: Vec<BlockVector> = (0..h / 16)
        .flat_map(|by| (0..w / 16).map(move |bx| (bx, by)))
        .map(|(bx, by)| {
            let (x, y) = ((bx * 16 + 8) as f32, (by * 16 + 8) as f32);
            let (u, v) = motion.flow.at(x / scale, y / scale);
            BlockVector {
                x,
                y,
                w: 16.0,
                h: 16.0,
                u: u * scale,
                v: v * scale,
            }
        })
        .collect();
    let t0 = cpu_now();
    let mut from_blocks = None;
    for _ in 0..runs {
        let mut est = MotionEstimator::default();
        est.next(&a, w, h);
        from_blocks = est.next_with(&b, w, h, Some(&blocks));
    }
    let t_blocks = (cpu_now() - t0) / runs as f64;
    let coverage_blocks = from_blocks.map_or(0.0, |m| m.coverage());
    let mut blend = TemporalBlend::new(0.5);
    let mut first = Frame::blank(0, w as u32, h as u32);
    first.rgb.copy_from_slice(&a);
    blend.apply(&mut first);
    let t0 = cpu_now();
    for i in 0..runs {
        let mut f = Frame::blank(i as u64 + 1, w as u32, h as u32);
        f.rgb.copy_from_slice(&b);
        f.motion = Some(Box::new(motion.clone()));
        blend.apply(&mut f);
    }
    let t_blend = (cpu_now() - t0) / runs as f64;
    println!(
        "640x360: motion (two pyramids and the search) {:.1} ms, from block vectors (two pyramids, no search) {:.1} ms, warp and blend {:.1} ms CPU per frame; coverage {:.2} (from blocks {:.2})",
        t_motion * 1e3,
        t_blocks * 1e3,
        t_blend * 1e3,
        motion.coverage(),
        coverage_blocks
    );
}
