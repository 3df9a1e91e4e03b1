//! Demux and decode with FFmpeg: the one place that knows about input containers and AVFrames.
//!
//! [`Source::open`] probes the input and fails early (missing file, no video stream, unknown
//! codec). [`Source::run`] then reads packets: video is decoded, converted to packed RGB24 at the
//! processing size in one swscale pass (colour matrix and range taken from the stream), turned
//! upright when the stream carries a rotation, and sent on as [`Frame`]s; packets of streams that
//! are copied (audio, subtitles) go out untouched on a second channel.

use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;
use ffmpeg::format::Pixel;
use ffmpeg::{Rational, codec, frame, media, software::scaling};
use ffmpeg_next as ffmpeg;

use crate::error::{Error, Result};
use crate::frame::{Frame, rotate_rgb_into, rotated_size};

/// What the rest of the pipeline needs to know about the input's video stream.
#[derive(Debug, Clone)]
pub struct VideoInfo {
    /// Stored (coded) size, before any rotation.
    pub width: u32,
    pub height: u32,
    /// Clockwise quarter turns that make the stored picture upright (from the display matrix).
    pub quarter_turns: u32,
    pub time_base: Rational,
    /// Average frame rate, or the codec's rate when the container gives none.
    pub frame_rate: Rational,
    /// The container's frame count, 0 when it does not say.
    pub frames: u64,
    pub pixel_format: Pixel,
    pub color_space: ffmpeg::color::Space,
    pub color_range: ffmpeg::color::Range,
    pub color_primaries: ffmpeg::color::Primaries,
    pub color_trc: ffmpeg::color::TransferCharacteristic,
    /// The raw display matrix (9 × i32), copied to the output so players rotate it the same way.
    pub display_matrix: Option<Vec<u8>>,
    /// True for single pictures (jpg, png, …), which give a picture out.
    pub is_image: bool,
    /// Where the container says the video ends (start + duration), in `time_base` units, when
    /// it says: a stream that stops well before is reported as cut short.
    pub expected_end: Option<i64>,
}

impl VideoInfo {
    /// How many frames a run with `limit` should give: the container's count, else its
    /// duration times the frame rate (WebM states no count), within the limit; 0 when unknown.
    pub fn expected_frames(&self, limit: Option<u64>) -> u64 {
        let from_duration = || {
            let end = self.expected_end?;
            let (tb, rate) = (self.time_base, self.frame_rate);
            let secs = end as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator());
            let n = (secs * f64::from(rate.numerator()) / f64::from(rate.denominator())).round();
            (n > 0.0).then_some(n as u64)
        };
        let n = if self.is_image {
            1
        } else if self.frames > 0 {
            self.frames
        } else {
            from_duration().unwrap_or(0)
        };
        match limit {
            Some(l) if n == 0 || l < n => l,
            _ => n,
        }
    }

    /// The upright size (as displayed).
    pub fn upright_size(&self) -> (u32, u32) {
        if self.quarter_turns % 2 == 1 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// What [`Source::run`] did.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub frames: u64,
    /// Time spent waiting for later stages to take frames (not decoding).
    pub blocked: std::time::Duration,
    /// What was wrong with the input but did not stop it: corrupt packets, damaged frames, a
    /// stream that ends before the container says. One line each.
    pub warnings: Vec<String>,
}

/// Damage seen while decoding, for the warnings.
#[derive(Debug, Default)]
struct Damage {
    /// Video packets the decoder refused (corrupt data).
    bad_packets: u64,
    /// Frames the decoder gave but marked as damaged (concealed errors).
    damaged_frames: u64,
    /// A read error that ended the input early.
    read_error: Option<String>,
}

/// Where the container says the video stream ends: the stream's start + duration, else the
/// container's duration, in the stream's time base.
fn expected_end(
    input: &ffmpeg::format::context::Input,
    stream: &ffmpeg::format::stream::Stream,
) -> Option<i64> {
    use ffmpeg::Rescale;
    let tb = stream.time_base();
    let start = Some(stream.start_time()).filter(|&t| t != ffmpeg::ffi::AV_NOPTS_VALUE);
    if stream.duration() > 0 {
        return Some(start.unwrap_or(0) + stream.duration());
    }
    if input.duration() > 0 {
        // SAFETY: plain field read of an open format context.
        let fmt_start = unsafe { (*input.as_ptr()).start_time };
        let fmt_start = if fmt_start == ffmpeg::ffi::AV_NOPTS_VALUE {
            0
        } else {
            fmt_start
        };
        return Some((fmt_start + input.duration()).rescale(ffmpeg::rescale::TIME_BASE, tb));
    }
    None
}

