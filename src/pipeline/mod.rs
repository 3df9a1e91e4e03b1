//! Threads, channels, cancellation and error fan-in for one file.
//!
//! ```text
//! decode ──frames──▶ stylize-0..W ──stylized──▶ encode (ReorderBuffer inside) ──▶ out
//!    │                                            ▲
//!    └──────────── copied audio/subtitle packets ─┘
//!    ▲                                            │
//!    └──────── frame buffers written out ◀────────┘
//! ```
//!
//! Every channel is bounded, so memory is set by the capacities below and never by the length of
//! the video; the slowest stage sets the pace. A fixed number of frame buffers circulate: the
//! encoder hands each written frame's pixels back to the decoder, which waits for one before
//! decoding the next frame, so the steady state allocates no frame. The first real error fires the run's `stop` (a
//! child of the user's [`Cancel`]); a stage blocked on a channel wakes on it at once (no
//! polling), and the other stages then stop with `Disconnected`, which is never what gets
//! reported.

pub mod reorder;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, never, select};

use crate::cancel::Cancel;
use crate::decode::{CopiedPacket, Source};
use crate::encode::{EncodeConverter, Sink};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::progress::{Event, Progress};
use crate::stylize::{Adjust, Stylizer};
use reorder::ReorderBuffer;

/// Frames waiting for a stylize worker, per worker: two keeps a worker fed while the decoder
/// works on the next frame, without decoding far ahead.
const QUEUE_PER_WORKER: usize = 2;
/// The pixels of the frames in flight may take this much before the pool shrinks below what
/// [`QUEUE_PER_WORKER`] would hold: from about 1440p up a frame takes seconds in the network, so
/// frames decoded far ahead only hold memory (seven 4K frames: 174 MB).
const FRAME_POOL_BYTES: usize = 64 << 20;
/// Copied packets waiting for the muxer. Packets are small; the decoder blocks beyond this.
const PACKET_QUEUE: usize = 256;

/// Receives a value, giving up with `Disconnected` once `stop` fires or the senders are gone.
fn recv_unless<T>(rx: &Receiver<T>, stop: &Cancel) -> Result<T> {
    select! {
        recv(rx) -> r => r.map_err(|_| Error::Disconnected),
        recv(stop.signal()) -> _ => Err(Error::Disconnected),
    }
}

/// Sends `value`, giving up with `Disconnected` once `stop` fires or the receiver is gone.
fn send_unless<T>(tx: &Sender<T>, value: T, stop: &Cancel) -> Result<()> {
    select! {
        send(tx, value) -> r => r.map_err(|_| Error::Disconnected),
        recv(stop.signal()) -> _ => Err(Error::Disconnected),
    }
}

/// How long each stage spent working (not waiting on a channel).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct StageTimes {
    pub decode: Duration,
    pub stylize: Duration,
    pub encode: Duration,
}

/// What one file's run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FileStats {
    pub frames: u64,
    pub seconds: f64,
    pub busy: StageTimes,
    /// What was wrong but did not stop the file (damaged input, a cut-short stream, a
    /// network's NaN output), one line each.
    pub warnings: Vec<String>,
}

/// How each file is read and what happens to its frames, besides the stylizer.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileOptions {
    pub adjust: Adjust,
    /// Stylize only the first N frames.
    pub limit: Option<u64>,
    /// `--temporal` strength.
    pub temporal: Option<f32>,
    /// `--temporal-motion`.
    pub temporal_motion: crate::temporal::MotionSource,
    /// `--start`/`--duration`.
    pub window: Option<crate::decode::Window>,
    /// Copy the audio and the subtitles (`-an`, `-sn` turn them off).
    pub audio: bool,
    pub subtitles: bool,
}

/// The run-wide settings of the pipeline.
pub struct PipelineOptions<'a> {
    pub adjust: Adjust,
    pub limit: Option<u64>,
    /// Fired by the user (Ctrl-C): stop reading, drain, and give up the output.
    pub cancel: &'a Cancel,
    pub progress: &'a dyn Progress,
    /// `--temporal`: blend each output with the previous one moved by the input's motion,
    /// with this strength.
    pub temporal: Option<f32>,
    /// Where that motion comes from.
    pub temporal_motion: crate::temporal::MotionSource,
    /// The first frames, those with timestamps before 0, only prime the temporal blend: they
    /// are stylized and blended but not written (a part of `--segments` with `--temporal`).
    pub warm_up: bool,
}

