//! Cancellation as a value. A [`Cancel`] is handed down to whatever may have to stop early (the
//! pipeline's stages, an optimisation, a batch); the command line's Ctrl-C handler holds a clone
//! and cancels it. Besides the flag, a cancel is a channel that closes when it fires, so a stage
//! blocked on a channel wakes at once (`select!` on [`Cancel::signal`]) instead of polling.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crossbeam_channel::{Receiver, Sender, bounded};

/// A cancellation flag shared by clones; [`Cancel::child`] makes one that also fires with this
/// one (a run's own stop, which a failure fires without cancelling the user's).
#[derive(Clone)]
pub struct Cancel(Arc<Inner>);

struct Inner {
    cancelled: AtomicBool,
    /// Dropped when cancelled: every receiver then sees the channel disconnected.
    wake: Mutex<Option<Sender<()>>>,
    signal: Receiver<()>,
    children: Mutex<Vec<Weak<Inner>>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Cancel").field(&self.is_cancelled()).finish()
    }
}

impl Cancel {
    pub fn new() -> Self {
        let (tx, rx) = bounded(0);
        Cancel(Arc::new(Inner {
            cancelled: AtomicBool::new(false),
            wake: Mutex::new(Some(tx)),
            signal: rx,
            children: Mutex::new(Vec::new()),
        }))
    }

    /// Fires: sets the flag, wakes every `select!` on [`Cancel::signal`], and fires the children.
    pub fn cancel(&self) {
        self.0.fire();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// A receiver that never yields a message and disconnects when this cancel fires: a
    /// `recv(cancel.signal())` arm of a `select!` wakes a blocked stage at once.
    pub fn signal(&self) -> &Receiver<()> {
        &self.0.signal
    }

    /// A cancel that fires when this one does, and can also fire on its own.
    pub fn child(&self) -> Cancel {
        let child = Cancel::new();
        let mut children = self
            .0
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        children.retain(|c| c.strong_count() > 0);
        children.push(Arc::downgrade(&child.0));
        // Under the lock that `fire` takes after setting the flag: either it sees this child or
        // the flag is already set here.
        if self.is_cancelled() {
            child.cancel();
        }
        drop(children);
        child
    }
}

impl Inner {
    fn fire(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.wake
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let children: Vec<_> = self
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .filter_map(|c| c.upgrade())
            .collect();
        for c in children {
            c.fire();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_cancel_wakes_a_blocked_select_and_fires_its_children() {
        let parent = Cancel::new();
        let child = parent.child();
        let (_tx, rx) = bounded::<u32>(0);
        let waiter = {
            let child = child.clone();
            std::thread::spawn(move || {
                crossbeam_channel::select! {
                    recv(rx) -> _ => false,
                    recv(child.signal()) -> _ => true,
                }
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(!child.is_cancelled());
        parent.cancel();
        assert!(waiter.join().unwrap(), "woken by the cancel, not a message");
        assert!(child.is_cancelled());
        // A child made after the parent fired is born cancelled.
        assert!(parent.child().is_cancelled());
    }

    #[test]
    fn a_child_fires_without_its_parent() {
        let parent = Cancel::new();
        let child = parent.child();
        child.cancel();
        assert!(child.is_cancelled());
        assert!(!parent.is_cancelled());
    }
}
