//! Encode and mux: [`Frame`]s in decode order → encoder → container, with audio and subtitle
//! packets copied alongside. The one place that knows about output containers.
//!
//! The output is written under a temporary name (`name.partial.ext`) and renamed only when the
//! trailer is written, so a file with the final name is always complete. A [`Sink`] that is
//! dropped without [`Sink::finish`] removes its temporary file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ffmpeg::Rescale;
use ffmpeg::format::Pixel;
use ffmpeg::{Rational, codec, encoder, frame, software::scaling};
use ffmpeg_next as ffmpeg;

use crate::decode::{CopiedPacket, VideoInfo, colorspace_or_guess, set_colorspace};
use crate::error::{Error, Result};
use crate::frame::{Frame, rotate_rgb_into, rotated_size};

mod audio;
pub mod image_tag;
mod options;
mod subtitle;
use audio::AudioTranscoder;
pub use options::check_encoder_option;
use subtitle::SubtitleTranscoder;

/// How the video is encoded.
#[derive(Debug, Clone, Default)]
pub struct EncodeOptions {
    /// Encoder name (`libx264`, `libx265`, `ffv1`, …); `None` picks H.264 where the container
    /// takes it, else the container's default.
    pub codec: Option<String>,
    /// Constant rate factor for encoders that have one (x264/x265/vpx); default 18.
    pub crf: Option<u32>,
    /// Encoder preset (x264/x265); default `medium`.
    pub preset: Option<String>,
    /// Pixel format; default: the input's if the encoder takes it, else 4:2:0, else 4:4:4.
    pub pixel_format: Option<Pixel>,
    /// Replace a file at the final name (`-y`, or an incomplete output being redone); without
    /// it a file another run finished meanwhile is left as it is.
    pub overwrite: bool,
    /// Target bit rate in bits/s (`--bitrate`), instead of a constant quality.
    pub bitrate: Option<u64>,
    /// Options passed to the video encoder as they are (`--encoder-opt key=value`), after
    /// vstyle's own, so they win.
    pub encoder_opts: Vec<(String, String)>,
    /// Written into the output's `comment` metadata (what made it: see the CLI's record).
    pub comment: Option<String>,
}

pub use crate::output::partial_path;

/// True when `path`'s extension names a single-picture format (png, jpg, …).
pub fn is_image_path(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        ext.as_str(),
        "png" | "jpg" | "jpeg" | "bmp" | "tif" | "tiff" | "webp" | "ppm" | "pgm"
    )
}

/// Creates `path` and its muxer (chosen by the extension), as `ffmpeg_next::format::output`
/// does, for any file name.
fn open_output(path: &Path) -> std::result::Result<ffmpeg::format::context::Output, ffmpeg::Error> {
    let name = crate::decode::c_path(path)?;
    // SAFETY: the same calls as ffmpeg_next::format::output, with the name's own bytes; the
    // context is freed on failure and owned by the returned value on success.
    unsafe {
        let mut ps = std::ptr::null_mut();
        match ffmpeg::ffi::avformat_alloc_output_context2(
            &mut ps,
            std::ptr::null_mut(),
            std::ptr::null(),
            name.as_ptr(),
        ) {
            0 => match ffmpeg::ffi::avio_open(
                &mut (*ps).pb,
                name.as_ptr(),
                ffmpeg::ffi::AVIO_FLAG_WRITE,
            ) {
                0 => Ok(ffmpeg::format::context::Output::wrap(ps)),
                e => {
                    ffmpeg::ffi::avformat_free_context(ps);
                    Err(ffmpeg::Error::from(e))
                }
            },
            e => Err(ffmpeg::Error::from(e)),
        }
    }
}

/// An output being written.
pub struct Sink {
    final_path: PathBuf,
    temp_path: PathBuf,
    octx: ffmpeg::format::context::Output,
    encoder: encoder::Video,
    video_out: usize,
    encoder_tb: Rational,
    /// Input stream index → (output stream index, input time base).
    copied: HashMap<usize, (usize, Rational)>,
    /// Input stream index → its re-encoder, for audio the container cannot hold as it is.
    transcoded: HashMap<usize, AudioTranscoder>,
    /// Input stream index → its converter, for text subtitles the container cannot hold as they are.
    subtitles: HashMap<usize, SubtitleTranscoder>,
    info: VideoInfo,
    /// Encoder pixel format and (stored-orientation) size.
    pixel_format: Pixel,
    /// The YUV matrix the output is tagged with, and converted with.
    color_space: ffmpeg::color::Space,
    size: (u32, u32),
    /// Frame durations by pts: libx264 leaves packet durations at 0, and without them the mp4
    /// muxer gives the last frame no duration and players drop it.
    durations: HashMap<i64, i64>,
    frames: u64,
    finished: bool,
    /// See [`EncodeOptions::overwrite`].
    overwrite: bool,
    /// A picture's settings tag, written into it when it is finished.
    image_tag: Option<String>,
}

