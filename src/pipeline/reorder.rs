//! Restores decode order after workers finish frames out of order.
//!
//! Pure data structure, no threads: the encoder pushes whatever arrives and writes what comes out.
//! Every index must arrive exactly once; a missing one holds back all later frames, which is why
//! the pipeline bounds the number of frames in flight (see `pipeline::FRAMES_IN_FLIGHT`).

use std::collections::BTreeMap;

/// Items keyed by a dense index, released in index order.
#[derive(Debug)]
pub struct ReorderBuffer<T> {
    next: u64,
    waiting: BTreeMap<u64, T>,
}

impl<T> Default for ReorderBuffer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ReorderBuffer<T> {
    pub fn new() -> Self {
        Self {
            next: 0,
            waiting: BTreeMap::new(),
        }
    }

    /// Accepts item `index` and returns every item now ready, in order.
    ///
    /// # Panics
    /// On an index that was already released or is already waiting: that is a pipeline bug.
    pub fn push(&mut self, index: u64, item: T) -> Vec<T> {
        self.insert(index, item);
        std::iter::from_fn(|| self.pop_ready()).collect()
    }

    /// Accepts item `index`; [`ReorderBuffer::pop_ready`] then gives what is ready.
    ///
    /// # Panics
    /// As [`ReorderBuffer::push`].
    pub fn insert(&mut self, index: u64, item: T) {
        assert!(
            index >= self.next,
            "frame {index} arrived twice (already released)"
        );
        let previous = self.waiting.insert(index, item);
        assert!(previous.is_none(), "frame {index} arrived twice");
    }

    /// The next item in order, if it has arrived.
    pub fn pop_ready(&mut self) -> Option<T> {
        let item = self.waiting.remove(&self.next)?;
        self.next += 1;
        Some(item)
    }

    /// The next index the buffer waits for.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// How many items are held back waiting for an earlier one.
    pub fn pending(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic shuffle (xorshift) so the test needs no RNG crate.
    fn shuffled(n: u64, seed: u64) -> Vec<u64> {
        let mut v: Vec<u64> = (0..n).collect();
        let mut s = seed | 1;
        for i in (1..v.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            v.swap(i, (s % (i as u64 + 1)) as usize);
        }
        v
    }

    #[test]
    fn any_arrival_order_comes_out_in_index_order() {
        for seed in 1..50 {
            let mut buf = ReorderBuffer::new();
            let mut out = Vec::new();
            for i in shuffled(100, seed) {
                out.extend(buf.push(i, i));
            }
            assert_eq!(out, (0..100).collect::<Vec<_>>());
            assert_eq!(buf.pending(), 0);
        }
    }

    #[test]
    fn a_gap_holds_back_later_items() {
        let mut buf = ReorderBuffer::new();
        assert!(buf.push(1, 'b').is_empty());
        assert!(buf.push(2, 'c').is_empty());
        assert_eq!(buf.pending(), 2);
        assert_eq!(buf.push(0, 'a'), vec!['a', 'b', 'c']);
        assert_eq!(buf.next_index(), 3);
    }

    #[test]
    #[should_panic(expected = "arrived twice")]
    fn a_duplicate_index_is_a_bug() {
        let mut buf = ReorderBuffer::new();
        buf.push(0, ());
        buf.push(0, ());
    }
}