/// A non-video packet on its way to the muxer unchanged.
pub struct CopiedPacket {
    pub input_stream: usize,
    pub packet: ffmpeg::Packet,
}

/// An opened input, ready to decode.
pub struct Source {
    path: PathBuf,
    input: ffmpeg::format::context::Input,
    decoder: ffmpeg::decoder::Video,
    video_stream: usize,
    pub info: VideoInfo,
    /// Upright size of the frames handed on (the processing size).
    out_size: (u32, u32),
    /// Measures each frame's motion back to the previous one (`--temporal`).
    motion: Option<crate::temporal::MotionEstimator>,
    /// The motion comes from the decoder's motion vectors where they point at the previous frame.
    decoder_motion: bool,
    /// `--start`/`--duration`: the part of the input that is read, in seconds.
    window: Option<Window>,
}

/// A part of the input in time (ffmpeg's `-ss`/`-t`): frames and copied packets outside it are
/// dropped, and what is kept is shifted to start at 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: f64,
    pub duration: Option<f64>,
    /// Seconds before `start` whose frames are decoded and handed on too, with timestamps
    /// before 0, to prime what carries over from frame to frame (`--temporal`'s blend); the
    /// encoder writes none of them.
    pub warm_up: f64,
}

impl Window {
    /// [`Window::warm_up`] in units of `tb`.
    fn warm_ticks(&self, tb: Rational) -> i64 {
        (self.warm_up * f64::from(tb.denominator()) / f64::from(tb.numerator())).round() as i64
    }

    /// `(start, end)` in units of `tb` (end `i64::MAX` when open).
    fn in_time_base(&self, tb: Rational) -> (i64, i64) {
        let ticks =
            |s: f64| (s * f64::from(tb.denominator()) / f64::from(tb.numerator())).round() as i64;
        let start = ticks(self.start);
        let end = self
            .duration
            .map_or(i64::MAX, |d| start.saturating_add(ticks(d)));
        (start, end)
    }
}