/// Per-thread conversion state (swscale contexts cannot move between threads).
#[derive(Default)]
pub struct EncodeConverter {
    /// The scaler and the RGB frame it reads, kept for the size they were made for: only
    /// swscale reads the RGB frame, so it can be refilled for every frame instead of allocated.
    scaler: Option<(scaling::Context, frame::Video, u32, u32)>,
}

impl Sink {
    /// Creates the temporary output, adds the video stream (same size, time base, rotation and
    /// colour tags as the input) and the copied streams, and writes the header.
    ///
    /// # Errors
    /// An unwritable folder, an unknown container or encoder, or options the encoder refuses.
    pub fn create(
        output: &Path,
        info: &VideoInfo,
        copy: &[(usize, codec::Parameters, Rational)],
        opts: &EncodeOptions,
    ) -> Result<Self> {
        Self::create_with(output, info, copy, opts, None)
    }

    /// As [`Sink::create`], for an output whose video comes encoded already
    /// ([`Sink::write_video_packet`]: the parts of a `--segments` run, made with `opts`): its
    /// video stream takes `video`'s parameters instead of the encoder's.
    ///
    /// # Errors
    /// As [`Sink::create`].
    pub fn create_for_packets(
        output: &Path,
        info: &VideoInfo,
        copy: &[(usize, codec::Parameters, Rational)],
        opts: &EncodeOptions,
        video: &codec::Parameters,
    ) -> Result<Self> {
        Self::create_with(output, info, copy, opts, Some(video))
    }

