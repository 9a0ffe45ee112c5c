//! The bottleneck queue: pieces waiting for the link, with a drop-tail
//! limit in segments or bytes.
//!
//! The queue holds pieces (runs of segments of one frame that fared alike
//! so far) and hands them out one segment at a time, because the link sends
//! segments, not super-frames: each has its own serialization time, its own
//! CoDel verdict and its own trace opportunities. Handing out a segment is a
//! counter update and a reference-count increment, never an allocation.

use std::collections::VecDeque;

use super::{Nanos, Order, Piece};
use crate::params::QueueLimit;

/// A piece waiting in the queue, with what the stages after it need.
pub(crate) struct Queued<T> {
    pub(crate) piece: Piece<T>,
    /// When it was enqueued (for the sojourn time).
    pub(crate) enq: Nanos,
    /// Its propagation delay once it leaves the link (0 if reordered).
    pub(crate) delay: Nanos,
    /// How it keeps its place in the delay line.
    pub(crate) order: Order,
    /// ECN-capable.
    pub(crate) ect: bool,
}

/// The bottleneck queue.
pub(crate) struct Queue<T> {
    items: VecDeque<Queued<T>>,
    segments: u64,
    bytes: u64,
}

impl<T> Queue<T> {
    pub(crate) fn new() -> Self {
        Queue {
            items: VecDeque::new(),
            segments: 0,
            bytes: 0,
        }
    }

    /// Segments waiting.
    pub(crate) fn segments(&self) -> u64 {
        self.segments
    }

    /// Bytes waiting.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn front(&self) -> Option<&Queued<T>> {
        self.items.front()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Queued<T>> {
        self.items.iter()
    }

    /// Enqueues as many of the piece's leading segments as `limit` admits
    /// and returns how many segments it refused (dropped at the tail).
    pub(crate) fn push(&mut self, mut q: Queued<T>, limit: QueueLimit) -> u32 {
        let p = &q.piece;
        let admitted = match limit {
            QueueLimit::Packets(n) => {
                let room = u64::from(n).saturating_sub(self.segments);
                p.count.min(u32::try_from(room).unwrap_or(u32::MAX))
            }
            QueueLimit::Bytes(max) => {
                let room = max.saturating_sub(self.bytes);
                let segs = p.segs;
                let end = p.first + p.count;
                // Segments before the frame's last one are all `size` bytes.
                let full = if end >= segs.count {
                    p.count - 1
                } else {
                    p.count
                };
                let size = u64::from(segs.size.max(1));
                let k = u32::try_from((room / size).min(u64::from(full))).unwrap_or(full);
                if k == full && full < p.count && room - u64::from(k) * size >= u64::from(segs.last)
                {
                    p.count
                } else {
                    k
                }
            }
        };
        let refused = q.piece.count - admitted;
        if admitted > 0 {
            q.piece.count = admitted;
            self.segments += u64::from(admitted);
            self.bytes += q.piece.bytes();
            self.items.push_back(q);
        }
        refused
    }

    /// Takes the first waiting segment.
    pub(crate) fn pop_segment(&mut self) -> Option<Queued<T>> {
        let head = self.items.front_mut()?;
        let out = if head.piece.count == 1 {
            self.items.pop_front()?
        } else {
            let one = head.piece.first_segment();
            head.piece.first += 1;
            head.piece.count -= 1;
            Queued {
                piece: one,
                enq: head.enq,
                delay: head.delay,
                order: head.order,
                ect: head.ect,
            }
        };
        self.segments -= 1;
        self.bytes -= u64::from(out.piece.len());
        Some(out)
    }

    /// Takes everything waiting.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Queued<T>> + '_ {
        self.segments = 0;
        self.bytes = 0;
        self.items.drain(..)
    }
}
