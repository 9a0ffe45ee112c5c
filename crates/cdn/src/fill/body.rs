//! An object's bytes as a fill delivers them: a growing list of chunks
//! that readers read by offset, waiting (on a `watch` channel, never by
//! polling) until the fill reaches the offset they want. The same buffer
//! is the cached object once the fill completes, so a range asked for
//! during a fill is answered from the partial body without a second
//! upstream fetch.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::watch;

use crate::object::{BodyError, BodyReader, BoxFuture};

/// How far a fill has got.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    filled: u64,
    failed: Option<Arc<str>>,
}

#[derive(Default)]
struct Chunks {
    /// The offset of each chunk's first byte, ascending.
    starts: Vec<u64>,
    data: Vec<Bytes>,
}

/// The largest block a complete body is kept in.
const BLOCK: usize = 1 << 20;

impl Chunks {
    /// `pieces` (a whole body, in order) joined into blocks of up to
    /// [`BLOCK`].
    fn blocks(pieces: Vec<Bytes>) -> Chunks {
        let mut starts = Vec::new();
        let mut data = Vec::new();
        let mut block = bytes::BytesMut::new();
        let mut at = 0u64;
        for chunk in pieces {
            if !block.is_empty() && block.len() + chunk.len() > BLOCK {
                let b = std::mem::take(&mut block).freeze();
                starts.push(at);
                at += b.len() as u64;
                data.push(b);
            }
            if block.is_empty() && chunk.len() >= BLOCK {
                // Already a block: keep it without a copy.
                starts.push(at);
                at += chunk.len() as u64;
                data.push(chunk);
            } else {
                block.extend_from_slice(&chunk);
            }
        }
        if !block.is_empty() {
            starts.push(at);
            data.push(block.freeze());
        }
        Chunks { starts, data }
    }
}

/// A body being filled, or filled.
pub struct FillBody {
    len: u64,
    chunks: Mutex<Chunks>,
    progress: watch::Sender<Progress>,
}

/// Bytes a fill offered that do not fit the object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{got} more bytes at offset {at} overrun the object's {len} bytes")]
pub struct Overrun {
    /// Where they would start.
    pub at: u64,
    /// How many were offered.
    pub got: usize,
    /// The object's length.
    pub len: u64,
}

impl FillBody {
    /// An empty body of `len` bytes (complete at once when `len` is 0).
    pub fn new(len: u64) -> FillBody {
        FillBody {
            len,
            chunks: Mutex::new(Chunks::default()),
            progress: watch::Sender::new(Progress {
                filled: 0,
                failed: None,
            }),
        }
    }

    /// A body whose bytes are all here.
    pub fn complete(data: Bytes) -> FillBody {
        let body = FillBody::new(data.len() as u64);
        body.push(data).expect("exactly the body's length");
        body
    }

    /// The object's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the object has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes received so far.
    pub fn filled(&self) -> u64 {
        self.progress.borrow().filled
    }

    /// Whether every byte is here.
    pub fn is_complete(&self) -> bool {
        self.filled() == self.len
    }

    /// The chunks received so far, in order (cheap: shared handles).
    pub fn chunks(&self) -> Vec<Bytes> {
        self.chunks.lock().expect("body lock").data.clone()
    }

    /// Joins the reads a complete body arrived in (often a few KiB each)
    /// into blocks of up to 1 MiB, so a cached object is served in few
    /// large reads rather than many small ones. Bounded blocks keep the
    /// peak memory at one block more than the object. The copy is made
    /// without the body's lock (a complete body's pieces never change)
    /// and swapped in under it, so readers never wait for it; call it off
    /// the async workers (it copies the whole object). No effect on a body
    /// still filling.
    pub fn compact(&self) {
        if !self.is_complete() {
            return;
        }
        let pieces = self.chunks();
        if pieces.len() < 2 {
            return;
        }
        let blocks = Chunks::blocks(pieces);
        *self.chunks.lock().expect("body lock") = blocks;
    }

    /// Appends the next bytes; refused when they would overrun the length
    /// (nothing is appended then).
    pub fn push(&self, data: Bytes) -> Result<(), Overrun> {
        if data.is_empty() {
            return Ok(());
        }
        let mut chunks = self.chunks.lock().expect("body lock");
        let at = self.filled();
        if at + data.len() as u64 > self.len {
            return Err(Overrun {
                at,
                got: data.len(),
                len: self.len,
            });
        }
        let n = data.len() as u64;
        chunks.starts.push(at);
        chunks.data.push(data);
        drop(chunks);
        self.progress.send_modify(|p| p.filled += n);
        Ok(())
    }

    /// Marks the fill failed at the bytes it reached: waiting readers get
    /// [`BodyError::FillFailed`]. Bytes already here stay readable. No
    /// effect on a complete body.
    pub fn fail(&self, why: &str) {
        self.progress.send_if_modified(|p| {
            if p.filled == self.len || p.failed.is_some() {
                return false;
            }
            p.failed = Some(why.into());
            true
        });
    }

    /// Waits until the body is complete or failed; true when complete.
    pub async fn finished(&self) -> bool {
        let mut rx = self.progress.subscribe();
        let len = self.len;
        match rx.wait_for(|p| p.filled == len || p.failed.is_some()).await {
            Ok(p) => p.filled == len,
            // The sender lives in `self`: it cannot be gone while we wait.
            Err(_) => false,
        }
    }