    fn create_with(
        output: &Path,
        info: &VideoInfo,
        copy: &[(usize, codec::Parameters, Rational)],
        opts: &EncodeOptions,
        video_parameters: Option<&codec::Parameters>,
    ) -> Result<Self> {
        crate::init_ffmpeg();
        let temp_path = partial_path(output);
        let err = |m: String| Error::output(output, m);
        let mut octx = open_output(&temp_path).map_err(|e| {
            if output
                .parent()
                .is_some_and(|d| !d.as_os_str().is_empty() && !d.is_dir())
            {
                err("folder does not exist".into())
            } else {
                err(format!("cannot create output ({e})"))
            }
        })?;
        crate::output::register(&temp_path);
        // From here on, dropping `guard` removes the temporary file if anything fails.
        let guard = PartialGuard(temp_path.clone());
        let is_image = is_image_path(output);
        // A turn the container cannot state is applied to the frames instead.
        let info = &if !info.quarter_turns.is_multiple_of(4)
            && !carries_rotation(octx.format().name())
        {
            tracing::warn!(
                "{}: this container cannot say the video is turned {} degrees; writing the frames upright",
                output.display(),
                info.quarter_turns % 4 * 90
            );
            let (width, height) = info.upright_size();
            VideoInfo {
                width,
                height,
                quarter_turns: 0,
                display_matrix: None,
                ..info.clone()
            }
        } else {
            info.clone()
        };

        let codec = match &opts.codec {
            Some(name) => encoder::find_by_name(name)
                .ok_or_else(|| err(format!("unknown encoder {name:?} (see `ffmpeg -encoders`)")))?,
            None => default_video_encoder(&octx, output, is_image)
                .ok_or_else(|| err("no video encoder for this container".into()))?,
        };
        let video = codec
            .video()
            .map_err(|_| err(format!("{} is not a video encoder", codec.name())))?;
        let (width, height) = (info.width, info.height);
        if let Some(p) = opts.pixel_format
            && !fits(p, width, height)
        {
            return Err(err(format!(
                "--pix-fmt {}: its chroma is subsampled, which needs even sides, and the video is {width}x{height}; use a 4:4:4 format (yuv444p) or leave --pix-fmt out",
                pixel_name(p)
            )));
        }
        let pixel_format =
            choose_pixel_format(&video, opts.pixel_format, info.pixel_format, width, height)
                .ok_or_else(|| match opts.pixel_format {
                    Some(p) => err(format!(
                        "encoder {} does not take --pix-fmt {}",
                        codec.name(),
                        pixel_name(p)
                    )),
                    None => err(format!(
                        "encoder {} takes no pixel format vstyle can produce",
                        codec.name()
                    )),
                })?;
        let global_header = octx
            .format()
            .flags()
            .contains(ffmpeg::format::Flags::GLOBAL_HEADER);

        let mut ctx = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| err(e.to_string()))?;
        ctx.set_width(width);
        ctx.set_height(height);
        ctx.set_format(pixel_format);
        // The input's time base keeps every timestamp exact (variable frame rates too); codecs
        // and containers that count frames instead take one tick per frame, as ffmpeg does.
        let frame_based = counts_frames(codec.name(), octx.format().name());
        let enc_tb = if frame_based {
            Rational(info.frame_rate.denominator(), info.frame_rate.numerator()).reduce()
        } else {
            info.time_base
        };
        ctx.set_time_base(enc_tb);
        ctx.set_frame_rate(Some(info.frame_rate));
        let space = if codec.name() == "mjpeg" {
            // JPEG (JFIF) is BT.601 whatever the source was; decoders assume it.
            ffmpeg::color::Space::BT470BG
        } else {
            colorspace_or_guess(info.color_space, info.color_space, height)
        };
        if !is_rgb(pixel_format) {
            ctx.set_colorspace(space);
            ctx.set_color_range(output_range(info, pixel_format));
        }
        ctx.set_color_primaries(info.color_primaries);
        // SAFETY: plain field write on an unopened codec context.
        unsafe { (*ctx.as_mut_ptr()).color_trc = info.color_trc.into() };
        let mut flags = codec::Flags::empty();
        if global_header {
            flags |= codec::Flags::GLOBAL_HEADER;
        }
        if codec.name() == "mjpeg" {
            // JPEG stills (and MJPEG video) at quality 2 of 31, as `ffmpeg -q:v 2`; FFmpeg's
            // default bit rate leaves visible blocks.
            flags |= codec::Flags::QSCALE;
            ctx.set_global_quality(2 * ffmpeg::ffi::FF_QP2LAMBDA);
        }
        ctx.set_flags(flags);
        let mut dict = ffmpeg::Dictionary::new();
        let name = codec.name();
        let takes_crf = matches!(
            name,
            "libx264"
                | "libx264rgb"
                | "libx265"
                | "libvpx"
                | "libvpx-vp9"
                | "libaom-av1"
                | "libsvtav1"
        );
        let takes_preset = matches!(name, "libx264" | "libx264rgb" | "libx265" | "libsvtav1");
        if let Some(rate) = opts.bitrate {
            ctx.set_bit_rate(rate as usize);
            if opts.crf.is_some() {
                tracing::warn!(
                    "{}: --crf and --bitrate both given; the bit rate is used",
                    output.display()
                );
            }
        } else if takes_crf {
            dict.set("crf", &opts.crf.unwrap_or(18).to_string());
        } else if opts.crf.is_some() {
            tracing::warn!(
                "{}: --crf does nothing with encoder {name}; ignored",
                output.display()
            );
        }
        if takes_preset {
            dict.set("preset", opts.preset.as_deref().unwrap_or("medium"));
        } else if opts.preset.is_some() {
            tracing::warn!(
                "{}: --preset does nothing with encoder {name} (x264, x265 and SVT-AV1 have presets); ignored",
                output.display()
            );
        }
        if matches!(name, "libx264" | "libx264rgb") {
            let preset = opts.preset.as_deref().unwrap_or("medium");
            let tune = opts.encoder_opts.iter().rev().find(|(k, _)| k == "tune");
            let user_set = opts.encoder_opts.iter().any(|(k, v)| {
                k == "rc-lookahead"
                    || (matches!(k.as_str(), "x264-params" | "x264opts") && v.contains("lookahead"))
            });
            if !user_set
                && let Some(frames) =
                    options::x264_lookahead(preset, tune.map(|(_, v)| v.as_str()), width, height)
            {
                dict.set("rc-lookahead", &frames.to_string());
                tracing::info!(
                    "{}: x264 look-ahead of {frames} frames at {width}x{height} (the preset's would hold more memory than the network; --encoder-opt rc-lookahead=N sets it)",
                    output.display()
                );
            }
        }
        if name.starts_with("libvpx") && opts.bitrate.is_none() {
            // libvpx treats crf as a cap unless the bitrate is 0.
            dict.set("b", "0");
        }
        for (k, v) in &opts.encoder_opts {
            dict.set(k, v);
        }
        let encoder = ctx.open_as_with(codec, dict).map_err(|e| {
            let rate = info.frame_rate;
            if matches!(name, "mpeg1video" | "mpeg2video") && !mpeg_takes_rate(rate) {
                return err(format!(
                    "MPEG-1/2 video takes only 23.976, 24, 25, 29.97, 30, 50, 59.94 or 60 frames a second, and the input has {:.3}; write .mp4, .mkv or .ts instead",
                    f64::from(rate.numerator()) / f64::from(rate.denominator().max(1))
                ));
            }
            err(format!(
                "cannot open encoder {name} ({e}); check --codec/--crf/--preset/--pix-fmt"
            ))
        })?;