impl Source {
    /// Opens `path` and its best video stream.
    ///
    /// # Errors
    /// A missing, empty or unreadable file, no video stream, or an undecodable codec.
    pub fn open(path: &Path) -> Result<Self> {
        crate::init_ffmpeg();
        match std::fs::metadata(path) {
            Err(e) if path == Path::new("-") => {
                return Err(Error::input(
                    path,
                    format!(
                        "{} (vstyle reads files, not standard input)",
                        io_problem(&e)
                    ),
                ));
            }
            Err(e) => return Err(Error::input(path, io_problem(&e))),
            Ok(m) if m.is_dir() => return Err(Error::input(path, "is a folder")),
            // A FIFO, a device (/dev/zero) or a socket: FFmpeg would block or read forever.
            Ok(m) if !m.is_file() => return Err(Error::input(path, "not a regular file")),
            Ok(m) if m.len() == 0 => return Err(Error::input(path, "file is empty")),
            Ok(_) => {}
        }
        let input = open_input(path)
            .map_err(|e| Error::input(path, format!("not a readable video or image ({e})")))?;
        let stream = input
            .streams()
            .best(media::Type::Video)
            .filter(|s| {
                s.disposition() & ffmpeg::format::stream::Disposition::ATTACHED_PIC
                    != ffmpeg::format::stream::Disposition::ATTACHED_PIC
            })
            .ok_or_else(|| Error::NoVideoStream {
                path: path.to_path_buf(),
            })?;
        let video_stream = stream.index();
        let mut ctx = codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| Error::input(path, format!("video stream: {e}")))?;
        ctx.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            ..Default::default()
        });
        let decoder = ctx
            .decoder()
            .video()
            .map_err(|e| Error::input(path, format!("cannot decode the video stream ({e})")))?;
        if decoder.width() == 0 || decoder.height() == 0 {
            return Err(Error::input(path, "video stream has no picture size"));
        }
        let display_matrix = stream
            .side_data()
            .find(|sd| sd.kind() == ffmpeg::codec::packet::side_data::Type::DisplayMatrix)
            .map(|sd| sd.data().to_vec())
            .filter(|d| d.len() >= 36);
        let quarter_turns = display_matrix
            .as_deref()
            .map_or(0, quarter_turns_from_matrix);
        let expected_end = expected_end(&input, &stream);
        let format_name = input.format().name().to_string();
        let is_image = format_name.contains("image2") || format_name.ends_with("_pipe");
        let frame_rate = [
            stream.avg_frame_rate(),
            stream.rate(),
            decoder.frame_rate().unwrap_or(Rational(0, 1)),
        ]
        .into_iter()
        .find(|r| r.numerator() > 0 && r.denominator() > 0)
        .unwrap_or(Rational(25, 1));
        let info = VideoInfo {
            width: decoder.width(),
            height: decoder.height(),
            quarter_turns,
            time_base: stream.time_base(),
            frame_rate,
            frames: u64::try_from(stream.frames()).unwrap_or(0),
            pixel_format: decoder.format(),
            color_space: decoder.color_space(),
            color_range: decoder.color_range(),
            color_primaries: decoder.color_primaries(),
            color_trc: decoder.color_transfer_characteristic(),
            display_matrix,
            is_image,
            expected_end,
        };
        let out_size = info.upright_size();
        Ok(Self {
            path: path.to_path_buf(),
            input,
            decoder,
            video_stream,
            info,
            out_size,
            motion: None,
            decoder_motion: false,
            window: None,
        })
    }

    /// Reads only `window` of the input (`--start`/`--duration`); the output starts at 0.
    pub fn set_window(&mut self, window: Window) {
        let tb = self.info.time_base;
        let (start, end) = window.in_time_base(tb);
        // What the container says is left from the start, for the progress and the cut-short
        // check.
        if let Some(e) = self.info.expected_end {
            self.info.expected_end = Some(e.min(end).saturating_sub(start).max(0));
        }
        if window.duration.is_some() || window.start > 0.0 {
            self.info.frames = 0; // the count is for the whole file
        }
        self.window = Some(window);
    }

    /// Attaches to each frame the motion from it back to the previous frame (`--temporal`);
    /// measured here, in the decode thread, while the network works on earlier frames.
    pub fn measure_motion(&mut self, on: bool) {
        self.motion = on.then(crate::temporal::MotionEstimator::default);
    }

    /// Takes the motion from the decoder's motion vectors where it can (`--temporal-motion
    /// decoder`): reopens the decoder, before anything is decoded, with their export turned on.
    ///
    /// # Errors
    /// The decoder cannot be opened again.
    pub fn use_decoder_motion(&mut self) -> Result<()> {
        let stream = self
            .input
            .stream(self.video_stream)
            .ok_or_else(|| Error::input(&self.path, "video stream gone"))?;
        let mut ctx = codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| Error::input(&self.path, format!("video stream: {e}")))?;
        ctx.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            ..Default::default()
        });
        // SAFETY: a plain field of the not yet opened context.
        unsafe { (*ctx.as_mut_ptr()).flags2 |= ffmpeg::ffi::AV_CODEC_FLAG2_EXPORT_MVS };
        self.decoder = ctx.decoder().video().map_err(|e| {
            Error::input(&self.path, format!("cannot decode the video stream ({e})"))
        })?;
        self.decoder_motion = true;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The input's streams that the output copies: audio and subtitles (not cover pictures, data,
    /// or further video streams), as `(index, parameters, time_base)`.
    pub fn copyable_streams(&self) -> Vec<(usize, codec::Parameters, Rational)> {
        self.input
            .streams()
            .filter(|s| {
                matches!(
                    s.parameters().medium(),
                    media::Type::Audio | media::Type::Subtitle
                )
            })
            .map(|s| (s.index(), s.parameters(), s.time_base()))
            .collect()
    }

    pub fn video_stream_index(&self) -> usize {
        self.video_stream
    }

    /// Sets the upright size frames are scaled to before they are handed on.
    pub fn set_output_size(&mut self, width: u32, height: u32) {
        self.out_size = (width.max(1), height.max(1));
    }

    pub fn output_size(&self) -> (u32, u32) {
        self.out_size
    }

    /// Decodes up to `limit` frames, sending them to `frames` and copied packets to `packets`.
    /// Copied packets are sent without counting as blocked time: they are small and rare.
    /// `next_buffer` gives the buffer each frame's pixels are written into (the pipeline hands
    /// back the buffers of frames written out, and blocks there while too many are in flight;
    /// an empty `Vec` is allocated once). Stops early, without error, when `stop` says so.
    ///
    /// # Errors
    /// Read or decode errors, a truncated stream, or `Disconnected` when a later stage is gone.
    pub fn run(
        mut self,
        frames: &Sender<Frame>,
        packets: &Sender<CopiedPacket>,
        copy_streams: &[usize],
        limit: Option<u64>,
        stop: &dyn Fn() -> bool,
        mut next_buffer: impl FnMut() -> Result<Vec<u8>>,
    ) -> Result<Decoded> {
        let mut blocked = std::time::Duration::ZERO;
        let mut conv = Converter::new(&self.info, self.out_size);
        let mut decoded = frame::Video::empty();
        let mut next_index = 0u64;
        let mut last_pts: Option<i64> = None;
        let default_duration = frame_duration(self.info.frame_rate, self.info.time_base);
        let limit = limit.unwrap_or(u64::MAX);
        let mut eof = false;
        let mut damage = Damage::default();
        let mut last_end: Option<i64> = None;
        let window = self
            .window
            .map(|w| (w, w.in_time_base(self.info.time_base)));
        if let Some((w, _)) = window
            && w.start - w.warm_up > 0.0
        {
            // To the key frame at or before the start; frames before it are decoded, not kept.
            let ts = ((w.start - w.warm_up) * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
            self.input.seek(ts, ..ts + 1).map_err(|e| {
                Error::input(&self.path, format!("cannot seek to {:.3} s ({e})", w.start))
            })?;
        }
        let mut past_end = false;
        // Whether the last frame handed on was an I or P frame: a P frame right after one
        // refers to it, the previous frame.
        let mut after_anchor = false;
        while next_index < limit && !stop() && !past_end {
            if !eof {
                let mut packet = ffmpeg::Packet::empty();
                match packet.read(&mut self.input) {
                    Ok(()) => {
                        let idx = packet.stream();
                        if idx == self.video_stream {
                            // Corrupt data loses the frames it held, as in ffmpeg: count it,
                            // say so at the end, and go on with the rest of the stream.
                            if let Err(e) = self.decoder.send_packet(&packet) {
                                damage.bad_packets += 1;
                                tracing::debug!("{}: packet refused ({e})", self.path.display());
                            }
                        } else if copy_streams.contains(&idx) {
                            let mut packet = packet;
                            if let Some((w, _)) = window
                                && !shift_into_window(&mut packet, &self.input, idx, w)
                            {
                                continue;
                            }
                            packets
                                .send(CopiedPacket {
                                    input_stream: idx,
                                    packet,
                                })
                                .map_err(|_| Error::Disconnected)?;
                            continue;
                        } else {
                            continue;
                        }
                    }
                    Err(ffmpeg::Error::Eof) => {
                        eof = true;
                        self.decoder
                            .send_eof()
                            .map_err(|e| Error::input(&self.path, e))?;
                    }
                    // A read error part-way (a cut-off file): what was read is stylized, and
                    // the end says what is missing.
                    Err(e) => {
                        damage.read_error = Some(e.to_string());
                        eof = true;
                        self.decoder
                            .send_eof()
                            .map_err(|e| Error::input(&self.path, e))?;
                    }
                }
            }
            while next_index < limit {
                match self.decoder.receive_frame(&mut decoded) {
                    Ok(()) => {
                        let pts = decoded
                            .timestamp()
                            .or_else(|| last_pts.map(|p| p + default_duration))
                            .unwrap_or(next_index as i64 * default_duration);
                        // SAFETY: reading a plain field of a valid, decoded AVFrame.
                        let duration = match unsafe { (*decoded.as_ptr()).pkt_duration } {
                            d if d > 0 => d,
                            _ => default_duration,
                        };
                        last_pts = Some(pts);
                        let pts = match window {
                            Some((w, (start, _)))
                                if pts < start - w.warm_ticks(self.info.time_base) =>
                            {
                                continue;
                            }
                            Some((_, (_, end))) if pts >= end => {
                                past_end = true;
                                break;
                            }
                            Some((_, (start, _))) => pts - start,
                            None => pts,
                        };
                        last_end = Some(pts + duration);
                        // SAFETY: plain field reads of a valid, decoded AVFrame.
                        let (flags, errors) = unsafe {
                            (
                                (*decoded.as_ptr()).flags,
                                (*decoded.as_ptr()).decode_error_flags,
                            )
                        };
                        if errors != 0 || flags & ffmpeg::ffi::AV_FRAME_FLAG_CORRUPT != 0 {
                            damage.damaged_frames += 1;
                        }
                        let t0 = std::time::Instant::now();
                        let buffer = next_buffer()?;
                        blocked += t0.elapsed();
                        let mut f = conv.convert(&decoded, next_index, buffer)?;
                        f.pts = Some(pts);
                        f.duration = duration;
                        if let Some(est) = &mut self.motion {
                            let kind = decoded.kind();
                            let vectors = (self.decoder_motion
                                && after_anchor
                                && kind == ffmpeg::picture::Type::P
                                && self.info.quarter_turns == 0)
                                .then(|| block_vectors(&decoded, (f.width, f.height)))
                                .flatten();
                            after_anchor =
                                matches!(kind, ffmpeg::picture::Type::I | ffmpeg::picture::Type::P);
                            let (w, h) = (f.width as usize, f.height as usize);
                            f.motion = est
                                .next_with(&f.rgb, w, h, vectors.as_deref())
                                .map(Box::new);
                        }
                        let t0 = std::time::Instant::now();
                        frames.send(f).map_err(|_| Error::Disconnected)?;
                        blocked += t0.elapsed();
                        next_index += 1;
                    }
                    Err(ffmpeg::Error::Other {
                        errno: ffmpeg::util::error::EAGAIN,
                    }) => break,
                    Err(ffmpeg::Error::Eof) => {
                        let warnings = self.finish(next_index, limit, last_end, &damage)?;
                        return Ok(Decoded {
                            frames: next_index,
                            blocked,
                            warnings,
                        });
                    }
                    Err(e) => {
                        damage.bad_packets += 1;
                        tracing::debug!("{}: decode error ({e})", self.path.display());
                        if eof {
                            continue;
                        }
                        break;
                    }
                }
            }
        }
        let warnings = damage_warnings(&damage);
        Ok(Decoded {
            frames: next_index,
            blocked,
            warnings,
        })
    }

    /// The end of the stream: an error when nothing could be decoded, else the warnings.
    fn finish(
        &self,
        decoded: u64,
        limit: u64,
        last_end: Option<i64>,
        damage: &Damage,
    ) -> Result<Vec<String>> {
        if decoded == 0
            && let Some(w) = self.window
        {
            return Err(Error::input(
                &self.path,
                format!(
                    "no frame from {:.3} s on (--start is past the end of the video?)",
                    w.start
                ),
            ));
        }
        if decoded == 0 {
            let why = match (&damage.read_error, damage.bad_packets) {
                (Some(e), _) => format!(" (read error: {e})"),
                (None, n) if n > 0 => format!(" ({n} corrupt packet(s))"),
                _ => String::new(),
            };
            return Err(Error::input(
                &self.path,
                format!("no video frame could be decoded{why}"),
            ));
        }
        let mut warnings = damage_warnings(damage);
        // The container's frame count is no truncation test (edit lists and dropped frames make
        // it differ from what plays); where the stream should end is.
        if limit == u64::MAX
            && let (Some(expected), Some(end)) = (self.info.expected_end, last_end)
        {
            let tb = self.info.time_base;
            let frame = frame_duration(self.info.frame_rate, tb);
            let half_second = i64::from(tb.denominator()) / (2 * i64::from(tb.numerator()).max(1));
            if end + (2 * frame).max(half_second) < expected {
                let secs =
                    |t: i64| t as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator());
                warnings.push(format!(
                    "the video stream ends at {:.2} s, before the {:.2} s the container lists: the file looks cut short; stylized the {decoded} frame(s) there are",
                    secs(end),
                    secs(expected)
                ));
            }
        }
        Ok(warnings)
    }
}

