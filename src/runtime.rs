//! ONNX Runtime: finding its library, creating the one environment of the process, and building
//! sessions on the execution provider the user asked for.
//!
//! vstyle loads ONNX Runtime at run time (`ort`'s `load-dynamic`), so the same binary runs with the
//! CPU library that set-up installs or with an `onnxruntime-gpu` library the user points it at.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};

use crate::error::{Error, Result};

/// The unversioned name set-up links to the versioned file from the wheel.
const LIB_NAME: &str = "libonnxruntime.so";

/// Which execution provider runs the networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// CUDA if the ONNX Runtime library and the machine support it, else the CPU (and say which).
    Auto,
    Cpu,
    /// CUDA or an error: never a silent fall-back to the CPU (`gpu` says the same).
    #[cfg_attr(feature = "cli", value(alias = "gpu"))]
    Cuda,
}

/// The candidates for the library, in the order they are tried: beside the executable, the
/// package's `.ort/lib` (where set-up puts it), then the user data folder's `lib/` (see
/// [`crate::locate`]). An explicit path (flag or `ORT_DYLIB_PATH`) is the only candidate when
/// given, so a typo is reported, not papered over.
pub fn library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    crate::locate::library_dirs()
        .into_iter()
        .map(|d| d.join(LIB_NAME))
        .collect()
}

/// The loaded library's environment. ONNX Runtime is one library per process (`ort` keeps its
/// entry points in a process-wide table once loaded), so its environment is too: this holds it
/// for the process, and every session names the library it wants through
/// [`SessionOptions::ort_lib`], so no load depends on an earlier call having loaded it.
static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

/// Loads ONNX Runtime (once per process) and returns the shared environment. Once loaded, the
/// library is the one of the process, whatever `explicit` says later.
///
/// # Errors
/// When no candidate library exists or loads; the message says what was tried and what to do.
pub fn environment(explicit: Option<&Path>) -> Result<&'static Environment> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let candidates = library_candidates(explicit);
    let mut problems = Vec::new();
    for path in &candidates {
        if !path.exists() {
            problems.push(format!("{}: not found", path.display()));
            continue;
        }
        match ort::init_from(path) {
            Ok(builder) => {
                let env = builder.with_name("vstyle").with_telemetry(false).build()?;
                tracing::debug!("loaded ONNX Runtime from {}", path.display());
                return Ok(ENVIRONMENT.get_or_init(|| env));
            }
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    Err(Error::Runtime(format!(
        "cannot load the ONNX Runtime library ({}); run scripts/setup.sh, or point --ort-lib or ORT_DYLIB_PATH at libonnxruntime.so",
        problems.join("; ")
    )))
}

/// Options for one session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub device: Device,
    /// Intra-op threads for the CPU provider; 0 lets ONNX Runtime decide.
    pub threads: usize,
    /// The ONNX Runtime library to load if none is loaded yet [default: see
    /// [`library_candidates`]].
    pub ort_lib: Option<PathBuf>,
}

impl SessionOptions {
    /// The process's ONNX Runtime environment, loaded from [`SessionOptions::ort_lib`] if need be.
    ///
    /// # Errors
    /// As [`environment`].
    pub fn environment(&self) -> Result<&'static Environment> {
        environment(self.ort_lib.as_deref())
    }
}

/// Builds a session for `model` on the requested device; returns it with the provider's name.
///
/// # Errors
/// When the model cannot be loaded, or `Device::Cuda` was asked for and CUDA cannot be registered.
pub fn session(
    env: &Environment,
    model: &Path,
    opts: &SessionOptions,
) -> Result<(Session, &'static str)> {
    match std::fs::metadata(model) {
        Err(e) => return Err(Error::model(model, crate::decode::io_problem(&e))),
        Ok(m) if m.is_dir() => return Err(Error::model(model, "is a folder")),
        Ok(m) if !m.is_file() => return Err(Error::model(model, "not a regular file")),
        Ok(_) => {}
    }
    let (mut builder, provider) = builder(env, model, opts)?;
    let session = builder.commit_from_file(model).map_err(|e| {
        let m = e.message();
        if m.contains("Protobuf parsing failed") || m.contains("INVALID_PROTOBUF") {
            Error::model(model, "not an ONNX model (it does not parse as one)")
        } else {
            Error::model(model, m)
        }
    })?;
    Ok((session, provider))
}