        let mut ost = octx.add_stream(codec).map_err(|e| err(e.to_string()))?;
        ost.set_parameters(&encoder);
        if let Some(p) = video_parameters {
            ost.set_parameters(p.clone());
            // SAFETY: codecpar is valid; a zero tag lets the muxer choose one valid for it.
            unsafe { (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0 };
        }
        ost.set_time_base(enc_tb);
        ost.set_avg_frame_rate(info.frame_rate);
        // SAFETY: plain field write on a stream we own; AVI and MPEG muxers read the rate here.
        unsafe { (*ost.as_mut_ptr()).r_frame_rate = info.frame_rate.into() };
        let video_out = ost.index();
        if let Some(matrix) = &info.display_matrix {
            // SAFETY: the stream is valid; we copy exactly the 36 bytes we ask FFmpeg to allocate.
            unsafe {
                let dst = ffmpeg::ffi::av_stream_new_side_data(
                    ost.as_mut_ptr(),
                    ffmpeg::ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
                    36,
                );
                if !dst.is_null() {
                    std::ptr::copy_nonoverlapping(matrix.as_ptr(), dst, 36);
                }
            }
        }

        let mut copied = HashMap::new();
        let mut transcoded = HashMap::new();
        let mut subtitles = HashMap::new();
        if !is_image {
            for (index, params, tb) in copy {
                let id = params.id();
                let supported = container_takes(&octx, id) && muxer_accepts(&octx, params);
                if !supported && params.medium() == ffmpeg::media::Type::Subtitle {
                    match SubtitleTranscoder::new(&mut octx, output, params, *tb)? {
                        Some(t) => {
                            tracing::warn!(
                                "{}: subtitle stream #{index} ({id:?}) cannot be stored in this container; converting it to {}",
                                output.display(),
                                t.encoder_name
                            );
                            subtitles.insert(*index, t);
                        }
                        None => tracing::warn!(
                            "{}: subtitle stream #{index} ({id:?}) cannot be stored in this container and has no text to convert; it is left out",
                            output.display()
                        ),
                    }
                    continue;
                }
                if !supported {
                    let audio = params.medium() == ffmpeg::media::Type::Audio;
                    match audio
                        .then(|| AudioTranscoder::new(&mut octx, output, params, *tb))
                        .transpose()?
                        .flatten()
                    {
                        Some(t) => {
                            tracing::warn!(
                                "{}: audio stream #{index} ({id:?}) cannot be stored in this container; re-encoding it with {}",
                                output.display(),
                                t.encoder_name
                            );
                            transcoded.insert(*index, t);
                        }
                        None => tracing::warn!(
                            "{}: stream #{index} ({id:?}) cannot be stored in this container; it is left out",
                            output.display()
                        ),
                    }
                    continue;
                }
                let mut st = octx
                    .add_stream(encoder::find(codec::Id::None))
                    .map_err(|e| err(e.to_string()))?;
                st.set_parameters(params.clone());
                // SAFETY: codecpar is valid; a zero tag lets the muxer choose one valid for it.
                unsafe { (*(*st.as_mut_ptr()).codecpar).codec_tag = 0 };
                copied.insert(*index, (st.index(), *tb));
            }
        }

        let mut header = ffmpeg::Dictionary::new();
        if is_image {
            header.set("update", "1");
        }
        if matches!(octx.format().name(), n if n.contains("mp4") || n.contains("mov")) {
            header.set("movflags", "+faststart");
        }
        if let Some(c) = &opts.comment {
            let mut meta = ffmpeg::Dictionary::new();
            meta.set("comment", c);
            // MPEG-TS has no comment: its program's provider is the one text it carries.
            if octx.format().name() == "mpegts" {
                meta.set("service_provider", c);
            }
            octx.set_metadata(meta);
            // Ogg keeps comments per stream only.
            if let Some(mut st) = octx.stream_mut(video_out) {
                let mut meta = ffmpeg::Dictionary::new();
                meta.set("comment", c);
                st.set_metadata(meta);
            }
        }
        octx.write_header_with(header)
            .map_err(|e| err(format!("cannot write header ({e})")))?;
        let encoder_tb = encoder.time_base();
        std::mem::forget(guard);
        Ok(Self {
            final_path: output.to_path_buf(),
            temp_path,
            overwrite: opts.overwrite,
            octx,
            encoder,
            video_out,
            encoder_tb,
            copied,
            transcoded,
            subtitles,
            info: info.clone(),
            pixel_format,
            color_space: space,
            size: (width, height),
            durations: HashMap::new(),
            frames: 0,
            finished: false,
            image_tag: opts.comment.clone().filter(|_| is_image),
        })
    }

    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// Input stream indices whose packets this output takes.
    pub fn copied_streams(&self) -> Vec<usize> {
        self.copied
            .keys()
            .chain(self.transcoded.keys())
            .chain(self.subtitles.keys())
            .copied()
            .collect()
    }

    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    /// Encodes one frame (upright, any size: it is scaled back to the input's size here).
    ///
    /// # Errors
    /// Encoder or write failures (a full disk, say).
    pub fn write_frame(&mut self, conv: &mut EncodeConverter, f: &Frame) -> Result<()> {
        let turns_back = (4 - self.info.quarter_turns % 4) % 4;
        let (fw, fh) = (f.width as usize, f.height as usize);
        let (w, h) = rotated_size(fw, fh, turns_back);
        if conv
            .scaler
            .as_ref()
            .is_none_or(|(_, _, sw, sh)| (*sw, *sh) != (w as u32, h as u32))
        {
            let mut ctx = scaling::Context::get(
                Pixel::RGB24,
                w as u32,
                h as u32,
                self.pixel_format,
                self.size.0,
                self.size.1,
                // At the same size only chroma is resampled, and averaging (AREA) halves it
                // best: on a test card 0.87 mean error against 2.25 for bicubic. Scaling back
                // up from --max-side wants bicubic. No ACCURATE_RND: it costs ten times the
                // whole conversion at 1080p, for at most one level of rounding.
                if (w as u32, h as u32) == self.size {
                    scaling::Flags::AREA
                } else {
                    scaling::Flags::BICUBIC
                },
            )
            .map_err(|e| {
                Error::output(
                    &self.final_path,
                    format!("cannot convert RGB to {:?}: {e}", self.pixel_format),
                )
            })?;
            if !is_rgb(self.pixel_format) {
                let space = self.color_space;
                let full =
                    output_range(&self.info, self.pixel_format) == ffmpeg::color::Range::JPEG;
                set_colorspace(&mut ctx, space, full, false);
            }
            let src = frame::Video::new(Pixel::RGB24, w as u32, h as u32);
            conv.scaler = Some((ctx, src, w as u32, h as u32));
        }
        let (scaler, src, ..) = conv.scaler.as_mut().expect("scaler was just created");
        let stride = src.stride(0);
        // Rows of FFmpeg frames are padded: copy by stride. A frame of a rotated input is
        // turned back to the stored orientation in the same copy.
        rotate_rgb_into(&f.rgb, fw * 3, fw, fh, turns_back, src.data_mut(0), stride);
        // A fresh frame each time: the encoder may keep a reference to the one it was given.
        let mut out = frame::Video::new(self.pixel_format, self.size.0, self.size.1);
        scaler.run(src, &mut out).map_err(|e| {
            Error::output(&self.final_path, format!("colour conversion failed: {e}"))
        })?;
        let pts = f
            .pts
            .map(|p| p.rescale(self.info.time_base, self.encoder_tb));
        out.set_pts(pts);
        // SAFETY: plain field writes on a frame we own. With a fixed quality (QSCALE) the
        // encoder reads it per frame, as the ffmpeg command sets it.
        unsafe { (*out.as_mut_ptr()).quality = (*self.encoder.as_ptr()).global_quality };
        if let Some(pts) = pts {
            let d = f
                .duration
                .rescale(self.info.time_base, self.encoder_tb)
                .max(1);
            self.durations.insert(pts, d);
        }
        self.encoder
            .send_frame(&out)
            .map_err(|e| Error::output(&self.final_path, format!("encoder: {e}")))?;
        self.frames += 1;
        self.drain_encoder()
    }

