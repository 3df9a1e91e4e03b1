//! One input in parts (`--segments N`): the video is cut at key frames into parts of about
//! equal duration, each part is stylized on its own (one after the other, or one per process
//! with `--shard K/N`) into a file of its own next to the output, and the parts are then joined:
//! their video packets copied one after the other, each moved back to where its part starts,
//! with the audio and subtitles taken once from the input.
//!
//! A part decodes from its own first key frame, so nothing before it is needed; its frames are
//! stylized and encoded exactly as in a run over the whole input (a feed-forward network sees
//! each frame alone), so with a lossless codec the joined output is the one-pass output.

use std::path::{Path, PathBuf};

use ffmpeg::{Rational, Rescale, media};
use ffmpeg_next as ffmpeg;

use crate::decode::{CopiedPacket, Window, open_input};
use crate::encode::{EncodeOptions, Sink};
use crate::error::{Error, Result};

/// One part of the input in time: from `start` (a key frame, in ticks of the video stream's
/// time base) to the next part's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// 0-based.
    pub index: usize,
    pub count: usize,
    /// Start in ticks of the input's video time base (0 for the first part).
    pub start: i64,
    /// End (the next part's start); `None` for the last part.
    pub end: Option<i64>,
    pub time_base: (i32, i32),
}

impl Part {
    fn seconds(&self, ticks: i64) -> f64 {
        ticks as f64 * f64::from(self.time_base.0) / f64::from(self.time_base.1)
    }

    /// The part as a window of the input (`--start`/`--duration`): frames from `start` up to,
    /// not including, `end`, their timestamps moved to start at 0.
    pub fn window(&self) -> Window {
        Window {
            start: self.seconds(self.start),
            duration: self.end.map(|e| self.seconds(e - self.start)),
            warm_up: 0.0,
        }
    }

    /// [`Part::window`] with `seconds` of the input before the part decoded and stylized, not
    /// written, to prime `--temporal`'s blend (none before the first part).
    pub fn window_warmed(&self, seconds: f64) -> Window {
        Window {
            warm_up: if self.start > 0 {
                seconds.min(self.seconds(self.start))
            } else {
                0.0
            },
            ..self.window()
        }
    }

    /// What a part file says about the part, after the settings fingerprint in its tag: which
    /// part of how many, and where it starts, so a part of another plan never joins.
    pub fn describe(&self) -> String {
        format!(
            "part {}/{} from {}/{}*{}",
            self.index, self.count, self.time_base.0, self.time_base.1, self.start
        )
    }
}

