//! One stylizer shared by several file pipelines at once (batch mode's `--jobs N`).
//!
//! The network is loaded once and every pipeline's stylize stage takes turns on it behind a
//! mutex. While one file's frames are in the network, the other files decode, convert and encode
//! on their own threads, so on the CPU that work overlaps inference, and on a GPU frames from
//! several files keep one session busy. A session is not run concurrently anyway (`Session::run`
//! takes `&mut self`), so the lock costs no parallelism that one session could give.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::cancel::Cancel;
use crate::error::Result;
use crate::frame::Frame;
use crate::progress::Progress;
use crate::stylize::Stylizer;

/// A handle to a stylizer that other handles share; each file's pipeline gets its own handle.
#[derive(Clone)]
pub struct SharedStylizer {
    inner: Arc<Mutex<Box<dyn Stylizer>>>,
}

impl SharedStylizer {
    pub fn new(stylizer: Box<dyn Stylizer>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(stylizer)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Box<dyn Stylizer>> {
        // A panic inside one file's run is reported for that file; the network itself holds no
        // state between runs that the panic could have left half-changed, so the rest go on.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Stylizer for SharedStylizer {
    fn batch_size(&self) -> usize {
        self.lock().batch_size()
    }

    fn processing_size(&self, width: u32, height: u32) -> (u32, u32) {
        self.lock().processing_size(width, height)
    }

    fn stylize(
        &mut self,
        frames: &mut [Frame],
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<()> {
        self.lock().stylize(frames, progress, cancel)
    }

    /// Forwarded as it is: a stylizer that carries state from frame to frame (a warm start) must
    /// not be shared by files running at the same time, so batch mode runs those one at a time.
    fn reset(&mut self) {
        self.lock().reset();
    }

    fn warnings(&mut self) -> Vec<String> {
        self.lock().warnings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::FakeStylizer;
    use crate::progress::NoProgress;
    use std::time::Duration;

    #[test]
    fn handles_on_several_threads_share_one_stylizer() {
        let shared = SharedStylizer::new(Box::new(FakeStylizer {
            seed: 1,
            max_sleep: Duration::from_millis(2),
            fail_at: None,
        }));
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let mut h = shared.clone();
                s.spawn(move || {
                    for i in 0..10 {
                        let mut f = Frame::blank(i, 2, 2);
                        f.rgb.fill(t);
                        h.stylize(std::slice::from_mut(&mut f), &NoProgress, &Cancel::new())
                            .unwrap();
                        assert!(f.rgb.iter().all(|&v| v == 255 - t));
                    }
                });
            }
        });
        assert_eq!(shared.processing_size(6, 4), (6, 4));
    }
}