/// Builds a session for a model held in memory (one vstyle generated); `name` is what error
/// messages call it.
///
/// # Errors
/// As [`session`].
pub fn session_from_memory(
    env: &Environment,
    name: &Path,
    model: &[u8],
    opts: &SessionOptions,
) -> Result<(Session, &'static str)> {
    let (mut builder, provider) = builder(env, name, opts)?;
    let session = builder
        .commit_from_memory(model)
        .map_err(|e| Error::model(name, e.message()))?;
    Ok((session, provider))
}

/// As [`session_from_memory`], for a model run on inputs of many sizes (the tiles of a frame):
/// without ONNX Runtime's per-shape memory patterns, which keep a plan (and its memory) for every
/// shape seen. The arena stays: without it every call faults fresh pages in and runs up to 2x
/// slower. Measured on a 4K frame in tiles of three sizes (int8): 0.88 GB peak instead of 1.28 GB,
/// at the same speed.
///
/// # Errors
/// As [`session`].
pub fn session_for_varying_sizes(
    env: &Environment,
    name: &Path,
    model: &[u8],
    opts: &SessionOptions,
) -> Result<(Session, &'static str)> {
    let (builder, provider) = builder(env, name, opts)?;
    let model_err = |e: ort::Error| Error::model(name, e.message());
    let mut builder = builder
        .with_memory_pattern(false)
        .map_err(|e| model_err(e.into()))?;
    // CPU only: the measurements were there, and CUDA keeps its own device memory anyway.
    if provider == "CPU" && shared_cpu_arena(env) {
        builder = builder
            .with_env_allocators()
            .map_err(|e| model_err(e.into()))?;
    }
    let session = builder
        .commit_from_memory(model)
        .map_err(|e| Error::model(name, e.message()))?;
    Ok((session, provider))
}

/// Registers with `env`, once, a CPU arena for the sessions of [`session_for_varying_sizes`] to
/// share: the statistics and tile sessions of a tiled network each grew their own (in doubling
/// chunks: 512 MB ones for a 4K frame's tiles) and held both to the end. Measured on a 4K picture
/// (int8, four tiles): 1.38 GB peak instead of 1.76 GB, at the same speed. False when ONNX
/// Runtime refused it (the sessions then keep their own).
fn shared_cpu_arena(env: &Environment) -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| match register_cpu_arena(env) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!("shared CPU arena not registered: {e}");
            false
        }
    })
}

fn register_cpu_arena(env: &Environment) -> std::result::Result<(), String> {
    use ort::AsPointer;
    use ort::sys::{OrtAllocatorType, OrtMemType, OrtStatusPtr};
    let api = ort::api();
    // SAFETY: ONNX Runtime's C API as documented: the out-pointer is written on success and the
    // memory info released once; a null arena configuration takes the default arena's settings;
    // a non-null status is read and released.
    unsafe {
        let check = |status: OrtStatusPtr| {
            if status.0.is_null() {
                return Ok(());
            }
            let message = std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0))
                .to_string_lossy()
                .into_owned();
            (api.ReleaseStatus)(status.0);
            Err(message)
        };
        let mut info = std::ptr::null_mut();
        check((api.CreateCpuMemoryInfo)(
            OrtAllocatorType::OrtArenaAllocator,
            OrtMemType::OrtMemTypeDefault,
            &mut info,
        ))?;
        let registered = check((api.CreateAndRegisterAllocator)(
            env.ptr().cast_mut(),
            info,
            std::ptr::null(),
        ));
        (api.ReleaseMemoryInfo)(info);
        registered
    }
}