    /// Writes one packet of video encoded already (see [`Sink::create_for_packets`]), its
    /// timestamps in `time_base`.
    ///
    /// # Errors
    /// Write failures.
    pub fn write_video_packet(
        &mut self,
        mut packet: ffmpeg::Packet,
        time_base: Rational,
    ) -> Result<()> {
        let out_tb = self
            .octx
            .stream(self.video_out)
            .expect("video stream exists")
            .time_base();
        packet.rescale_ts(time_base, out_tb);
        packet.set_stream(self.video_out);
        packet.set_position(-1);
        self.frames += 1;
        write_packet(&mut self.octx, &mut packet)
            .map_err(|e| Error::output(&self.final_path, format!("write error ({e})")))
    }

    /// Writes one copied packet, re-timed to its output stream.
    ///
    /// # Errors
    /// Write failures.
    pub fn write_copied(&mut self, mut p: CopiedPacket) -> Result<()> {
        if let Some(t) = self.subtitles.get_mut(&p.input_stream) {
            let converted = t.push(&p.packet)?;
            let (index, tb) = (t.output_index, t.time_base());
            return self.write_encoded(converted.into_iter().collect(), index, tb);
        }
        if let Some(t) = self.transcoded.get_mut(&p.input_stream) {
            let packets = t.push(Some(&p.packet))?;
            let (index, tb) = (t.output_index, t.time_base());
            return self.write_encoded(packets, index, tb);
        }
        let Some(&(out, in_tb)) = self.copied.get(&p.input_stream) else {
            return Ok(());
        };
        let out_tb = self
            .octx
            .stream(out)
            .expect("output stream exists")
            .time_base();
        p.packet.rescale_ts(in_tb, out_tb);
        p.packet.set_stream(out);
        p.packet.set_position(-1);
        write_packet(&mut self.octx, &mut p.packet)
            .map_err(|e| Error::output(&self.final_path, format!("write error ({e})")))
    }

