//! Re-encoding of an audio stream the output container cannot hold as it is (AAC into WebM, PCM
//! into MP4, …): decode, resample to what the container's default encoder takes, encode.
//!
//! Everything else is copied untouched; this runs only for such streams, and vstyle says so.

use ffmpeg::{ChannelLayout, Rational, codec, encoder, frame, software::resampling};
use ffmpeg_next as ffmpeg;

use crate::error::{Error, Result};

/// One audio stream on its way from the input's codec to another.
pub struct AudioTranscoder {
    decoder: ffmpeg::decoder::Audio,
    encoder: encoder::Audio,
    resampler: Option<resampling::Context>,
    /// Samples waiting for a whole encoder frame (encoders such as AAC take fixed-size frames).
    fifo: Fifo,
    frame_size: usize,
    /// Next presentation time in samples (the encoder's time base is 1/rate).
    next_pts: Option<i64>,
    input_tb: Rational,
    pub output_index: usize,
    pub encoder_name: String,
}

struct Fifo(*mut ffmpeg::ffi::AVAudioFifo);

// SAFETY: the FIFO is owned by one transcoder and only used by the thread that owns it.
unsafe impl Send for Fifo {}

impl Fifo {
    fn write(&mut self, f: &mut frame::Audio) -> Result<()> {
        let n = f.samples() as i32;
        if n == 0 {
            return Ok(());
        }
        // SAFETY: the frame holds n samples in the FIFO's sample format and channel count.
        let written = unsafe {
            ffmpeg::ffi::av_audio_fifo_write(self.0, (*f.as_mut_ptr()).extended_data.cast(), n)
        };
        if written < n {
            return Err(Error::Other("audio re-encoding: out of memory".into()));
        }
        Ok(())
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        // SAFETY: allocated by av_audio_fifo_alloc and freed once here.
        unsafe { ffmpeg::ffi::av_audio_fifo_free(self.0) };
    }
}

impl AudioTranscoder {
    /// Opens a decoder for `params` and the output container's default audio encoder, adding
    /// its stream to `octx`. Returns `None` when the container has no audio encoder to offer.
    ///
    /// # Errors
    /// Codec errors.
    pub fn new(
        octx: &mut ffmpeg::format::context::Output,
        output: &std::path::Path,
        params: &codec::Parameters,
        input_tb: Rational,
    ) -> Result<Option<Self>> {
        let err = |m: String| Error::output(output, m);
        let id = octx.format().codec(&output, ffmpeg::media::Type::Audio);
        let Some(codec) = encoder::find(id) else {
            return Ok(None);
        };
        let Ok(audio_codec) = codec.audio() else {
            return Ok(None);
        };
        let decoder = codec::context::Context::from_parameters(params.clone())
            .and_then(|c| c.decoder().audio())
            .map_err(|e| {
                err(format!(
                    "cannot decode an audio stream to re-encode it ({e})"
                ))
            })?;

        let format = audio_codec.formats().and_then(|mut f| f.next()).unwrap_or(
            ffmpeg::format::Sample::F32(ffmpeg::format::sample::Type::Planar),
        );
        let in_rate = decoder.rate() as i32;
        let rate = match audio_codec.rates() {
            Some(rates) => {
                let rates: Vec<i32> = rates.collect();
                if rates.contains(&in_rate) {
                    in_rate
                } else {
                    rates.iter().copied().max().unwrap_or(48_000)
                }
            }
            None => in_rate,
        };
        let in_layout = match decoder.channel_layout() {
            l if l.bits() == 0 => ChannelLayout::default(i32::from(decoder.channels())),
            l => l,
        };
        let layout = match audio_codec.channel_layouts() {
            Some(layouts) => {
                let layouts: Vec<ChannelLayout> = layouts.collect();
                if layouts.contains(&in_layout) {
                    in_layout
                } else {
                    ChannelLayout::STEREO
                }
            }
            None => in_layout,
        };
        let global_header = octx
            .format()
            .flags()
            .contains(ffmpeg::format::Flags::GLOBAL_HEADER);
        let mut ctx = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(|e| err(e.to_string()))?;
        ctx.set_rate(rate);
        ctx.set_channel_layout(layout);
        ctx.set_format(format);
        ctx.set_time_base(Rational(1, rate));
        ctx.set_bit_rate(160_000);
        if global_header {
            ctx.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let encoder = ctx
            .open_as(codec)
            .map_err(|e| err(format!("cannot open audio encoder {} ({e})", codec.name())))?;
        let mut st = octx.add_stream(codec).map_err(|e| err(e.to_string()))?;
        st.set_parameters(&encoder);
        st.set_time_base(Rational(1, rate));
        let output_index = st.index();

        let channels = i32::from(encoder.channels());
        // SAFETY: plain allocation; checked for null.
        let fifo = unsafe { ffmpeg::ffi::av_audio_fifo_alloc(format.into(), channels, 4096) };
        if fifo.is_null() {
            return Err(err("out of memory".into()));
        }
        let frame_size = encoder.frame_size() as usize;
        Ok(Some(Self {
            decoder,
            encoder,
            resampler: None,
            fifo: Fifo(fifo),
            frame_size,
            next_pts: None,
            input_tb,
            output_index,
            encoder_name: codec.name().to_string(),
        }))
    }

    /// Takes one input packet; returns the encoded packets it completes (in the encoder's time
    /// base, 1/rate).
    ///
    /// # Errors
    /// Decode, resample or encode failures.
    pub fn push(&mut self, packet: Option<&ffmpeg::Packet>) -> Result<Vec<ffmpeg::Packet>> {
        let fail =
            |what: &str, e: ffmpeg::Error| Error::Other(format!("audio re-encoding: {what}: {e}"));
        match packet {
            Some(p) => self.decoder.send_packet(p).map_err(|e| fail("decode", e))?,
            None => self.decoder.send_eof().map_err(|e| fail("decode", e))?,
        }
        let mut decoded = frame::Audio::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            // A stream that names no channel layout (PCM in AVI or Matroska) has the usual one
            // for its channel count, which the resampler is set up with.
            if decoded.channel_layout().bits() == 0 {
                decoded.set_channel_layout(ChannelLayout::default(i32::from(decoded.channels())));
            }
            if self.next_pts.is_none() {
                let rate = i64::from(self.encoder.rate());
                let start = decoded.timestamp().unwrap_or(0);
                // The first sample's time, so re-encoded audio keeps its place against the video.
                self.next_pts = Some(
                    start * i64::from(self.input_tb.numerator()) * rate
                        / i64::from(self.input_tb.denominator()).max(1),
                );
            }
            self.resample_into_fifo(Some(&decoded))?;
        }
        if packet.is_none() {
            self.resample_into_fifo(None)?;
        }
        let mut out = Vec::new();
        self.encode_available(packet.is_none(), &mut out)?;
        if packet.is_none() {
            self.encoder.send_eof().map_err(|e| fail("encode", e))?;
            self.drain(&mut out)?;
        }
        Ok(out)
    }

