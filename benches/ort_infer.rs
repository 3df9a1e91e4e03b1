//! The bare ONNX Runtime loop, no video: how fast a model runs on pre-made frames, the baseline
//! vstyle's end-to-end throughput is compared with (`benches/e2e.sh`, `benches/gpu.sh`).
//!
//! `cargo bench --bench ort_infer -- MODEL [--device cpu|cuda] [--size WxH]... [--frames N]`
//! prints one line per size and way of feeding the model:
//! - `host`: input from host memory, output copied back (what vstyle's pipeline does);
//! - `device` (CUDA only): input and output stay in GPU memory (IoBinding): the network alone.

use std::time::Instant;

use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::value::{Tensor, TensorRef};
use vstyle::runtime::{self, Device, SessionOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut model = None;
    let mut device = Device::Cpu;
    let mut sizes = Vec::new();
    let mut frames = 20usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--device" => {
                device = if args.next().as_deref() == Some("cuda") {
                    Device::Cuda
                } else {
                    Device::Cpu
                }
            }
            "--size" => {
                let s = args.next().ok_or("--size WxH")?;
                let (w, h) = s.split_once('x').ok_or("--size WxH")?;
                sizes.push((w.parse::<usize>()?, h.parse::<usize>()?));
            }
            "--frames" => frames = args.next().ok_or("--frames N")?.parse()?,
            other => model = Some(other.to_string()),
        }
    }
    let Some(model) = model else {
        // `cargo bench` with no arguments (CI's `--no-run` builds it; a plain run has nothing to do).
        eprintln!("usage: ort_infer MODEL [--device cpu|cuda] [--size WxH]... [--frames N]");
        return Ok(());
    };
    if sizes.is_empty() {
        sizes.push((640, 360));
    }
    let env = runtime::environment(None)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (mut session, provider) = runtime::session(
        env,
        model.as_ref(),
        &SessionOptions {
            device,
            threads,
            ort_lib: None,
        },
    )?;
    let input_name = session.inputs()[0].name().to_string();
    let output_name = session.outputs()[0].name().to_string();
    println!("model {model}, provider {provider}, {frames} frames per measurement");
    for (w, h) in sizes {
        // Seeded, non-constant pixels: constant inputs can run faster than real ones.
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let data: Vec<f32> = (0..3 * w * h)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 256) as f32
            })
            .collect();
        let shape = [1usize, 3, h, w];
        let mut sink = 0f32;
        let mut run_host = |n: usize| -> Result<f64, Box<dyn std::error::Error>> {
            let t0 = Instant::now();
            for _ in 0..n {
                let out = session.run(ort::inputs![input_name.as_str() => TensorRef::from_array_view((shape, &data[..]))?])?;
                let (_, y) = out[output_name.as_str()].try_extract_tensor::<f32>()?;
                sink += y[y.len() / 2];
            }
            Ok(t0.elapsed().as_secs_f64())
        };
        run_host(2)?; // warm-up: kernel selection and allocation happen on the first runs
        let t = run_host(frames)?;
        println!(
            "{w}x{h} host   {:8.2} ms/frame {:8.2} fps",
            1e3 * t / frames as f64,
            frames as f64 / t
        );
        if provider == "CUDA" {
            let cuda = MemoryInfo::new(
                AllocationDevice::CUDA,
                0,
                AllocatorType::Device,
                MemoryType::Default,
            )?;
            let allocator = Allocator::new(&session, cuda.clone())?;
            let mut on_device = Tensor::<f32>::new(&allocator, shape)?;
            Tensor::from_array((shape, data.clone()))?.copy_into(&mut on_device)?;
            let mut binding = session.create_binding()?;
            binding.bind_input(input_name.as_str(), &on_device)?;
            binding.bind_output_to_device(output_name.as_str(), &cuda)?;
            for _ in 0..2 {
                session.run_binding(&binding)?;
            }
            binding.synchronize_outputs()?;
            let t0 = Instant::now();
            for _ in 0..frames {
                session.run_binding(&binding)?;
            }
            binding.synchronize_outputs()?;
            let t = t0.elapsed().as_secs_f64();
            println!(
                "{w}x{h} device {:8.2} ms/frame {:8.2} fps",
                1e3 * t / frames as f64,
                frames as f64 / t
            );
        }
        std::hint::black_box(sink);
    }
    Ok(())
}