/// Keeps the first root-cause error of the run.
struct FirstError {
    error: Mutex<Option<Error>>,
    /// Fired by the first error, or with the user's cancel: every stage stops.
    stop: Cancel,
}

impl FirstError {
    fn record(&self, e: Error) {
        self.stop.cancel();
        let mut slot = self.error.lock().expect("error slot poisoned");
        let replace = match slot.as_ref() {
            None => true,
            Some(old) => old.is_consequence() && !e.is_consequence(),
        };
        if replace {
            *slot = Some(e);
        }
    }
}

/// Stylizes one opened input into one sink, with one thread per stylizer.
///
/// # Errors
/// The first root-cause error of any stage; `Cancelled` when the user interrupted. On any error
/// the sink is dropped, which removes its temporary file.
pub fn run(
    mut source: Source,
    sink: Sink,
    stylizers: &mut [Box<dyn Stylizer>],
    opts: &PipelineOptions<'_>,
) -> Result<FileStats> {
    assert!(!stylizers.is_empty(), "at least one stylizer");
    let started = Instant::now();
    let input = source.path().to_path_buf();
    let workers = stylizers.len();
    let batch = stylizers.iter().map(|s| s.batch_size()).max().unwrap_or(1);
    // Frames alive anywhere: each worker's queue, batch and output, plus what the reorder buffer
    // holds while one slow frame blocks the rest. Bounding this keeps memory flat even then.
    // Large frames get fewer, down to a batch per worker and the one being decoded (any number
    // works: frames are decoded in order, so the frame the reorder buffer waits for always holds
    // a buffer already).
    let frame_bytes = 3 * source.info.width as usize * source.info.height as usize;
    let frames_in_flight = (workers * (2 * QUEUE_PER_WORKER + batch) + 2)
        .min((FRAME_POOL_BYTES / frame_bytes.max(1)).max(workers * batch + 1));
    let (frame_tx, frame_rx) = bounded::<Frame>(workers * QUEUE_PER_WORKER);
    let (done_tx, done_rx) = bounded::<Frame>(workers * QUEUE_PER_WORKER);
    let (packet_tx, packet_rx) = bounded::<CopiedPacket>(PACKET_QUEUE);
    // The buffers start empty (no memory until a frame fills them) and go round: decoder →
    // stylize → encode → decoder.
    let (buffer_tx, buffer_rx) = bounded::<Vec<u8>>(frames_in_flight);
    for _ in 0..frames_in_flight {
        buffer_tx
            .try_send(Vec::new())
            .expect("room for every buffer");
    }
    let copy_streams = sink.copied_streams();
    source.measure_motion(opts.temporal.is_some());
    if opts.temporal.is_some() && opts.temporal_motion == crate::temporal::MotionSource::Decoder {
        source.use_decoder_motion()?;
    }
    opts.progress.event(Event::FileStarted {
        input: &input,
        frames: source.info.expected_frames(opts.limit),
    });

    let failure = FirstError {
        error: Mutex::new(None),
        stop: opts.cancel.child(),
    };
    let stylize_busy = Mutex::new(Duration::ZERO);
    let mut times = StageTimes::default();
    let mut frames_written = 0;
    let mut warnings = Vec::new();
    // True once the output is complete under its final name.
    let mut finished = false;

    std::thread::scope(|scope| {
        let failure = &failure;
        let stop = &failure.stop;
        let decode = std::thread::Builder::new()
            .name("decode".into())
            .spawn_scoped(scope, move || {
                let t0 = Instant::now();
                let r = source.run(
                    &frame_tx,
                    &packet_tx,
                    &copy_streams,
                    opts.limit,
                    &|| stop.is_cancelled(),
                    || recv_unless(&buffer_rx, stop),
                );
                if r.as_ref().is_err_and(|e| !e.is_consequence()) {
                    // Before the channels close: the encoder must not finish a file whose
                    // input broke off.
                    stop.cancel();
                }
                let busy = t0
                    .elapsed()
                    .saturating_sub(r.as_ref().map(|d| d.blocked).unwrap_or_default());
                (r, busy)
            })
            .expect("spawn decode thread");

        let mut workers_handles = Vec::new();
        for (i, stylizer) in stylizers.iter_mut().enumerate() {
            let (rx, tx) = (frame_rx.clone(), done_tx.clone());
            let busy = &stylize_busy;
            let h = std::thread::Builder::new()
                .name(format!("stylize-{i}"))
                .spawn_scoped(scope, move || {
                    let r = stylize_stage(stylizer.as_mut(), &rx, &tx, opts, stop, busy);
                    if r.as_ref().is_err_and(|e| !e.is_consequence()) {
                        // Now, not at join: the decoder stops feeding frames and the encoder
                        // must not finish the file.
                        stop.cancel();
                    }
                    r
                })
                .expect("spawn stylize thread");
            workers_handles.push(h);
        }
        drop((frame_rx, done_tx));

        let encode = std::thread::Builder::new()
            .name("encode".into())
            .spawn_scoped(scope, move || {
                encode_stage(sink, &done_rx, &packet_rx, &buffer_tx, opts, &input, stop)
            })
            .expect("spawn encode thread");

        match encode.join() {
            Ok((Ok(n), t)) => {
                frames_written = n;
                times.encode = t;
                finished = true;
            }
            Ok((Err(e), t)) => {
                times.encode = t;
                failure.record(e);
            }
            Err(_) => failure.record(Error::WorkerPanicked {
                thread: "encode".into(),
            }),
        }
        for (i, h) in workers_handles.into_iter().enumerate() {
            match h.join() {
                Ok(Ok(w)) => warnings.extend(w),
                Ok(Err(e)) => failure.record(e),
                Err(_) => failure.record(Error::WorkerPanicked {
                    thread: format!("stylize-{i}"),
                }),
            }
        }
        match decode.join() {
            Ok((Ok(d), t)) => {
                times.decode = t;
                // The input's problems first: they explain the rest.
                warnings.splice(0..0, d.warnings);
            }
            Ok((Err(e), t)) => {
                times.decode = t;
                failure.record(e);
            }
            Err(_) => failure.record(Error::WorkerPanicked {
                thread: "decode".into(),
            }),
        }
    });
    times.stylize = *stylize_busy.lock().expect("timer poisoned");

    let error = failure.error.into_inner().expect("error slot poisoned");
    // What is reported matches what is on disk: a file completed before the interruption took
    // effect is a finished file, whatever came after.
    if !finished {
        // An interrupted run reports the interruption, not the disconnects it caused.
        if opts.cancel.is_cancelled() && error.as_ref().is_none_or(Error::is_consequence) {
            return Err(Error::Cancelled);
        }
        if let Some(e) = error {
            return Err(e);
        }
    }
    warnings.dedup();
    Ok(FileStats {
        frames: frames_written,
        seconds: started.elapsed().as_secs_f64(),
        busy: times,
        warnings,
    })
}

