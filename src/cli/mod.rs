//! The command line: clap arguments → a validated plan → runs → a summary and an exit code.
//!
//! One input file is the single-file mode; folders, several inputs or `-o` naming a folder are
//! batch mode (see [`crate::batch`] for the planning). Exit codes: 0 all done, 1 a file failed,
//! 2 usage error, 130 interrupted.
//!
//! `args` holds the clap definition, `config` checks it once, `load` loads what runs, `batch`
//! runs several files, `render` shows progress, `record` says what made an output; this file
//! holds `main`, the exit codes, logging, Ctrl-C and the single-file run.

/// Writes one line to stderr. A closed or broken stderr (`vstyle … 2>&1 | head -1`) never
/// stops the work: the line is lost, the run goes on.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod args;
mod batch;
mod config;
mod load;
mod models;
mod optimize;
mod record;
mod render;
mod segments;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::cancel::Cancel;
use crate::decode::Source;
use crate::encode::EncodeOptions;
use crate::error::{Error, Result};
use crate::runtime::{self, SessionOptions};
use crate::stylize::Stylizer;
use crate::stylize::feedforward::{FeedForward, StyleRequest};
use crate::stylize::optimize::Optimize;
use crate::stylize::styles::StyleChoice;
pub use args::{Args, Color, Precision};
pub use load::RunInfo;
use load::{
    feedforward_options, files_read, load_stylizer, load_stylizers, model_in_precision, model_path,
    physical_cores, run_record,
};
pub use optimize::{Mode, OptimizeArgs};

pub use crate::job::{Job, stylize_file};

/// The default output name for a single input: `name_styled.ext` beside it.
pub fn default_output(input: &Path) -> PathBuf {
    // The name as it is, bytes that are not UTF-8 included.
    let mut name = input
        .file_stem()
        .map_or_else(|| "out".into(), std::ffi::OsStr::to_os_string);
    name.push("_styled.");
    name.push(input.extension().unwrap_or("mp4".as_ref()));
    input.with_file_name(name)
}

/// Refuses an output that would damage something: the input itself, or an existing file
/// without `-y`.
pub fn check_output(job: &Job, overwrite: bool) -> Result<()> {
    if job.output == Path::new("-") {
        return Err(Error::output(
            &job.output,
            "vstyle writes files, not standard output; give a file name such as out.mp4",
        ));
    }
    if job.output.extension().is_none()
        && job
            .output
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."))
    {
        return Err(Error::output(
            &job.output,
            "is only an extension; give a name such as out.mp4",
        ));
    }
    // What is there already, the link itself when it is one (a dangling link included).
    let there = std::fs::symlink_metadata(&job.output).ok();
    if let Ok(m) = std::fs::metadata(&job.output)
        && !m.is_file()
        && !m.is_dir()
    {
        return Err(Error::output(
            &job.output,
            "is a device or a FIFO, not a file; give a file name such as out.mp4",
        ));
    }
    let same = match (job.input.canonicalize(), job.output.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(Error::output(
            &job.output,
            "is the input file; choose another output",
        ));
    }
    if job.output.is_dir() {
        return Err(Error::output(&job.output, "is a folder; give a file name"));
    }
    let folder = job
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(Error::output(
            &job.output,
            format!("folder {} does not exist", folder.display()),
        ));
    }
    crate::encode::check_container(&job.output)?;
    if there.is_some() && !overwrite {
        return Err(Error::output(
            &job.output,
            "already exists (use -y to overwrite)",
        ));
    }
    Ok(())
}