    fn write_encoded(
        &mut self,
        packets: Vec<ffmpeg::Packet>,
        index: usize,
        tb: Rational,
    ) -> Result<()> {
        let out_tb = self
            .octx
            .stream(index)
            .expect("audio stream exists")
            .time_base();
        for mut packet in packets {
            packet.rescale_ts(tb, out_tb);
            write_packet(&mut self.octx, &mut packet)
                .map_err(|e| Error::output(&self.final_path, format!("write error ({e})")))?;
        }
        Ok(())
    }

    fn drain_encoder(&mut self) -> Result<()> {
        let out_tb = self
            .octx
            .stream(self.video_out)
            .expect("video stream exists")
            .time_base();
        let mut packet = ffmpeg::Packet::empty();
        loop {
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    if packet.duration() <= 0 {
                        let d = packet
                            .pts()
                            .and_then(|pts| self.durations.remove(&pts))
                            .unwrap_or(0);
                        packet.set_duration(d);
                    } else if let Some(pts) = packet.pts() {
                        self.durations.remove(&pts);
                    }
                    packet.rescale_ts(self.encoder_tb, out_tb);
                    packet.set_stream(self.video_out);
                    write_packet(&mut self.octx, &mut packet).map_err(|e| {
                        Error::output(&self.final_path, format!("write error ({e})"))
                    })?;
                }
                Err(ffmpeg::Error::Other {
                    errno: ffmpeg::util::error::EAGAIN,
                })
                | Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(e) => return Err(Error::output(&self.final_path, format!("encoder: {e}"))),
            }
        }
    }

    /// Flushes the encoder, writes the trailer and gives the file its final name.
    ///
    /// # Errors
    /// Encoder, write or rename failures; the temporary file is removed then.
    pub fn finish(mut self) -> Result<u64> {
        self.encoder
            .send_eof()
            .map_err(|e| Error::output(&self.final_path, format!("encoder: {e}")))?;
        self.drain_encoder()?;
        // Re-encoded audio: the decoder's, resampler's and encoder's last samples.
        let flushed: Vec<_> = self
            .transcoded
            .values_mut()
            .map(|t| Ok((t.push(None)?, t.output_index, t.time_base())))
            .collect::<Result<_>>()?;
        for (packets, index, tb) in flushed {
            self.write_encoded(packets, index, tb)?;
        }
        self.octx.write_trailer().map_err(|e| {
            Error::output(&self.final_path, format!("cannot finish the file ({e})"))
        })?;
        // A picture carries its settings tag in its own metadata (its muxer writes none).
        if let Some(tag) = &self.image_tag {
            image_tag::write(&self.temp_path, tag).map_err(|e| {
                Error::output(&self.final_path, format!("cannot tag the picture ({e})"))
            })?;
        }
        let committed = crate::output::commit(&self.temp_path, &self.final_path, self.overwrite);
        crate::output::forget(&self.temp_path);
        self.finished = true;
        committed?;
        Ok(self.frames)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.temp_path);
            crate::output::forget(&self.temp_path);
        }
    }
}

/// Removes a temporary output when `Sink::create` fails half-way.
struct PartialGuard(PathBuf);

impl Drop for PartialGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        crate::output::forget(&self.0);
    }
}

/// True when the output's container can store streams of codec `id`. FFmpeg answers 1 (yes),
/// 0 (no) or, for muxers without a codec list, "unknown"; for those the codecs their formats
/// define are listed here (what `ffmpeg -c copy` keeps in them), and any other muxer is tried.
pub(crate) fn container_takes(octx: &ffmpeg::format::context::Output, id: codec::Id) -> bool {
    // SAFETY: oformat is valid for the lifetime of octx.
    let answer = unsafe {
        ffmpeg::ffi::avformat_query_codec(
            (*octx.as_ptr()).oformat,
            id.into(),
            ffmpeg::ffi::FF_COMPLIANCE_NORMAL,
        )
    };
    if answer >= 0 {
        return answer == 1;
    }
    use codec::Id;
    match octx.format().name() {
        "mpegts" => matches!(
            id,
            Id::H264
                | Id::HEVC
                | Id::MPEG1VIDEO
                | Id::MPEG2VIDEO
                | Id::AAC
                | Id::MP2
                | Id::MP3
                | Id::AC3
                | Id::EAC3
                | Id::OPUS
                | Id::DTS
                | Id::DVB_SUBTITLE
        ),
        "mpeg" | "vob" | "dvd" | "svcd" | "vcd" => matches!(
            id,
            Id::MPEG1VIDEO | Id::MPEG2VIDEO | Id::MP2 | Id::MP3 | Id::AC3 | Id::DTS | Id::PCM_S16BE
        ),
        "ogg" | "ogv" | "oga" => matches!(
            id,
            Id::THEORA | Id::VP8 | Id::VORBIS | Id::OPUS | Id::FLAC | Id::SPEEX
        ),
        _ => true,
    }
}

