//! The front's response body: literal text and spans of an object, in the
//! order range planning laid them out, each span read through
//! [`BodyReader::read_at`](crate::object::BodyReader::read_at) a chunk at a
//! time, so a response streams while the object is still filling and holds
//! at most one chunk in memory.
//!
//! A read that fails part-way ends the body with an error, which makes
//! hyper abort the response (HTTP/1.1: close the connection; HTTP/2: reset
//! the stream) rather than send a short body that looks whole.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use crate::object::{Body, BodyError};
use crate::range::{Part, Span};

/// Bytes asked of the store per read.
pub const CHUNK: usize = 64 * 1024;

type Read = Pin<Box<dyn Future<Output = Result<Bytes, BodyError>> + Send>>;

/// Called once when a body ends or is dropped: the bytes sent and whether
/// the body was whole.
pub type OnFinish = Box<dyn FnOnce(u64, bool) + Send>;

/// A response body.
pub struct ResponseBody {
    parts: VecDeque<Part>,
    reader: Option<Body>,
    /// The next byte of the span at the front of `parts`.
    cursor: u64,
    /// A read in flight, with the span it reads in.
    pending: Option<(Span, Read)>,
    remaining: u64,
    sent: u64,
    failed: bool,
    on_finish: Option<OnFinish>,
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Some(f) = self.on_finish.take() {
            let whole = !self.failed && self.parts.is_empty() && self.pending.is_none();
            f(self.sent, whole);
        }
    }
}

impl ResponseBody {
    /// No body.
    pub fn empty() -> ResponseBody {
        ResponseBody {
            parts: VecDeque::new(),
            reader: None,
            cursor: 0,
            pending: None,
            remaining: 0,
            sent: 0,
            failed: false,
            on_finish: None,
        }
    }

    /// A short literal body (errors, health).
    pub fn text(text: impl Into<Bytes>) -> ResponseBody {
        let t: Bytes = text.into();
        let remaining = t.len() as u64;
        ResponseBody {
            parts: VecDeque::from([Part::Text(t)]),
            reader: None,
            cursor: 0,
            pending: None,
            remaining,
            sent: 0,
            failed: false,
            on_finish: None,
        }
    }

    /// `parts` of `reader`'s object, `length` bytes in all.
    pub fn parts(reader: Body, parts: Vec<Part>, length: u64) -> ResponseBody {
        let cursor = match parts.first() {
            Some(Part::Object(s)) => s.first,
            _ => 0,
        };
        ResponseBody {
            parts: parts.into(),
            reader: Some(reader),
            cursor,
            pending: None,
            remaining: length,
            sent: 0,
            failed: false,
            on_finish: None,
        }
    }

    /// Calls `f` when the body ends or is dropped (the access log and the
    /// counters; the connection's keep-alive clock), after any `f` given
    /// before.
    pub fn on_finish(&mut self, f: OnFinish) {
        self.on_finish = Some(match self.on_finish.take() {
            None => f,
            Some(first) => Box::new(move |sent, whole| {
                first(sent, whole);
                f(sent, whole);
            }),
        });
    }

    /// Moves to the next part, setting the cursor to its span's start.
    fn advance(&mut self) {
        self.parts.pop_front();
        if let Some(Part::Object(s)) = self.parts.front() {
            self.cursor = s.first;
        }
    }
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        loop {
            if let Some((span, read)) = this.pending.as_mut() {
                let span = *span;
                let got = match read.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => r,
                };
                this.pending = None;
                let mut bytes = match got {
                    Ok(b) => b,
                    Err(e) => {
                        this.parts.clear();
                        this.failed = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                };
                if bytes.is_empty() {
                    // The store promised at least one byte below the
                    // length; an empty read would loop forever.
                    this.parts.clear();
                    this.failed = true;
                    return Poll::Ready(Some(Err(BodyError::FillFailed {
                        at: this.cursor,
                        why: "the store returned no bytes inside the object".into(),
                    })));
                }
                let want = span.last - this.cursor + 1;
                if bytes.len() as u64 > want {
                    bytes.truncate(want as usize);
                }
                this.cursor += bytes.len() as u64;
                this.sent += bytes.len() as u64;
                this.remaining = this.remaining.saturating_sub(bytes.len() as u64);
                if this.cursor > span.last {
                    this.advance();
                }
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            match this.parts.front() {
                None => return Poll::Ready(None),
                Some(Part::Text(t)) => {
                    let t = t.clone();
                    this.remaining = this.remaining.saturating_sub(t.len() as u64);
                    this.sent += t.len() as u64;
                    this.advance();
                    if !t.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(t))));
                    }
                }
                Some(&Part::Object(span)) => {
                    let Some(reader) = this.reader.clone() else {
                        this.parts.clear();
                        this.failed = true;
                        return Poll::Ready(None);
                    };
                    let (at, max) = (this.cursor, (span.last - this.cursor + 1).min(CHUNK as u64));
                    this.pending = Some((
                        span,
                        Box::pin(async move { reader.read_at(at, max as usize).await }),
                    ));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty() && self.pending.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::Synthetic;
    use netproof_proto::content::ContentKey;
    use std::sync::Arc;

    async fn collect(mut body: ResponseBody) -> Result<Vec<u8>, BodyError> {
        let mut out = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            out.extend_from_slice(&frame?.into_data().expect("data"));
        }
        assert!(body.is_end_stream());
        Ok(out)
    }

    #[tokio::test]
    async fn parts_stream_in_order_chunk_by_chunk() {
        let key = ContentKey::new(1, 2, "f");
        let reader: Body = Arc::new(Synthetic::new(key, 200_000));
        let parts = vec![
            Part::Text(Bytes::from_static(b"<")),
            Part::Object(Span {
                first: 10,
                last: 150_009,
            }),
            Part::Text(Bytes::from_static(b">")),
            Part::Object(Span {
                first: 199_999,
                last: 199_999,
            }),
        ];
        let body = ResponseBody::parts(reader, parts, 150_003);
        assert_eq!(body.size_hint().exact(), Some(150_003));
        let out = collect(body).await.unwrap();
        assert_eq!(out.len(), 150_003);
        assert_eq!(out[0], b'<');
        assert_eq!(key.first_mismatch(10, &out[1..150_001]), None);
        assert_eq!(out[150_001], b'>');
        assert_eq!(key.first_mismatch(199_999, &out[150_002..]), None);
    }

    #[tokio::test]
    async fn a_failed_read_ends_the_body_with_its_error() {
        struct Failing;
        impl crate::object::BodyReader for Failing {
            fn read_at(
                &self,
                offset: u64,
                _: usize,
            ) -> crate::object::BoxFuture<'_, Result<Bytes, BodyError>> {
                Box::pin(async move {
                    Err(BodyError::FillFailed {
                        at: offset,
                        why: "upstream reset".into(),
                    })
                })
            }
        }
        let body = ResponseBody::parts(
            Arc::new(Failing),
            vec![Part::Object(Span { first: 5, last: 9 })],
            5,
        );
        assert_eq!(
            collect(body).await,
            Err(BodyError::FillFailed {
                at: 5,
                why: "upstream reset".into()
            })
        );
    }
}