/// The manual page's sections that clap does not make (roff).
const MANPAGE_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Every file was stylized (or skipped as done already).
.TP
\fB1\fR
A file failed: an input that cannot be read or decoded, an output that cannot be written, a
failure while running the network.
.TP
\fB2\fR
A usage error, found before any work: a bad flag or value, a model that is missing or does not
fit, an output that would replace something.
.TP
\fB130\fR
Interrupted (Ctrl-C or SIGTERM); no unfinished output is left behind.
.SH ENVIRONMENT
.TP
\fBVSTYLE_MODELS\fR
Folders (separated by :) searched first for models given by name (\-m scream).
.TP
\fBORT_DYLIB_PATH\fR
The ONNX Runtime library to load (\-\-ort\-lib overrides it).
.TP
\fBXDG_DATA_HOME\fR, \fBHOME\fR
The user data folder, $XDG_DATA_HOME/vstyle or ~/.local/share/vstyle, where set\-up installs
the models and the ONNX Runtime library.
.TP
\fBVSTYLE_SHARD\fR
The shard K/N of a batch this run takes (\fBVSTYLE_SHARD_COUNT\fR with a Kubernetes indexed
Job's JOB_COMPLETION_INDEX; a Slurm job array's SLURM_ARRAY_TASK_ID is read too).
.TP
\fBCUDA_VISIBLE_DEVICES\fR
The GPUs CUDA may use; \-\-gpu N picks among them.
.TP
\fBVSTYLE_LOG\fR
A log filter (e.g. debug) instead of the one \-v and \-q set.
.TP
\fBNO_COLOR\fR
When set, no colour in messages (\-\-color auto).
"#;

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    let command = <Args as clap::CommandFactory>::command().long_version(args::long_version());
    let argv = args::user_habits(std::env::args_os().collect());
    let args = match command
        .try_get_matches_from(argv)
        .and_then(|m| <Args as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(&args);
    if let Some(gpu) = args.gpu {
        select_gpu(gpu);
    }
    if let Some(shell) = args.completions {
        let mut cmd = <Args as clap::CommandFactory>::command();
        // Into memory first: clap_complete panics on a closed stdout (`| head`).
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "vstyle", &mut script);
        let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
        return ExitCode::SUCCESS;
    }
    if args.manpage {
        let cmd = <Args as clap::CommandFactory>::command();
        let mut page = Vec::new();
        return match clap_mangen::Man::new(cmd).render(&mut page) {
            Ok(()) => {
                page.extend_from_slice(MANPAGE_SECTIONS.as_bytes());
                let _ = std::io::Write::write_all(&mut std::io::stdout(), &page);
                ExitCode::SUCCESS
            }
            Err(e) => {
                say!("error: cannot make the manual page: {e}");
                ExitCode::from(1)
            }
        };
    }
    let cancel = Cancel::new();
    install_ctrl_c(cancel.clone());
    match run(&args, &cancel) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Cancelled) => {
            say!("interrupted: no unfinished output was left behind");
            ExitCode::from(130)
        }
        // A model that is missing or does not fit is a problem of the command line, found
        // before any work: like every usage error, exit 2.
        Err(e @ (Error::Usage(_) | Error::Model { .. })) => {
            say!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            say!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Makes GPU `index` (among the visible ones) the one CUDA uses, by narrowing
/// `CUDA_VISIBLE_DEVICES` to it before anything starts CUDA.
fn select_gpu(index: u32) {
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let chosen = match visible.as_deref().filter(|v| !v.trim().is_empty()) {
        Some(list) => list
            .split(',')
            .nth(index as usize)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| format!("{index}")),
        None => index.to_string(),
    };
    // SAFETY: called at the start of main, before any other thread of this process exists
    // (the Ctrl-C handler's thread and the pipelines start later).
    unsafe { std::env::set_var("CUDA_VISIBLE_DEVICES", chosen) };
}

fn init_logging(args: &Args) {
    let filter = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,ort=warn",
        _ => "debug,ort=info",
    };
    let ansi = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VSTYLE_LOG")
                .unwrap_or_else(|_| filter.into()),
        )
        .with_ansi(ansi)
        .with_writer(|| LogWriter)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Standard error for the log. A closed or broken stderr (`vstyle -v … 2>&1 | head -1`) loses
/// the line and never stops the work: the log's own fallback on a failed write prints to
/// stderr again, which panics there, inside ONNX Runtime's callbacks an abort.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().lock().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().lock().flush();
        Ok(())
    }
}

/// The first Ctrl-C fires `cancel`: the run drains and removes its unfinished output. The
/// second quits at once, after removing the partial files [`crate::output`] has registered.
fn install_ctrl_c(cancel: Cancel) {
    let mut presses = 0u32;
    let _ = ctrlc::set_handler(move || {
        presses += 1;
        if presses == 1 {
            cancel.cancel();
            say!(
                "\ninterrupted: finishing the frames in flight, then removing the unfinished output (Ctrl-C again to quit now)"
            );
        } else {
            crate::output::remove_registered();
            say!("interrupted again: quit now; the unfinished output was removed");
            // _exit, not exit: no atexit handlers or static destructors, which would tear ONNX
            // Runtime down under an inference still running and have it print its complaint.
            // SAFETY: _exit ends the process at once; nothing after it runs.
            unsafe { libc::_exit(130) }
        }
    });
}

