//! `--segments N`: one input video in parts, made here one after the other or one per process
//! (`--shard K/N`, or a scheduler's array index), and joined into the output (`--join`, or at
//! the end of a run that made them all). Each part file carries the settings fingerprint and
//! where its part lies, so a part made with other settings or another cut never joins, and a
//! run started again keeps the parts it finished.

use std::path::PathBuf;

use super::config::Config;
use super::record::{TAG_PREFIX, fingerprint_of};
use super::{Args, Mode, before_work, count, load_stylizers, run_record};
use crate::batch::{ShardSource, shard_from_env};
use crate::cancel::Cancel;
use crate::decode::Source;
use crate::encode::{EncodeOptions, is_image_path};
use crate::error::{Error, Result};
use crate::job::{Job, stylize_file};
use crate::output::{looks_complete, remove_stale_partials};
use crate::segments::{self, Part, part_path};

/// Seconds before each part's start that `--temporal` runs through, unwritten, to prime its
/// blend: the blend carries `strength` (0.8 by default) of the previous output on, so after 50
/// frames (2 s at 25 fps) what came before the warm-up weighs at most 0.8^50 ≈ 1e-5.
const TEMPORAL_WARM_UP: f64 = 2.0;

pub(super) fn run(args: &Args, config: &Config, job: &Job, cancel: &Cancel) -> Result<()> {
    let n = args.segments.expect("called for --segments") as usize;
    let source = Source::open(&job.input)?;
    if source.info.is_image {
        return Err(Error::Usage(format!(
            "--segments cuts a video into parts, and {} is a picture",
            job.input.display()
        )));
    }
    if is_image_path(&job.output) {
        return Err(Error::Usage(format!(
            "--segments joins its parts into a video, and -o {} names a picture",
            job.output.display()
        )));
    }
    let parts = segments::plan(&job.input, n)?;
    let record = run_record(args, Mode::Feedforward)?;
    let fingerprint = record.fingerprint();
    let tag = |p: &Part| format!("{fingerprint} {}", p.describe());
    if args.join {
        return join(args, config, job, &parts, &tag, &record.tag(), cancel);
    }
    let shard = match args.shard {
        Some(s) => Some((s, ShardSource::Flag)),
        None => shard_from_env(|k| std::env::var(k).ok()).map_err(Error::Usage)?,
    };
    if let Some((s, source)) = shard
        && s.count != n
    {
        return Err(Error::Usage(format!(
            "shard {s} (from {source}) is one part of {}, but --segments cuts {n}",
            s.count
        )));
    }
    let mine: Vec<&Part> = parts
        .iter()
        .filter(|p| shard.is_none_or(|(s, _)| s.index == p.index))
        .collect();
    if !args.quiet {
        let starts: Vec<String> = parts
            .iter()
            .map(|p| format!("{:.2} s", p.window().start))
            .collect();
        say!(
            "{}: {n} part(s) cut at key frames, starting at {}{}",
            job.input.display(),
            starts.join(", "),
            shard.map_or(String::new(), |(s, source)| format!(
                "; making part {} (shard {s} from {source})",
                s.index
            ))
        );
    }
    before_work(args, Mode::Feedforward);
    let renderer = super::render::Renderer::new(args.quiet, 1);
    let mut stylizers = None;
    for part in mine {
        let path = part_path(&job.output, part);
        remove_stale_partials(&path);
        let label = format!("part {}/{n}", part.index);
        if fingerprint_of(&path).as_deref() == Some(tag(part).as_str()) && looks_complete(&path) {
            if !args.quiet {
                say!(
                    "{label}: reused {} (made earlier with these settings)",
                    path.display()
                );
            }
            continue;
        }
        if stylizers.is_none() {
            stylizers = Some(load_stylizers(args, &config.style, None)?.stylizers);
        }
        let encode = EncodeOptions {
            comment: Some(format!("{TAG_PREFIX}{}", tag(part))),
            overwrite: true,
            ..config.encode.clone()
        };
        let file = crate::pipeline::FileOptions {
            window: Some(if args.temporal.is_some() {
                part.window_warmed(TEMPORAL_WARM_UP)
            } else {
                part.window()
            }),
            audio: false,
            subtitles: false,
            ..config.file
        };
        let stats = stylize_file(
            &Job {
                input: job.input.clone(),
                output: path.clone(),
            },
            stylizers.as_mut().expect("loaded above"),
            &encode,
            &file,
            cancel,
            renderer.progress(),
        )?;
        for w in &stats.warnings {
            say!("warning: {} ({label}): {w}", job.input.display());
        }
        if !args.quiet {
            say!(
                "{label}: wrote {}: {} in {:.1} s",
                path.display(),
                count(stats.frames, "frame"),
                stats.seconds
            );
        }
    }
    if let Some((s, _)) = shard {
        if !args.quiet {
            say!(
                "part {} of {n} is done; once every part is, join them with the same settings and --segments {n} --join",
                s.index
            );
        }
        return Ok(());
    }
    join(args, config, job, &parts, &tag, &record.tag(), cancel)
}

/// Joins the finished parts into the output and removes them.
fn join(
    args: &Args,
    config: &Config,
    job: &Job,
    parts: &[Part],
    tag: &dyn Fn(&Part) -> String,
    output_tag: &str,
    cancel: &Cancel,
) -> Result<()> {
    let n = parts.len();
    let (mut missing, mut other) = (Vec::new(), Vec::new());
    let files: Vec<(Part, PathBuf)> = parts
        .iter()
        .map(|p| (*p, part_path(&job.output, p)))
        .collect();
    for (p, path) in &files {
        if !looks_complete(path) {
            missing.push(format!("{} ({})", p.index, path.display()));
        } else if fingerprint_of(path).as_deref() != Some(tag(p).as_str()) {
            other.push(format!("{} ({})", p.index, path.display()));
        }
    }
    if !other.is_empty() {
        return Err(Error::Usage(format!(
            "cannot join {}: part(s) {} were made with other settings or another cut of the input; make them again with these settings (--shard K/{n})",
            job.output.display(),
            other.join(", ")
        )));
    }
    if !missing.is_empty() {
        return Err(Error::output(
            &job.output,
            format!(
                "cannot join: part(s) {} of {n} missing or unfinished: {}; make them with --segments {n} --shard K/{n}",
                missing.len(),
                missing.join(", ")
            ),
        ));
    }
    let started = std::time::Instant::now();
    let source = Source::open(&job.input)?;
    let copied: Vec<_> = source
        .copyable_streams()
        .into_iter()
        .filter(|(_, params, _)| match params.medium() {
            ffmpeg_next::media::Type::Audio => config.file.audio,
            ffmpeg_next::media::Type::Subtitle => config.file.subtitles,
            _ => true,
        })
        .collect();
    let info = source.info.clone();
    drop(source);
    let encode = EncodeOptions {
        comment: Some(output_tag.to_string()),
        ..config.encode.clone()
    };
    let frames = segments::join(
        &job.input,
        &files,
        &job.output,
        &info,
        &copied,
        &encode,
        cancel,
    )?;
    for (_, path) in &files {
        if let Err(e) = std::fs::remove_file(path) {
            say!("warning: could not remove {} ({e})", path.display());
        }
    }
    if !args.quiet {
        say!(
            "wrote {}: {} joined from {n} part(s) in {:.1} s",
            job.output.display(),
            count(frames, "frame"),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