/// Hands `packet` to the muxer's interleaving. Unlike ffmpeg-next's `write_interleaved`, an
/// empty packet is written too: libtheora encodes a frame equal to the one before as an empty
/// packet, which Ogg stores to keep the frame (ffmpeg-next refuses it as invalid data).
fn write_packet(
    octx: &mut ffmpeg::format::context::Output,
    packet: &mut ffmpeg::Packet,
) -> std::result::Result<(), ffmpeg::Error> {
    use ffmpeg::packet::Mut as _;
    // SAFETY: a valid muxer context and packet; the muxer takes the packet's reference and
    // leaves it blank, as av_interleaved_write_frame does for ffmpeg-next's own call.
    match unsafe { ffmpeg::ffi::av_interleaved_write_frame(octx.as_mut_ptr(), packet.as_mut_ptr()) }
    {
        0 => Ok(()),
        e => Err(ffmpeg::Error::from(e)),
    }
}

/// True when `octx`'s muxer sets up a stream of `params` as it is: a trial muxer of the same
/// format, writing nothing, is initialised with it. Some muxers list a codec they refuse when
/// the header is written (FLAC in MP4 is "experimental", FLAC and Opus in MOV have no tag).
fn muxer_accepts(octx: &ffmpeg::format::context::Output, params: &codec::Parameters) -> bool {
    use ffmpeg::ffi;
    // SAFETY: a context of our own, freed before returning; `params` is only read.
    unsafe {
        let mut trial = std::ptr::null_mut();
        if ffi::avformat_alloc_output_context2(
            &mut trial,
            (*octx.as_ptr()).oformat.cast_mut(),
            std::ptr::null(),
            std::ptr::null(),
        ) < 0
            || trial.is_null()
        {
            // Cannot tell: the muxer's list decides.
            return true;
        }
        // Muxers may look at their output while they set up: a buffer in memory.
        if ffi::avio_open_dyn_buf(&mut (*trial).pb) < 0 {
            ffi::avformat_free_context(trial);
            return true;
        }
        let st = ffi::avformat_new_stream(trial, std::ptr::null());
        let ok = !st.is_null()
            && ffi::avcodec_parameters_copy((*st).codecpar, params.as_ptr()) >= 0
            && {
                (*(*st).codecpar).codec_tag = 0;
                ffi::avformat_init_output(trial, std::ptr::null_mut()) >= 0
            };
        let mut buf = std::ptr::null_mut();
        ffi::avio_close_dyn_buf((*trial).pb, &mut buf);
        ffi::av_free(buf.cast());
        (*trial).pb = std::ptr::null_mut();
        ffi::avformat_free_context(trial);
        ok
    }
}

/// True when MPEG-1/2 video can state `rate` (its table of rates, as the encoder checks it).
fn mpeg_takes_rate(rate: Rational) -> bool {
    let r = rate.reduce();
    [
        (24_000, 1001),
        (24, 1),
        (25, 1),
        (30_000, 1001),
        (30, 1),
        (50, 1),
        (60_000, 1001),
        (60, 1),
    ]
    .contains(&(r.numerator(), r.denominator()))
}

/// True for muxers that store a display matrix, so a turned video can be written as it is
/// stored and played upright (the MP4 family). Others (Matroska, WebM, MPEG-TS, AVI, …) get
/// upright frames.
fn carries_rotation(muxer: &str) -> bool {
    matches!(
        muxer,
        "mp4" | "mov" | "3gp" | "3g2" | "ipod" | "ismv" | "psp" | "f4v"
    )
}

/// True for encoders and containers that count frames rather than keep timestamps: they take
/// a time base of one tick per frame (MPEG-1/2 video refuses others; AVI stores a frame rate).
fn counts_frames(codec: &str, format: &str) -> bool {
    matches!(
        codec,
        "mpeg1video"
            | "mpeg2video"
            | "mpeg4"
            | "msmpeg4"
            | "msmpeg4v2"
            | "h263"
            | "flv"
            | "libtheora"
    ) || format == "avi"
}

fn default_video_encoder(
    octx: &ffmpeg::format::context::Output,
    output: &Path,
    is_image: bool,
) -> Option<ffmpeg::Codec> {
    if !is_image
        && container_takes(octx, codec::Id::H264)
        && let Some(c) = encoder::find_by_name("libx264")
    {
        return Some(c);
    }
    // The file name matters: image2 picks png for .png and mjpeg for .jpg.
    let id = octx.format().codec(&output, ffmpeg::media::Type::Video);
    encoder::find(id)
}

fn pixel_info(p: Pixel) -> Option<(u8, u8, bool)> {
    let fmt: ffmpeg::ffi::AVPixelFormat = p.into();
    // SAFETY: av_pix_fmt_desc_get returns null or a static descriptor.
    unsafe {
        let d = ffmpeg::ffi::av_pix_fmt_desc_get(fmt);
        if d.is_null() {
            return None;
        }
        let rgb = (*d).flags & u64::from(ffmpeg::ffi::AV_PIX_FMT_FLAG_RGB as u32) != 0;
        Some(((*d).log2_chroma_w, (*d).log2_chroma_h, rgb))
    }
}