/// Runs everything the arguments ask for.
///
/// # Errors
/// The first failure, as one line naming the file.
pub fn run(args: &Args, cancel: &Cancel) -> Result<()> {
    if args.list_devices {
        let env = runtime::environment(args.ort_lib.as_deref())?;
        let listing = runtime::list_devices(env);
        let _ = std::io::Write::write_all(&mut std::io::stdout(), listing.as_bytes());
        return Ok(());
    }
    if args.list_models {
        let listing = models::list(args.json, args.ort_lib.as_deref())?;
        let _ = std::io::Write::write_all(&mut std::io::stdout(), listing.as_bytes());
        return Ok(());
    }
    if let Some(model) = &args.list_styles {
        let model = crate::locate::model(model)?;
        let listing = crate::stylize::feedforward::list_styles(
            &model,
            args.value_range,
            args.ort_lib.as_deref(),
        )?;
        let _ = std::io::Write::write_all(&mut std::io::stdout(), listing.as_bytes());
        return Ok(());
    }
    let config = config::Config::from_args(args)?;
    let mode = config.mode;
    match config.run {
        config::RunKind::Preview => return preview(args, &config, cancel),
        config::RunKind::Batch => {
            let record = run_record(args, mode)?;
            before_work(args, mode);
            return batch::run(args, &config, cancel, &record, || {
                load_stylizer(args, &config)
            });
        }
        config::RunKind::Single => {}
    }
    // A texture needs no content: the style image stands in as the input, whose frame the
    // optimiser ignores, and the texture comes out at the processing size.
    let texture_only =
        mode == Mode::Optimize && args.optimize.content_weight() == 0.0 && args.inputs.is_empty();
    let job = if texture_only {
        let style = args
            .optimize
            .style
            .first()
            .cloned()
            .expect("a texture's style image was checked with the arguments");
        Job {
            output: args
                .output
                .clone()
                .unwrap_or_else(|| optimize::texture_output(&style)),
            input: style,
        }
    } else {
        let input = &args.inputs[0];
        let output = match &args.output {
            Some(o) => o.clone(),
            None if args.suffix.is_some() || args.format.is_some() => {
                let found = crate::batch::discover(std::slice::from_ref(input), false, None)?;
                let naming = crate::batch::Naming {
                    out_dir: None,
                    suffix: args.suffix.clone(),
                    format: args.format.clone(),
                };
                crate::batch::output_path(&found.found[0], &naming, false)
            }
            None => default_output(input),
        };
        Job {
            input: input.clone(),
            output,
        }
    };
    check_output(&job, args.overwrite)?;
    // A killed run's temporary file is never a finished file.
    crate::output::remove_stale_partials(&job.output);
    if args.segments.is_some() {
        return segments::run(args, &config, &job, cancel);
    }
    let started_at = record::now_utc();
    // Open the input first: a bad input is reported before the (slower) model load.
    Source::open(&job.input)?;
    let record = run_record(args, mode)?;
    before_work(args, mode);
    let report = match args.report.as_deref() {
        Some(path) => {
            let mut owned = files_read(args, &record);
            owned.push((job.input.clone(), "the input"));
            owned.push((job.output.clone(), "the output"));
            Some(batch::ReportTarget::check(path, &owned)?)
        }
        None => None,
    };
    let mut run_info = None;
    let (mut stylizers, provider) = match mode {
        Mode::Feedforward => {
            let loaded = load_stylizers(args, &config.style, None)?;
            let what = loaded.info.describe();
            run_info = Some(loaded.info);
            (loaded.stylizers, what)
        }
        Mode::Optimize => {
            runtime::environment(args.ort_lib.as_deref())?;
            let session = SessionOptions {
                device: args.device,
                threads: args.threads.unwrap_or_else(physical_cores),
                ort_lib: args.ort_lib.clone(),
            };
            let (opt, provider) = Optimize::load(&optimize::options(&args.optimize, session)?)?;
            (
                vec![Box::new(opt) as Box<dyn Stylizer>],
                provider.to_string(),
            )
        }
    };
    let encode = EncodeOptions {
        comment: Some(record.tag()),
        ..config.encode.clone()
    };
    let frames = config.file;
    let renderer = render::Renderer::new(args.quiet, 1);
    let result = stylize_file(
        &job,
        &mut stylizers,
        &encode,
        &frames,
        cancel,
        renderer.progress(),
    );
    if let Some(target) = &report {
        let outcome = match &result {
            Ok(s) => batch::Outcome::Done {
                frames: s.frames,
                seconds: s.seconds,
                warnings: s.warnings.clone(),
            },
            Err(Error::Cancelled) => batch::Outcome::Interrupted,
            Err(e) => batch::Outcome::Failed {
                error: e.to_string(),
            },
        };
        let seconds = result.as_ref().map_or(0.0, |s| s.seconds);
        let summary = batch::Summary::of([&outcome], seconds);
        target.write(
            &batch::Report {
                schema: batch::REPORT_SCHEMA,
                vstyle: env!("CARGO_PKG_VERSION"),
                started: started_at,
                finished: record::now_utc(),
                settings: &record,
                run: run_info.as_ref(),
                shard: None,
                summary: &summary,
                files: vec![batch::FileReport {
                    input: &job.input,
                    output: &job.output,
                    outcome: &outcome,
                }],
            },
            cancel,
        )?;
    }
    let stats = result?;
    for w in &stats.warnings {
        // Warnings show even with -q: they say the output may not be what was expected.
        say!("warning: {}: {w}", job.input.display());
    }
    if !args.quiet {
        let fps = stats.frames as f64 / stats.seconds.max(1e-9);
        // The provider is named here so that `--device auto` always says which one it chose.
        say!(
            "wrote {}: {} in {:.1} s ({fps:.2} fps on {provider})",
            job.output.display(),
            count(stats.frames, "frame"),
            stats.seconds
        );
        tracing::info!(
            "busy time: decode {:.2} s, stylize {:.2} s, encode {:.2} s (of {:.2} s wall)",
            stats.busy.decode.as_secs_f64(),
            stats.busy.stylize.as_secs_f64(),
            stats.busy.encode.as_secs_f64(),
            stats.seconds
        );
    }
    Ok(())
}