/// Keeps a copied packet that falls inside `w` and shifts it to the window's start; false when
/// it falls outside (the packet is dropped).
fn shift_into_window(
    packet: &mut ffmpeg::Packet,
    input: &ffmpeg::format::context::Input,
    stream: usize,
    w: Window,
) -> bool {
    let Some(tb) = input.stream(stream).map(|s| s.time_base()) else {
        return false;
    };
    let (start, end) = w.in_time_base(tb);
    let Some(t) = packet.pts().or(packet.dts()) else {
        return true;
    };
    if t < start || t >= end {
        return false;
    }
    packet.set_pts(packet.pts().map(|p| p - start));
    packet.set_dts(packet.dts().map(|d| d - start));
    true
}

/// The warnings for the damage seen, one line each.
fn damage_warnings(damage: &Damage) -> Vec<String> {
    let mut out = Vec::new();
    if damage.bad_packets > 0 {
        out.push(format!(
            "{} video packet(s) could not be decoded (corrupt data); the frames they held are missing",
            damage.bad_packets
        ));
    }
    if damage.damaged_frames > 0 {
        out.push(format!(
            "{} frame(s) decoded with errors (concealed by the decoder; they may show damage)",
            damage.damaged_frames
        ));
    }
    if let Some(e) = &damage.read_error {
        out.push(format!(
            "reading stopped early ({e}); the rest of the file is missing"
        ));
    }
    out
}