    async fn read(&self, offset: u64, max: usize) -> Result<Bytes, BodyError> {
        if offset >= self.len || max == 0 {
            if offset > self.len || (offset == self.len && self.len > 0) {
                return Err(BodyError::OutOfRange {
                    offset,
                    len: self.len,
                });
            }
            return Ok(Bytes::new());
        }
        let mut rx = self.progress.subscribe();
        let progress = rx
            .wait_for(|p| p.filled > offset || p.failed.is_some())
            .await
            .map_err(|_| BodyError::FillFailed {
                at: 0,
                why: "the fill went away".into(),
            })?
            .clone();
        if progress.filled <= offset {
            return Err(BodyError::FillFailed {
                at: progress.filled,
                why: progress.failed.as_deref().unwrap_or("").to_owned(),
            });
        }
        let chunks = self.chunks.lock().expect("body lock");
        let i = chunks.starts.partition_point(|&s| s <= offset) - 1;
        let skip = (offset - chunks.starts[i]) as usize;
        let chunk = &chunks.data[i];
        let n = (chunk.len() - skip).min(max);
        Ok(chunk.slice(skip..skip + n))
    }
}

impl BodyReader for FillBody {
    fn read_at(&self, offset: u64, max: usize) -> BoxFuture<'_, Result<Bytes, BodyError>> {
        Box::pin(self.read(offset, max))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const BOUND: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_reader_waits_for_the_bytes_at_its_offset_and_gets_exact_slices() {
        let body = Arc::new(FillBody::new(10));
        let reader = {
            let body = body.clone();
            tokio::spawn(async move { body.read_at(6, 100).await })
        };
        body.push(Bytes::from_static(b"0123")).unwrap();
        tokio::task::yield_now().await;
        assert!(!reader.is_finished(), "offset 6 has not arrived");
        body.push(Bytes::from_static(b"456789")).unwrap();
        let got = tokio::time::timeout(BOUND, reader).await.unwrap().unwrap();
        assert_eq!(got.unwrap(), "6789");
        // A read stops at the end of the piece it starts in, and at `max`.
        assert_eq!(body.read_at(1, 100).await.unwrap(), "123");
        body.compact();
        assert_eq!(body.read_at(1, 100).await.unwrap(), "123456789");
        assert_eq!(body.read_at(4, 2).await.unwrap(), "45");
        assert!(body.is_complete());
        assert!(matches!(
            body.read_at(10, 1).await,
            Err(BodyError::OutOfRange {
                offset: 10,
                len: 10
            })
        ));
    }

    #[tokio::test]
    async fn a_complete_body_is_kept_in_blocks_of_up_to_a_mebibyte() {
        // 3 MiB + 5 bytes arriving in 16 KiB reads, one odd-sized.
        let len = 3 * BLOCK + 5;
        let whole: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let body = FillBody::new(len as u64);
        let mut at = 0;
        for n in std::iter::once(1000).chain(std::iter::repeat(16 * 1024)) {
            let n = n.min(len - at);
            body.push(Bytes::copy_from_slice(&whole[at..at + n]))
                .unwrap();
            at += n;
            if at == len {
                break;
            }
        }
        assert_eq!(body.chunks().len(), 193, "as they arrived");
        body.compact();
        let blocks: Vec<usize> = body.chunks().iter().map(Bytes::len).collect();
        assert!(blocks.iter().all(|&b| b <= BLOCK), "{blocks:?}");
        assert_eq!(blocks.len(), 4, "{blocks:?}");
        // One read returns a whole block's worth, and every byte is right.
        let mut got = Vec::new();
        let mut reads = 0;
        while got.len() < len {
            got.extend_from_slice(&body.read_at(got.len() as u64, usize::MAX).await.unwrap());
            reads += 1;
        }
        assert_eq!(got, whole);
        assert_eq!(reads, 4);
        // A read across a block boundary stops at the boundary.
        let b = body.read_at(blocks[0] as u64 - 2, 10).await.unwrap();
        assert_eq!(b.len(), 2);
    }

    #[tokio::test]
    async fn a_failed_fill_releases_waiting_readers_with_where_it_stopped() {
        let body = Arc::new(FillBody::new(10));
        body.push(Bytes::from_static(b"01")).unwrap();
        let reader = {
            let body = body.clone();
            tokio::spawn(async move { body.read_at(5, 1).await })
        };
        tokio::task::yield_now().await;
        body.fail("origin reset");
        let got = tokio::time::timeout(BOUND, reader).await.unwrap().unwrap();
        assert_eq!(
            got,
            Err(BodyError::FillFailed {
                at: 2,
                why: "origin reset".into()
            })
        );
        // What arrived is still served.
        assert_eq!(body.read_at(0, 9).await.unwrap(), "01");
        assert!(!body.finished().await);
    }

    #[tokio::test]
    async fn overruns_are_refused_and_empty_bodies_are_complete() {
        let body = FillBody::new(3);
        let e = body.push(Bytes::from_static(b"0123")).unwrap_err();
        assert_eq!((e.at, e.got, e.len), (0, 4, 3));
        assert_eq!(body.filled(), 0);
        let empty = FillBody::new(0);
        assert!(empty.finished().await);
        assert_eq!(empty.read_at(0, 10).await.unwrap(), "");
        let whole = FillBody::complete(Bytes::from_static(b"abc"));
        whole.fail("too late");
        assert_eq!(whole.read_at(2, 10).await.unwrap(), "c");
    }
}