/// The lines said once the command line has passed its checks, before the work: which route
/// paints a `--style` painting, and a resolution the model does not hold up at.
fn before_work(args: &Args, mode: Mode) {
    if !args.quiet
        && let Some(note) = optimize::route_note(args, mode)
    {
        say!("{note}");
    }
    if mode == Mode::Feedforward
        && let Some(warning) = load::resolution_warning(args)
    {
        // Shown even with -q: the output will not be what was expected.
        say!("warning: {warning}");
    }
}

/// `--sheet PHOTO` and `--preview N`: one PNG to look at before a long run.
fn preview(args: &Args, config: &config::Config, cancel: &Cancel) -> Result<()> {
    let no_style = args.model.is_none() && args.optimize.style.is_empty();
    if config.mode != Mode::Feedforward || (no_style && args.sheet.is_none()) {
        return Err(Error::Usage(
            "--sheet and --preview show a feed-forward model's styles: pass --model MODEL".into(),
        ));
    }
    let (what, default_out) = match (&args.sheet, args.preview, args.inputs.as_slice()) {
        (Some(photo), None, []) => (photo, suffixed(photo, "_sheet", "png")),
        (None, Some(_), [input]) => (input, suffixed(input, "_preview", "png")),
        (Some(_), Some(_), _) => {
            return Err(Error::Usage("--sheet and --preview: give one".into()));
        }
        (Some(_), None, _) => {
            return Err(Error::Usage(
                "--sheet takes its photo as its value (vstyle --sheet photo.jpg -m MODEL -o sheet.png); give no other input".into(),
            ));
        }
        _ => {
            return Err(Error::Usage(
                "--preview N takes one input video (vstyle clip.mp4 -m MODEL --preview 6 -o preview.png)"
                    .into(),
            ));
        }
    };
    let job = Job {
        input: what.clone(),
        output: args.output.clone().unwrap_or(default_out),
    };
    if job
        .output
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("png"))
    {
        return Err(Error::Usage(format!(
            "{:?}: the sheet and the preview are PNG pictures; name the output NAME.png",
            job.output
        )));
    }
    check_output(&job, args.overwrite)?;
    Source::open(&job.input)?;
    let env = runtime::environment(args.ort_lib.as_deref())?;
    if args.sheet.is_some() && (no_style || args.optimize.style.len() > 1) {
        return sheet_of_many(args, &job, env);
    }
    let (model, precision) =
        model_in_precision(&model_path(args)?, args.precision, env, args.device)?;
    before_work(args, config.mode);
    let threads = args.threads.unwrap_or_else(physical_cores);
    let load =
        |style: StyleRequest| FeedForward::load(&model, &feedforward_options(args, threads, style));
    let (mut network, provider) = match load(config.style.clone()) {
        // The sheet paints every style: a multi-style network, which wants one chosen to load,
        // is loaded with its first (a single-style one loaded as it is).
        Err(first) if args.sheet.is_some() && config.style == StyleRequest::None => {
            load(StyleRequest::Choice(StyleChoice::One("0".into()))).map_err(|_| first)?
        }
        loaded => loaded?,
    };
    let started = Instant::now();
    let shown = if args.sheet.is_some() {
        let side = args.max_side.unwrap_or(crate::preview::SHEET_TILE);
        let n = crate::preview::contact_sheet(&job.input, &mut network, side, &job.output)?;
        count(n as u64, "style")
    } else {
        let n = crate::preview::video_preview(
            &job.input,
            &mut network,
            args.preview.unwrap_or(1) as usize,
            &job.output,
            cancel,
        )?;
        format!("{}, input beside output", count(n as u64, "frame"))
    };
    if !args.quiet {
        say!(
            "wrote {}: {shown} in {:.1} s (on {provider}, {precision})",
            job.output.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A sheet of several networks or paintings: without `-m` and `--style`, every installed style
/// network with all its styles; with several `--style` paintings, each through the
/// arbitrary-style network (or `-m`'s).
fn sheet_of_many(args: &Args, job: &Job, env: &ort::environment::Environment) -> Result<()> {
    let started = Instant::now();
    let side = args.max_side.unwrap_or(crate::preview::SHEET_TILE);
    let threads = args.threads.unwrap_or_else(physical_cores);
    let mut sheet = crate::preview::Sheet::new();
    let mut models = 0;
    let mut provider = "CPU";
    if args.optimize.style.is_empty() {
        let mut skipped = Vec::new();
        for m in models::catalogue(args.ort_lib.as_deref())? {
            let style = match m.kind.kind {
                "single" => StyleRequest::None,
                "multi" => StyleRequest::Choice(StyleChoice::One("0".into())),
                "arbitrary" => {
                    skipped.push(format!("{} (paints --style PAINTING.jpg)", m.name));
                    continue;
                }
                _ => continue,
            };
            let (file, _) = model_in_precision(&m.path, args.precision, env, args.device)
                .unwrap_or((m.path.clone(), "fp32"));
            // A model that does not load here is left off the sheet, with a note.
            let (mut network, p) =
                match FeedForward::load(&file, &feedforward_options(args, threads, style)) {
                    Ok(loaded) => loaded,
                    Err(e @ Error::Runtime(_)) => return Err(e),
                    Err(e) => {
                        skipped.push(format!("{} ({e})", m.name));
                        continue;
                    }
                };
            provider = p;
            sheet.add(&job.input, &mut network, side, Some(&m.name))?;
            models += 1;
        }
        if models == 0 {
            return Err(Error::Usage(format!(
                "--sheet without -m shows every installed style network, and none is installed in the model folders{}; run scripts/setup.sh or pass -m MODEL",
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(" besides {}", skipped.join(", "))
                }
            )));
        }
        if !args.quiet && !skipped.is_empty() {
            say!("note: not on the sheet: {}", skipped.join(", "));
        }
    } else {
        let model = model_path(args)?;
        let (file, _) = model_in_precision(&model, args.precision, env, args.device)?;
        before_work(args, Mode::Feedforward);
        for (image, _) in optimize::style_images(&args.optimize.style)? {
            let style = StyleRequest::Images(vec![(image, 1.0)]);
            let (mut network, p) =
                FeedForward::load(&file, &feedforward_options(args, threads, style))?;
            provider = p;
            sheet.add(&job.input, &mut network, side, None)?;
        }
        models = 1;
    }
    sheet.save(&job.output)?;
    if !args.quiet {
        say!(
            "wrote {}: {} of {} in {:.1} s (on {provider})",
            job.output.display(),
            count(sheet.styles() as u64, "style"),
            count(models, "model"),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `1 frame`, `3 frames`.
pub(crate) fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// `dir/stem{suffix}.{ext}` beside `path`.
fn suffixed(path: &Path, suffix: &str, ext: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!("{stem}{suffix}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_output_sits_beside_the_input() {
        assert_eq!(
            default_output(Path::new("a/b/clip.mov")),
            Path::new("a/b/clip_styled.mov")
        );
        assert_eq!(
            default_output(Path::new("photo.jpg")),
            Path::new("photo_styled.jpg")
        );
    }

    #[test]
    fn an_output_equal_to_the_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        std::fs::write(&p, b"x").unwrap();
        let job = Job {
            input: p.clone(),
            output: dir.path().join(".").join("a.mp4"),
        };
        let e = check_output(&job, true).unwrap_err().to_string();
        assert!(e.contains("is the input file"), "{e}");
        let job = Job {
            input: dir.path().join("b.mp4"),
            output: p,
        };
        assert!(
            check_output(&job, false)
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
    }
}