/// The seconds of video a run reads from `path` with `window` and `limit`, as its container
/// states them; `None` when it states no length or cannot be opened.
pub fn expected_seconds(path: &Path, window: Option<Window>, limit: Option<u64>) -> Option<f64> {
    crate::init_ffmpeg();
    let input = open_input(path).ok()?;
    let stream = input.streams().best(media::Type::Video)?;
    let tb = stream.time_base();
    let secs = |t: i64| t as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator());
    let begin = Some(stream.start_time())
        .filter(|&t| t != ffmpeg::ffi::AV_NOPTS_VALUE)
        .map_or(0.0, secs);
    let (mut from, mut to) = (begin, secs(expected_end(&input, &stream)?));
    if let Some(w) = window {
        from = from.max(w.start);
        if let Some(d) = w.duration {
            to = to.min(w.start + d);
        }
    }
    let mut length = (to - from).max(0.0);
    let rate = stream.avg_frame_rate();
    if let Some(n) = limit
        && rate.numerator() > 0
        && rate.denominator() > 0
    {
        length = length.min(n as f64 * f64::from(rate.denominator()) / f64::from(rate.numerator()));
    }
    Some(length)
}

/// `path` as FFmpeg takes it: the bytes of the name, whatever their encoding (ffmpeg-next's own
/// opening panics on a name that is not UTF-8).
pub(crate) fn c_path(path: &Path) -> std::result::Result<std::ffi::CString, ffmpeg::Error> {
    use std::os::unix::ffi::OsStrExt as _;
    std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| ffmpeg::Error::InvalidData)
}