fn is_rgb(p: Pixel) -> bool {
    pixel_info(p).is_some_and(|(_, _, rgb)| rgb)
}

fn fits(p: Pixel, w: u32, h: u32) -> bool {
    pixel_info(p).is_some_and(|(cw, ch, _)| w.is_multiple_of(1 << cw) && h.is_multiple_of(1 << ch))
}

/// FFmpeg's name of a pixel format (`yuv420p`).
fn pixel_name(p: Pixel) -> String {
    p.descriptor()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|| format!("{p:?}").to_lowercase())
}

/// The pixel format to encode in: the user's, else the input's, else 4:2:0 when the size allows
/// it, else the first full-resolution one (odd sizes), else whatever the encoder lists first.
fn choose_pixel_format(
    video: &ffmpeg::codec::Video,
    wanted: Option<Pixel>,
    input: Pixel,
    w: u32,
    h: u32,
) -> Option<Pixel> {
    let formats: Vec<Pixel> = video.formats().map(|f| f.collect()).unwrap_or_default();
    if formats.is_empty() {
        return wanted.or(Some(Pixel::YUV420P));
    }
    if let Some(p) = wanted {
        return formats.contains(&p).then_some(p);
    }
    let ok = |p: &Pixel| formats.contains(p) && fits(*p, w, h) && pixel_info(*p).is_some();
    [
        input,
        Pixel::YUV420P,
        Pixel::YUVJ420P,
        Pixel::YUV444P,
        Pixel::YUVJ444P,
        Pixel::RGB24,
        Pixel::GBRP,
    ]
    .into_iter()
    .find(ok)
    .or_else(|| formats.iter().copied().find(|p| fits(*p, w, h)))
    .map(|p| {
        // Encoders that list a full-range (JPEG) variant first, such as mjpeg, refuse the
        // limited-range one unless told to be non-standard: take the variant they prefer.
        let full = match p {
            Pixel::YUV420P => Pixel::YUVJ420P,
            Pixel::YUV422P => Pixel::YUVJ422P,
            Pixel::YUV444P => Pixel::YUVJ444P,
            other => other,
        };
        let rank = |q: Pixel| formats.iter().position(|f| *f == q);
        match (rank(full), rank(p)) {
            (Some(a), Some(b)) if a < b => full,
            _ => p,
        }
    })
}

/// Refuses an output whose extension names no container FFmpeg can write.
///
/// # Errors
/// `Error::Output` naming the file and the extensions to use instead.
pub fn check_container(output: &Path) -> Result<()> {
    crate::init_ffmpeg();
    let name = std::ffi::CString::new(output.to_string_lossy().as_bytes())
        .map_err(|_| Error::output(output, "the name holds a NUL byte"))?;
    // SAFETY: av_guess_format takes NUL-terminated strings (or null) and returns a static entry.
    let format =
        unsafe { ffmpeg::ffi::av_guess_format(std::ptr::null(), name.as_ptr(), std::ptr::null()) };
    // SAFETY: a static muxer entry, checked for null; its name is a static C string.
    if !format.is_null() && unsafe { std::ffi::CStr::from_ptr((*format).name) }.to_bytes() == b"gif"
    {
        return Err(Error::output(
            output,
            "GIF output is not supported; write a video (.mp4, .webm) or a picture (.png)",
        ));
    }
    if format.is_null() {
        let ext = output
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_else(|| "no extension".into());
        return Err(Error::output(
            output,
            format!(
                "{ext} names no container FFmpeg can write; use .mp4, .mkv, .mov, .webm, or .png/.jpg for an image"
            ),
        ));
    }
    Ok(())
}

fn output_range(info: &VideoInfo, p: Pixel) -> ffmpeg::color::Range {
    if matches!(p, Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P)
        || info.color_range == ffmpeg::color::Range::JPEG
    {
        ffmpeg::color::Range::JPEG
    } else {
        ffmpeg::color::Range::MPEG
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_get_a_format_without_chroma_subsampling() {
        crate::init_ffmpeg();
        let x264 = encoder::find_by_name("libx264")
            .expect("libx264 in the system FFmpeg")
            .video()
            .unwrap();
        assert_eq!(
            choose_pixel_format(&x264, None, Pixel::YUV420P, 66, 38),
            Some(Pixel::YUV420P)
        );
        assert_eq!(
            choose_pixel_format(&x264, None, Pixel::YUV420P, 67, 37),
            Some(Pixel::YUV444P)
        );
        assert_eq!(
            choose_pixel_format(&x264, Some(Pixel::RGB24), Pixel::YUV420P, 2, 2),
            None
        );
    }
}
