//! Conversion of a text subtitle stream the output container cannot hold as it is (SubRip or ASS
//! into MP4, mov_text into Matroska, …) into the container's own text format. Bitmap subtitles
//! (DVD, PGS) have no text to carry over and are left out, with a warning, by the caller.

use ffmpeg::ffi;
use ffmpeg::packet::Ref as _;
use ffmpeg::{Rational, codec, encoder};
use ffmpeg_next as ffmpeg;

use crate::error::{Error, Result};

/// FFmpeg's subtitle time unit (AV_TIME_BASE, microseconds).
const MICROSECONDS: Rational = Rational(1, 1_000_000);

/// One text subtitle stream on its way to another text format.
pub struct SubtitleTranscoder {
    decoder: ffmpeg::decoder::Subtitle,
    encoder: encoder::Subtitle,
    buffer: Vec<u8>,
    pub output_index: usize,
    pub encoder_name: String,
}

fn is_text(id: codec::Id) -> bool {
    // SAFETY: avcodec_descriptor_get returns null or a static descriptor.
    unsafe {
        let d = ffi::avcodec_descriptor_get(id.into());
        !d.is_null() && (*d).props & ffi::AV_CODEC_PROP_TEXT_SUB != 0
    }
}

impl SubtitleTranscoder {
    /// A converter from `params`' text codec to the output container's default subtitle codec,
    /// with its stream added to `octx`; `None` when either side is not text.
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
        // SAFETY: oformat is valid while octx lives. (The wrapper's codec() knows only audio and
        // video; MP4 names no default subtitle codec at all, though it holds mov_text.)
        let id = unsafe {
            let oformat = (*octx.as_ptr()).oformat;
            [
                codec::Id::from((*oformat).subtitle_codec),
                codec::Id::MOV_TEXT,
                codec::Id::ASS,
                codec::Id::SUBRIP,
                codec::Id::WEBVTT,
            ]
            .into_iter()
            .find(|&id| id != codec::Id::None && is_text(id) && super::container_takes(octx, id))
        };
        let Some(id) = id.filter(|_| is_text(params.id())) else {
            return Ok(None);
        };
        let Some(codec) = encoder::find(id) else {
            return Ok(None);
        };
        let decoder = codec::context::Context::from_parameters(params.clone())
            .map(|mut c| {
                // The decoder times events from the packets' time base.
                // SAFETY: a plain field of an unopened context.
                unsafe { (*c.as_mut_ptr()).pkt_timebase = input_tb.into() };
                c
            })
            .and_then(|c| c.decoder().subtitle())
            .map_err(|e| {
                err(format!(
                    "cannot decode a subtitle stream to convert it ({e})"
                ))
            })?;
        let mut ctx = codec::context::Context::new_with_codec(codec)
            .encoder()
            .subtitle()
            .map_err(|e| err(e.to_string()))?;
        // SAFETY: both contexts are valid; the encoder takes its own copy of the decoder's ASS
        // header (the style definitions every text encoder starts from), allocated by FFmpeg.
        unsafe {
            let (dec, enc) = (decoder.as_ptr(), ctx.as_mut_ptr());
            (*enc).time_base = MICROSECONDS.into();
            let n = (*dec).subtitle_header_size;
            if n > 0 && !(*dec).subtitle_header.is_null() {
                let header = ffi::av_mallocz(n as usize + 1).cast::<u8>();
                if header.is_null() {
                    return Err(err("out of memory".into()));
                }
                std::ptr::copy_nonoverlapping((*dec).subtitle_header, header, n as usize);
                (*enc).subtitle_header = header;
                (*enc).subtitle_header_size = n;
            }
        }
        if octx
            .format()
            .flags()
            .contains(ffmpeg::format::Flags::GLOBAL_HEADER)
        {
            ctx.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let encoder = ctx.open_as(codec).map_err(|e| {
            err(format!(
                "cannot open subtitle encoder {} ({e})",
                codec.name()
            ))
        })?;
        let mut st = octx.add_stream(codec).map_err(|e| err(e.to_string()))?;
        st.set_parameters(&encoder);
        st.set_time_base(Rational(1, 1000));
        Ok(Some(Self {
            decoder,
            encoder,
            buffer: vec![0; 1 << 20],
            output_index: st.index(),
            encoder_name: codec.name().to_string(),
        }))
    }

    /// Converts one input packet; the packet out is timed in microseconds.
    ///
    /// # Errors
    /// Decode or encode failures.
    pub fn push(&mut self, packet: &ffmpeg::Packet) -> Result<Option<ffmpeg::Packet>> {
        let fail = |what: &str, code: i32| {
            Error::Other(format!(
                "subtitle conversion: {what}: {}",
                ffmpeg::Error::from(code)
            ))
        };
        // SAFETY: a zeroed AVSubtitle is the documented empty value; it is freed below once
        // filled, and the buffer is larger than any subtitle event it will hold.
        unsafe {
            let mut sub: ffi::AVSubtitle = std::mem::zeroed();
            let mut got = 0;
            let r = ffi::avcodec_decode_subtitle2(
                self.decoder.as_mut_ptr(),
                &mut sub,
                &mut got,
                packet.as_ptr().cast_mut(),
            );
            if r < 0 {
                return Err(fail("decode", r));
            }
            if got == 0 {
                return Ok(None);
            }
            // As the ffmpeg command does: shift the start into pts, keep the duration.
            let pts = sub.pts + i64::from(sub.start_display_time) * 1000;
            let duration =
                i64::from(sub.end_display_time.saturating_sub(sub.start_display_time)) * 1000;
            sub.end_display_time -= sub.start_display_time;
            sub.start_display_time = 0;
            let n = ffi::avcodec_encode_subtitle(
                self.encoder.as_mut_ptr(),
                self.buffer.as_mut_ptr(),
                self.buffer.len() as i32,
                &sub,
            );
            ffi::avsubtitle_free(&mut sub);
            if n < 0 {
                return Err(fail("encode", n));
            }
            let mut p = ffmpeg::Packet::copy(&self.buffer[..n as usize]);
            p.set_pts(Some(pts));
            p.set_dts(Some(pts));
            p.set_duration(duration);
            p.set_stream(self.output_index);
            Ok(Some(p))
        }
    }

    pub fn time_base(&self) -> Rational {
        MICROSECONDS
    }
}