/// Opens `path` for reading and reads its stream information, as `ffmpeg_next::format::input`
/// does, for any file name.
///
/// # Errors
/// FFmpeg's error.
pub fn open_input(
    path: &Path,
) -> std::result::Result<ffmpeg::format::context::Input, ffmpeg::Error> {
    let name = c_path(path)?;
    // SAFETY: the same calls as ffmpeg_next::format::input, with the name's own bytes; the
    // context is closed on failure and owned by the returned value on success.
    unsafe {
        let mut ps = std::ptr::null_mut();
        match ffmpeg::ffi::avformat_open_input(
            &mut ps,
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        ) {
            0 => match ffmpeg::ffi::avformat_find_stream_info(ps, std::ptr::null_mut()) {
                r if r >= 0 => Ok(ffmpeg::format::context::Input::wrap(ps)),
                e => {
                    ffmpeg::ffi::avformat_close_input(&mut ps);
                    Err(ffmpeg::Error::from(e))
                }
            },
            e => Err(ffmpeg::Error::from(e)),
        }
    }
}

/// A file-system error in the words of the rest of vstyle's messages.
pub fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a folder".into(),
        _ => e.to_string(),
    }
}

/// FFmpeg gives the display matrix's rotation counter-clockwise; players turn the picture
/// clockwise by the opposite angle.
/// The decoder's motion vectors of `frame` that point into the past, scaled to the processing
/// size `out` (`None` when the frame has none: intra frames, or a codec that exports none).
fn block_vectors(
    frame: &frame::Video,
    out: (u32, u32),
) -> Option<Vec<crate::temporal::BlockVector>> {
    let data = frame.side_data(frame::side_data::Type::MotionVectors)?;
    let bytes = data.data();
    let size = std::mem::size_of::<ffmpeg::ffi::AVMotionVector>();
    let (sx, sy) = (
        out.0 as f32 / frame.width().max(1) as f32,
        out.1 as f32 / frame.height().max(1) as f32,
    );
    let vectors: Vec<_> = bytes
        .chunks_exact(size)
        .map(|c| {
            // SAFETY: the side data is an array of AVMotionVector; read unaligned, by value.
            unsafe { std::ptr::read_unaligned(c.as_ptr().cast::<ffmpeg::ffi::AVMotionVector>()) }
        })
        .filter(|mv| mv.source < 0 && mv.motion_scale > 0)
        .map(|mv| {
            let scale = f32::from(mv.motion_scale);
            crate::temporal::BlockVector {
                x: f32::from(mv.dst_x) * sx,
                y: f32::from(mv.dst_y) * sy,
                w: f32::from(mv.w) * sx,
                h: f32::from(mv.h) * sy,
                u: mv.motion_x as f32 / scale * sx,
                v: mv.motion_y as f32 / scale * sy,
            }
        })
        .collect();
    (!vectors.is_empty()).then_some(vectors)
}