/// The execution provider a session on `device` would get ("CPU" or "CUDA"), without a model:
/// for choices that depend on it (the model's precision).
///
/// # Errors
/// `Device::Cuda` when CUDA cannot be registered.
pub fn provider_for(env: &Environment, device: Device) -> Result<&'static str> {
    let opts = SessionOptions {
        device,
        threads: 1,
        ort_lib: None,
    };
    builder(env, Path::new("(no model)"), &opts).map(|(_, p)| p)
}

fn builder(
    env: &Environment,
    model: &Path,
    opts: &SessionOptions,
) -> Result<(SessionBuilder, &'static str)> {
    let model_err = |e: ort::Error| Error::model(model, e.message());
    let mut builder = Session::builder(env)
        .map_err(model_err)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| model_err(e.into()))?;
    if opts.threads > 0 {
        builder = builder
            .with_intra_threads(opts.threads)
            .map_err(|e| model_err(e.into()))?;
    }
    let provider = match opts.device {
        Device::Cpu => "CPU",
        Device::Cuda => {
            builder = builder
                .with_execution_providers([cuda_provider()?.error_on_failure()])
                .map_err(|e| Error::ExecutionProvider {
                    requested: "--device cuda".into(),
                    message: format!("{} (install an onnxruntime-gpu library with its CUDA and cuDNN libraries and pass it with --ort-lib)", e.message()),
                })?;
            "CUDA"
        }
        Device::Auto => match cuda_provider() {
            Ok(ep) => match builder
                .clone()
                .with_execution_providers([ep.error_on_failure()])
            {
                Ok(b) => {
                    builder = b;
                    "CUDA"
                }
                Err(e) => {
                    tracing::debug!("CUDA unavailable: {}", e.message());
                    "CPU"
                }
            },
            Err(_) => "CPU",
        },
    };
    Ok((builder, provider))
}

#[cfg(feature = "cuda")]
fn cuda_provider() -> Result<ort::ep::ExecutionProviderDispatch> {
    Ok(ort::ep::CUDA::default().build())
}

#[cfg(not(feature = "cuda"))]
fn cuda_provider() -> Result<ort::ep::ExecutionProviderDispatch> {
    Err(Error::ExecutionProvider {
        requested: "--device cuda".into(),
        message: "this vstyle was built without the `cuda` feature".into(),
    })
}

/// The version string of the loaded ONNX Runtime library.
pub fn version() -> String {
    ort::info().to_string()
}

/// What `--list-devices` prints: the ONNX Runtime library in use, the execution providers it was
/// built with, and for the CPU and CUDA whether a session can use them here, with the GPUs.
pub fn list_devices(env: &Environment) -> String {
    let mut out = format!("ONNX Runtime library: {}\n", version());
    let cuda_built = cuda_in_library();
    out.push_str(&format!(
        "execution providers in this library: CPU{}\n",
        if cuda_built { ", CUDA" } else { "" }
    ));
    if !cuda_built {
        out.push_str(
            "  CUDA needs an onnxruntime-gpu library (pip install onnxruntime-gpu; pass its libonnxruntime.so with --ort-lib)\n",
        );
    }
    out.push_str("cpu: usable (--device cpu)\n");
    match provider_for(env, Device::Cuda) {
        Ok(_) => {
            out.push_str("cuda: usable (--device cuda)\n");
            for gpu in gpus() {
                out.push_str(&format!("  {gpu}\n"));
            }
        }
        Err(e) => {
            let why = match e {
                Error::ExecutionProvider { message, .. } => message,
                other => other.to_string(),
            };
            out.push_str(&format!("cuda: not usable here: {why}\n"));
        }
    }
    out
}

#[cfg(feature = "cuda")]
fn cuda_in_library() -> bool {
    use ort::ep::ExecutionProvider;
    ort::ep::CUDA::is_available().unwrap_or(false)
}

#[cfg(not(feature = "cuda"))]
fn cuda_in_library() -> bool {
    false
}

/// The GPUs `nvidia-smi` lists (index, name, memory), when it is there.
fn gpus() -> Vec<String> {
    let Ok(out) = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=index,name,memory.total",
            "--format=csv,noheader",
        ])
        .output()
    else {
        return vec!["(nvidia-smi not found: GPU names unknown)".into()];
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("GPU {l}"))
        .collect()
}