/// Cuts the video of `path` at key frames into `count` parts of about equal duration: each cut
/// at the key frame nearest to its share of the duration.
///
/// # Errors
/// An input that cannot be read; `Usage` for one with fewer key frames than parts.
pub fn plan(path: &Path, count: usize) -> Result<Vec<Part>> {
    crate::init_ffmpeg();
    let mut input =
        open_input(path).map_err(|e| Error::input(path, format!("not a readable video ({e})")))?;
    let stream = input
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| Error::NoVideoStream {
            path: path.to_path_buf(),
        })?;
    let (video, tb) = (stream.index(), stream.time_base());
    let mut keys = Vec::new();
    let mut end = i64::MIN;
    for (s, packet) in input.packets() {
        if s.index() != video {
            continue;
        }
        let Some(ts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        end = end.max(ts + packet.duration().max(0));
        if packet.is_key() {
            keys.push(ts);
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let first = keys.first().copied().unwrap_or(0).min(0);
    let cuts_possible = keys.iter().filter(|&&k| k > first).count();
    if count > 1 && cuts_possible + 1 < count {
        return Err(Error::Usage(format!(
            "{}: has {} key frame(s), so at most {} part(s); --segments {count} needs a key frame at each cut (re-encode with shorter GOPs, or ask for fewer parts)",
            path.display(),
            cuts_possible + 1,
            cuts_possible + 1
        )));
    }
    let mut starts = vec![0i64];
    for k in 1..count {
        let target = first as f64 + (end - first) as f64 * k as f64 / count as f64;
        let prev = *starts.last().expect("starts has the first part");
        // Leave a key frame for each cut still to come.
        let left = count - 1 - k;
        let candidates: Vec<i64> = keys.iter().copied().filter(|&c| c > prev).collect();
        let usable = &candidates[..candidates.len() - left];
        let cut = usable
            .iter()
            .copied()
            .min_by(|a, b| {
                (*a as f64 - target)
                    .abs()
                    .total_cmp(&(*b as f64 - target).abs())
            })
            .expect("enough key frames were checked above");
        starts.push(cut);
    }
    let tb = (tb.numerator(), tb.denominator());
    Ok((0..count)
        .map(|i| Part {
            index: i,
            count,
            start: starts[i],
            end: starts.get(i + 1).copied(),
            time_base: tb,
        })
        .collect())
}

/// Where part `part` of `output` is kept until the join: next to the output, named after it
/// (`film.mp4` → `film.part-1-of-3.mp4`, counting from 0 as `--shard` does).
pub fn part_path(output: &Path, part: &Part) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match output.extension() {
        Some(ext) => format!(
            "{stem}.part-{}-of-{}.{}",
            part.index,
            part.count,
            ext.to_string_lossy()
        ),
        None => format!("{stem}.part-{}-of-{}", part.index, part.count),
    };
    output.with_file_name(name)
}

/// Joins the finished `parts` (each with its file) into `output`: the parts' video packets, each
/// moved to its part's start, with the streams `copy` of `input` (audio, subtitles) taken once
/// from the input, as `Sink::create` would copy them. Returns the frames written.
///
/// # Errors
/// A part or the input that cannot be read, a failure to write the output, or `Cancelled`
/// (nothing is left under the output's name then).
pub fn join(
    input: &Path,
    parts: &[(Part, PathBuf)],
    output: &Path,
    info: &crate::decode::VideoInfo,
    copy: &[(usize, ffmpeg::codec::Parameters, Rational)],
    opts: &EncodeOptions,
    cancel: &crate::cancel::Cancel,
) -> Result<u64> {
    crate::init_ffmpeg();
    let (_, first_path) = parts.first().expect("at least one part");
    let video_params = {
        let ctx = open_input(first_path)
            .map_err(|e| Error::input(first_path, format!("cannot read the part ({e})")))?;
        let s = ctx
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| Error::input(first_path, "the part has no video"))?;
        s.parameters()
    };
    let mut sink = Sink::create_for_packets(output, info, copy, opts, &video_params)?;
    let copied = sink.copied_streams();
    let mut source = open_input(input)
        .map_err(|e| Error::input(input, format!("not a readable video ({e})")))?;
    let bases: Vec<Rational> = source.streams().map(|s| s.time_base()).collect();
    let seconds =
        |ts: i64, tb: Rational| ts as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator());
    // The input's copied packets, read as far as the video written so far.
    let mut held: Option<CopiedPacket> = None;
    let mut input_done = copied.is_empty();
    let mut copy_until = |sink: &mut Sink, until: f64| -> Result<()> {
        while !input_done {
            if held.is_none() {
                let mut packet = ffmpeg::Packet::empty();
                match packet.read(&mut source) {
                    Ok(()) if copied.contains(&packet.stream()) => {
                        held = Some(CopiedPacket {
                            input_stream: packet.stream(),
                            packet,
                        });
                    }
                    Ok(()) => continue,
                    Err(ffmpeg::Error::Eof) => {
                        input_done = true;
                        break;
                    }
                    Err(e) => return Err(Error::input(input, format!("read error ({e})"))),
                }
            }
            let p = held.as_ref().expect("a packet is held");
            let t = p
                .packet
                .dts()
                .or(p.packet.pts())
                .map_or(f64::NEG_INFINITY, |ts| seconds(ts, bases[p.input_stream]));
            if t > until {
                break;
            }
            sink.write_copied(held.take().expect("a packet is held"))?;
        }
        Ok(())
    };
    for (part, path) in parts {
        let mut ctx = open_input(path)
            .map_err(|e| Error::input(path, format!("cannot read the part ({e})")))?;
        let stream = ctx
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| Error::input(path, "the part has no video"))?;
        let (index, tb) = (stream.index(), stream.time_base());
        // The part's timestamps start at 0; its start in its own time base.
        let start = Rational(part.time_base.0, part.time_base.1);
        let offset = part.start.rescale(start, tb);
        for (s, mut packet) in ctx.packets() {
            if s.index() != index {
                continue;
            }
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            packet.set_pts(packet.pts().map(|t| t + offset));
            packet.set_dts(packet.dts().map(|t| t + offset));
            let t = packet
                .dts()
                .or(packet.pts())
                .map_or(f64::NEG_INFINITY, |ts| seconds(ts, tb));
            copy_until(&mut sink, t)?;
            sink.write_video_packet(packet, tb)?;
        }
    }
    copy_until(&mut sink, f64::INFINITY)?;
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_files_are_named_after_the_output_and_count_from_zero() {
        let part = Part {
            index: 1,
            count: 3,
            start: 100,
            end: Some(200),
            time_base: (1, 25),
        };
        assert_eq!(
            part_path(Path::new("out/film.mp4"), &part),
            Path::new("out/film.part-1-of-3.mp4")
        );
        assert_eq!(part.window().start, 4.0);
        assert_eq!(part.window().duration, Some(4.0));
        assert_eq!(part.describe(), "part 1/3 from 1/25*100");
    }
}