    fn resample_into_fifo(&mut self, input: Option<&frame::Audio>) -> Result<()> {
        let fail = |e: ffmpeg::Error| Error::Other(format!("audio re-encoding: resample: {e}"));
        if self.resampler.is_none() {
            let Some(f) = input else { return Ok(()) };
            let layout = match f.channel_layout() {
                l if l.bits() == 0 => ChannelLayout::default(i32::from(f.channels())),
                l => l,
            };
            self.resampler = Some(
                resampling::Context::get(
                    f.format(),
                    layout,
                    f.rate(),
                    self.encoder.format(),
                    self.encoder.channel_layout(),
                    self.encoder.rate(),
                )
                .map_err(fail)?,
            );
        }
        let resampler = self.resampler.as_mut().expect("created above");
        let mut converted = frame::Audio::empty();
        match input {
            Some(f) => {
                resampler.run(f, &mut converted).map_err(fail)?;
            }
            None => {
                // Whatever the resampler still holds, a bounded chunk at a time.
                loop {
                    let mut rest = frame::Audio::new(
                        self.encoder.format(),
                        4096,
                        self.encoder.channel_layout(),
                    );
                    rest.set_rate(self.encoder.rate());
                    if resampler.flush(&mut rest).is_err() || rest.samples() == 0 {
                        return Ok(());
                    }
                    self.fifo.write(&mut rest)?;
                }
            }
        }
        self.fifo.write(&mut converted)
    }

    fn encode_available(&mut self, last: bool, out: &mut Vec<ffmpeg::Packet>) -> Result<()> {
        loop {
            // SAFETY: a valid FIFO.
            let available = unsafe { ffmpeg::ffi::av_audio_fifo_size(self.fifo.0) } as usize;
            let take = if self.frame_size == 0 {
                available
            } else {
                self.frame_size.min(available)
            };
            if available == 0 || (take < self.frame_size && !last) {
                return Ok(());
            }
            let mut f =
                frame::Audio::new(self.encoder.format(), take, self.encoder.channel_layout());
            f.set_rate(self.encoder.rate());
            // SAFETY: the frame has room for `take` samples of the FIFO's format.
            unsafe {
                ffmpeg::ffi::av_audio_fifo_read(
                    self.fifo.0,
                    (*f.as_mut_ptr()).extended_data.cast(),
                    take as i32,
                )
            };
            let pts = self.next_pts.unwrap_or(0);
            f.set_pts(Some(pts));
            self.next_pts = Some(pts + take as i64);
            self.encoder
                .send_frame(&f)
                .map_err(|e| Error::Other(format!("audio re-encoding: encode: {e}")))?;
            self.drain(out)?;
        }
    }

    fn drain(&mut self, out: &mut Vec<ffmpeg::Packet>) -> Result<()> {
        loop {
            let mut p = ffmpeg::Packet::empty();
            match self.encoder.receive_packet(&mut p) {
                Ok(()) => {
                    p.set_stream(self.output_index);
                    out.push(p);
                }
                Err(ffmpeg::Error::Other {
                    errno: ffmpeg::util::error::EAGAIN,
                })
                | Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(e) => return Err(Error::Other(format!("audio re-encoding: encode: {e}"))),
            }
        }
    }

    /// The encoder's time base (1/rate), for rescaling its packets to the stream's.
    pub fn time_base(&self) -> Rational {
        Rational(1, self.encoder.rate() as i32)
    }
}

impl std::fmt::Debug for AudioTranscoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioTranscoder")
            .field("encoder", &self.encoder_name)
            .finish()
    }
}
