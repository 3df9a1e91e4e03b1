//! Opt-in checks on an NVIDIA GPU (not run in CI, which has none):
//!
//! ```sh
//! VSTYLE_CUDA_ORT=/path/to/onnxruntime/capi/libonnxruntime.so.1.31.1 cargo test --test gpu -- --ignored
//! ```
//!
//! The CUDA and cuDNN libraries must be on the library path (see benches/README.md).

mod support;

use support::*;

fn cuda_library() -> std::path::PathBuf {
    std::env::var_os("VSTYLE_CUDA_ORT")
        .expect("set VSTYLE_CUDA_ORT to an onnxruntime-gpu libonnxruntime.so")
        .into()
}

#[test]
#[ignore = "needs an NVIDIA GPU and an onnxruntime-gpu library in VSTYLE_CUDA_ORT"]
fn cuda_output_matches_the_cpu_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mkv");
    make_clip(
        &input,
        &Clip {
            width: 96,
            height: 64,
            frames: 4,
            smooth: true,
            ..Clip::default()
        },
    );
    let lib = cuda_library();
    let mut frames = Vec::new();
    for device in ["cpu", "cuda"] {
        let output = dir.path().join(format!("{device}.mkv"));
        let out = vstyle!(
            input,
            "-m",
            model("transformer_net.onnx"),
            "-o",
            output,
            "--codec",
            "ffv1",
            "--device",
            device,
            "--ort-lib",
            lib
        );
        assert!(
            out.status.success(),
            "{device}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("on {}", device.to_uppercase()))
        );
        frames.push(read_frames(&output, 96, 64, true));
    }
    assert_eq!(frames[0].len(), 4);
    for (i, (c, g)) in frames[0].iter().zip(&frames[1]).enumerate() {
        // cuDNN picks other convolution algorithms than the CPU provider; outputs round alike
        // to within a level or two.
        assert!(
            max_diff(c, g) <= 2,
            "frame {i}: CPU and CUDA differ by {}",
            max_diff(c, g)
        );
    }
}