fn quarter_turns_from_matrix(matrix: &[u8]) -> u32 {
    // SAFETY: the matrix holds at least 9 i32 (checked by the caller); av_display_rotation_get reads 9.
    let degrees = unsafe { ffmpeg::ffi::av_display_rotation_get(matrix.as_ptr().cast::<i32>()) };
    if !degrees.is_finite() {
        return 0;
    }
    ((-degrees / 90.0).round() as i64).rem_euclid(4) as u32
}

/// The first picture of `path` (an image, or a video's first frame), upright, decoded at the
/// size `size` picks from the upright size.
///
/// # Errors
/// As [`Source::open`], or a file that holds no picture.
pub fn first_picture(path: &Path, size: impl FnOnce(u32, u32) -> (u32, u32)) -> Result<Frame> {
    let mut source = Source::open(path)?;
    let (w, h) = source.info.upright_size();
    let (w, h) = size(w, h);
    source.set_output_size(w, h);
    let (frames, received) = crossbeam_channel::unbounded();
    let (packets, _) = crossbeam_channel::unbounded();
    source.run(
        &frames,
        &packets,
        &[],
        Some(1),
        &|| false,
        || Ok(Vec::new()),
    )?;
    received
        .try_recv()
        .map_err(|_| Error::input(path, "holds no picture"))
}

/// One frame's duration in `time_base` units at `rate` (at least 1).
pub fn frame_duration(rate: Rational, time_base: Rational) -> i64 {
    let (rn, rd) = (i64::from(rate.numerator()), i64::from(rate.denominator()));
    let (tn, td) = (
        i64::from(time_base.numerator()),
        i64::from(time_base.denominator()),
    );
    if rn <= 0 || rd <= 0 || tn <= 0 || td <= 0 {
        return 1;
    }
    ((td * rd) / (tn * rn)).max(1)
}

/// Turns decoded frames of any pixel format into upright packed RGB24 of the processing size.
struct Converter {
    scaler: Option<(scaling::Context, Pixel, u32, u32)>,
    info: VideoInfo,
    /// Size in the stored orientation that swscale produces.
    scaled: (u32, u32),
    rgb: frame::Video,
}

impl Converter {
    fn new(info: &VideoInfo, upright: (u32, u32)) -> Self {
        let scaled = if info.quarter_turns % 2 == 1 {
            (upright.1, upright.0)
        } else {
            upright
        };
        Self {
            scaler: None,
            info: info.clone(),
            scaled,
            rgb: frame::Video::empty(),
        }
    }