fn stylize_stage(
    stylizer: &mut dyn Stylizer,
    frames: &Receiver<Frame>,
    done: &Sender<Frame>,
    opts: &PipelineOptions<'_>,
    stop: &Cancel,
    busy: &Mutex<Duration>,
) -> Result<Vec<String>> {
    let batch_size = stylizer.batch_size().max(1);
    let mut batch = Vec::with_capacity(batch_size);
    let mut originals: Vec<Vec<u8>> = Vec::new();
    loop {
        let first = select! {
            recv(frames) -> msg => match msg {
                Ok(f) => f,
                // The decoder is done: every frame has been taken.
                Err(_) => break,
            },
            recv(stop.signal()) -> _ => return Err(Error::Disconnected),
        };
        if stop.is_cancelled() {
            return Err(Error::Disconnected);
        }
        batch.push(first);
        // Take whatever else is already waiting, up to a batch, without waiting for more.
        while batch.len() < batch_size {
            match frames.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        let t0 = Instant::now();
        if opts.adjust.is_active() {
            // The inputs' pixels, into buffers kept from one batch to the next.
            originals.resize_with(batch.len(), Vec::new);
            for (o, f) in originals.iter_mut().zip(&batch) {
                o.clear();
                o.extend_from_slice(&f.rgb);
            }
        }
        stylizer.stylize(&mut batch, opts.progress, stop)?;
        if opts.adjust.is_active() {
            for (f, orig) in batch.iter_mut().zip(&originals) {
                opts.adjust.apply(orig, &mut f.rgb);
            }
        }
        *busy.lock().expect("timer poisoned") += t0.elapsed();
        for f in batch.drain(..) {
            send_unless(done, f, stop)?;
        }
    }
    Ok(stylizer.warnings())
}

fn encode_stage(
    mut sink: Sink,
    done: &Receiver<Frame>,
    packets: &Receiver<CopiedPacket>,
    buffers: &Sender<Vec<u8>>,
    opts: &PipelineOptions<'_>,
    input: &Path,
    stop: &Cancel,
) -> (Result<u64>, Duration) {
    let mut busy = Duration::ZERO;
    let r = (|| {
        let mut reorder = ReorderBuffer::new();
        let mut conv = EncodeConverter::default();
        // After the reorder buffer: the blend needs the previous frame's output, whichever
        // worker finished first.
        let mut temporal = opts.temporal.map(crate::temporal::TemporalBlend::new);
        let never_frames = never();
        let never_packets = never();
        let (mut frames_rx, mut packets_rx) = (done, packets);
        let mut frames_open = true;
        let mut packets_open = true;
        while frames_open || packets_open {
            select! {
                recv(frames_rx) -> msg => match msg {
                    Ok(frame) => {
                        let t0 = Instant::now();
                        reorder.insert(frame.index, frame);
                        while let Some(mut f) = reorder.pop_ready() {
                            if let Some(t) = &mut temporal {
                                t.apply(&mut f);
                            }
                            if !(opts.warm_up && f.pts.is_some_and(|p| p < 0)) {
                                sink.write_frame(&mut conv, &f)?;
                                opts.progress.event(Event::FrameDone { input, index: f.index });
                            }
                            // The pixels go back to the decoder once the frame has left; there
                            // is always room, as no more buffers exist than the channel holds.
                            let _ = buffers.try_send(f.rgb);
                        }
                        busy += t0.elapsed();
                    }
                    Err(_) => { frames_open = false; frames_rx = &never_frames; }
                },
                recv(packets_rx) -> msg => match msg {
                    Ok(p) => {
                        let t0 = Instant::now();
                        sink.write_copied(p)?;
                        busy += t0.elapsed();
                    }
                    Err(_) => { packets_open = false; packets_rx = &never_packets; }
                },
                // Another stage failed, or the user cancelled: the frame this stage waits for
                // may never come.
                recv(stop.signal()) -> _ => return Err(Error::Disconnected),
            }
        }
        if opts.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if reorder.pending() > 0 || stop.is_cancelled() {
            // A stage stopped early; that stage's error is the real one.
            return Err(Error::Disconnected);
        }
        let t0 = Instant::now();
        let n = sink.finish()?;
        busy += t0.elapsed();
        Ok(n)
    })();
    (r, busy)
}

/// A fake stylizer for tests and benches: inverts pixels, sleeps a seeded pseudo-random time so
/// workers finish out of order, and can fail at one frame.
pub struct FakeStylizer {
    pub seed: u64,
    pub max_sleep: Duration,
    pub fail_at: Option<u64>,
}

impl Stylizer for FakeStylizer {
    fn processing_size(&self, width: u32, height: u32) -> (u32, u32) {
        (width, height)
    }

    fn stylize(&mut self, frames: &mut [Frame], _: &dyn Progress, _: &Cancel) -> Result<()> {
        for f in frames {
            if self.fail_at == Some(f.index) {
                return Err(Error::Other(format!("fake failure at frame {}", f.index)));
            }
            if !self.max_sleep.is_zero() {
                let mut s = self.seed ^ f.index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                s ^= s >> 29;
                s = s.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                s ^= s >> 32;
                std::thread::sleep(self.max_sleep.mul_f64((s % 1000) as f64 / 1000.0));
            }
            f.rgb.iter_mut().for_each(|v| *v = 255 - *v);
        }
        Ok(())
    }
}
