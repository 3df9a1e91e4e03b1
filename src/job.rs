//! One file's job: open the input, size the frames for the stylizers, create the output and run
//! the [`crate::pipeline`] between them. The command line and library users run files through
//! [`stylize_file`], one file or a batch of them.

use std::time::Instant;

pub use crate::batch::Job;
use crate::cancel::Cancel;
use crate::decode::Source;
use crate::encode::{EncodeOptions, Sink, is_image_path};
use crate::error::Result;
use crate::pipeline::{self, PipelineOptions};
use crate::progress::{Event, Progress};
use crate::stylize::Stylizer;

/// Stylizes one file: opens it, sizes the frames for the stylizers, and runs the pipeline.
///
/// # Errors
/// Any failure of that file; nothing is left at the output path then.
pub fn stylize_file(
    job: &Job,
    stylizers: &mut [Box<dyn Stylizer>],
    encode: &EncodeOptions,
    file: &pipeline::FileOptions,
    cancel: &Cancel,
    progress: &dyn Progress,
) -> Result<pipeline::FileStats> {
    let started = Instant::now();
    let result = (|| -> Result<pipeline::FileStats> {
        let mut source = Source::open(&job.input)?;
        if let Some(w) = file.window {
            source.set_window(w);
        }
        let (uw, uh) = source.info.upright_size();
        let (pw, ph) = stylizers[0].processing_size(uw, uh);
        source.set_output_size(pw, ph);
        for s in stylizers.iter_mut() {
            s.reset();
        }
        // A picture out holds one frame, whatever comes in.
        let picture_of_video = is_image_path(&job.output) && !source.info.is_image;
        let limit = if is_image_path(&job.output) {
            Some(1)
        } else {
            file.limit
        };
        let mut info = source.info.clone();
        if stylizers[0].output_at_processing_size() {
            // Written upright at the size it was made: nothing of the input's size is left in it.
            (info.width, info.height) = (pw, ph);
            info.quarter_turns = 0;
            info.display_matrix = None;
        }
        let copied: Vec<_> = source
            .copyable_streams()
            .into_iter()
            .filter(|(_, params, _)| match params.medium() {
                ffmpeg_next::media::Type::Audio => file.audio,
                ffmpeg_next::media::Type::Subtitle => file.subtitles,
                _ => true,
            })
            .collect();
        let sink = Sink::create(&job.output, &info, &copied, encode)?;
        let mut stats = pipeline::run(
            source,
            sink,
            stylizers,
            &PipelineOptions {
                adjust: file.adjust,
                limit,
                cancel,
                progress,
                temporal: file.temporal,
                temporal_motion: file.temporal_motion,
                warm_up: file.window.is_some_and(|w| w.warm_up > 0.0),
            },
        )?;
        if picture_of_video {
            stats.warnings.push(format!(
                "{} is a picture: it holds the first frame only (name a video, such as .mp4, for them all, or use --preview N)",
                job.output.display()
            ));
        }
        Ok(stats)
    })();
    match &result {
        Ok(s) => progress.event(Event::FileFinished {
            input: &job.input,
            frames: s.frames,
            seconds: started.elapsed().as_secs_f64(),
        }),
        Err(e) => progress.event(Event::FileFailed {
            input: &job.input,
            message: e.to_string(),
        }),
    }
    result
}