    /// Converts `src` into `buffer` (resized to the frame, its capacity reused).
    fn convert(&mut self, src: &frame::Video, index: u64, mut buffer: Vec<u8>) -> Result<Frame> {
        let key = (src.format(), src.width(), src.height());
        if self
            .scaler
            .as_ref()
            .is_none_or(|(_, f, w, h)| (*f, *w, *h) != key)
        {
            // At the same size only chroma is resampled. Repeating it down the rows (POINT;
            // FULL_CHR_H_INT still interpolates along them) is what the encoder's averaging
            // undoes, so an identity network gives the input back to the rounding: a 10-bit
            // 4:2:0 input differs by a mean 0.1 code values at 10 bits with a maximum of 2,
            // against 1.3 to 2.2 and 56 with bicubic chroma (8-bit inputs take swscale's
            // unscaled path either way). A frame scaled for --max-side wants bicubic. Full
            // chroma interpolation is cheap; ACCURATE_RND is not (ten times the cost of the
            // whole conversion at 1080p, for at most one level of rounding).
            let resample = if (src.width(), src.height()) == self.scaled {
                scaling::Flags::POINT
            } else {
                scaling::Flags::BICUBIC
            };
            let mut ctx = scaling::Context::get(
                src.format(),
                src.width(),
                src.height(),
                Pixel::RGB24,
                self.scaled.0,
                self.scaled.1,
                resample | scaling::Flags::FULL_CHR_H_INT,
            )
            .map_err(|e| {
                Error::Other(format!(
                    "cannot convert {:?} frames to RGB: {e}",
                    src.format()
                ))
            })?;
            let space = colorspace_or_guess(src.color_space(), self.info.color_space, src.height());
            let full = matches!(src.color_range(), ffmpeg::color::Range::JPEG)
                || (src.color_range() == ffmpeg::color::Range::Unspecified
                    && self.info.color_range == ffmpeg::color::Range::JPEG);
            set_colorspace(&mut ctx, space, full, true);
            self.scaler = Some((ctx, key.0, key.1, key.2));
        }
        let (ctx, ..) = self.scaler.as_mut().expect("scaler was just created");
        ctx.run(src, &mut self.rgb)
            .map_err(|e| Error::Other(format!("colour conversion failed: {e}")))?;
        let (w, h) = (self.scaled.0 as usize, self.scaled.1 as usize);
        let stride = self.rgb.stride(0);
        let data = self.rgb.data(0);
        // Rows are padded to FFmpeg's alignment: copy by stride, never by width * 3. A rotated
        // input is turned upright in the same copy.
        let turns = self.info.quarter_turns % 4;
        let (uw, uh) = rotated_size(w, h, turns);
        buffer.clear();
        buffer.resize(w * h * 3, 0);
        rotate_rgb_into(data, stride, w, h, turns, &mut buffer, uw * 3);
        let rgb = buffer;
        Ok(Frame {
            index,
            pts: None,
            duration: 0,
            width: uw as u32,
            height: uh as u32,
            rgb,
            motion: None,
        })
    }
}

/// The YUV colour matrix to assume: the frame's, else the stream's, else FFmpeg's usual guess
/// (BT.709 for HD, BT.601 below).
pub(crate) fn colorspace_or_guess(
    frame: ffmpeg::color::Space,
    stream: ffmpeg::color::Space,
    height: u32,
) -> ffmpeg::color::Space {
    use ffmpeg::color::Space;
    for s in [frame, stream] {
        // `RGB` (an RGB source) names no YUV matrix; neither do the unspecified values.
        if !matches!(s, Space::Unspecified | Space::Reserved | Space::RGB) {
            return s;
        }
    }
    if height >= 720 {
        Space::BT709
    } else {
        Space::BT470BG
    }
}

/// Tells swscale which YUV matrix and range the YUV side uses; RGB is always full range.
/// `yuv_is_source` is true for YUV→RGB, false for RGB→YUV.
pub(crate) fn set_colorspace(
    ctx: &mut scaling::Context,
    space: ffmpeg::color::Space,
    full_range: bool,
    yuv_is_source: bool,
) {
    let cs: ffmpeg::ffi::AVColorSpace = space.into();
    // SAFETY: the context is valid; sws_getCoefficients returns a static table for any value.
    unsafe {
        let coeffs = ffmpeg::ffi::sws_getCoefficients(cs as i32);
        let yuv_range = i32::from(full_range);
        let (src_range, dst_range) = if yuv_is_source {
            (yuv_range, 1)
        } else {
            (1, yuv_range)
        };
        ffmpeg::ffi::sws_setColorspaceDetails(
            ctx.as_mut_ptr(),
            coeffs,
            src_range,
            coeffs,
            dst_range,
            0,
            1 << 16,
            1 << 16,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_duration_in_stream_ticks() {
        assert_eq!(frame_duration(Rational(25, 1), Rational(1, 12800)), 512);
        assert_eq!(
            frame_duration(Rational(30000, 1001), Rational(1, 30000)),
            1001
        );
        assert_eq!(frame_duration(Rational(0, 1), Rational(1, 1000)), 1);
    }

    #[test]
    fn display_matrix_rotation_becomes_clockwise_quarter_turns() {
        // av_display_rotation_set takes a clockwise angle; players turn the picture the same way.
        for (cw_degrees, turns) in [(0.0, 0), (90.0, 1), (-90.0, 3), (180.0, 2)] {
            let mut m = [0i32; 9];
            // SAFETY: m holds 9 i32 as av_display_rotation_set requires.
            unsafe { ffmpeg::ffi::av_display_rotation_set(m.as_mut_ptr(), cw_degrees) };
            let bytes: Vec<u8> = m.iter().flat_map(|v| v.to_ne_bytes()).collect();
            assert_eq!(quarter_turns_from_matrix(&bytes), turns, "{cw_degrees}");
        }
    }
}
