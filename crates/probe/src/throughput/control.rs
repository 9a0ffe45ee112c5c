//! The control connection as both sides use it: states and JSON messages,
//! each read within a time limit, every failure a [`ControlError`] that
//! says what the peer did and when.

use std::io;
use std::time::Duration;

use serde_json::{Map, Value};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::wire::{self, State, WireError};

/// What went wrong on the control connection, worded about the peer (the
/// caller says which peer: "iperf3 server: ...").
#[derive(Debug, Error)]
pub enum ControlError {
    /// The peer closed the connection.
    #[error("closed the control connection {during}")]
    Closed {
        /// What we were waiting for.
        during: String,
    },
    /// Reading or writing failed.
    #[error("control connection failed {during}: {source}")]
    Io {
        /// What we were doing.
        during: String,
        /// The system's reason.
        source: io::Error,
    },
    /// Nothing came in time.
    #[error("sent nothing {during} for {}", crate::throughput::fmt_secs(*.after))]
    Timeout {
        /// What we were waiting for.
        during: String,
        /// How long we waited.
        after: Duration,
    },
    /// A message that is not iperf3's.
    #[error("sent a malformed message {during}: {source}")]
    Malformed {
        /// What we were waiting for.
        during: String,
        /// What is wrong with it.
        source: WireError,
    },
    /// A valid state at the wrong time.
    #[error("sent {} {during}", .got.name())]
    Unexpected {
        /// The state received.
        got: State,
        /// What we were waiting for.
        during: String,
    },
    /// The server runs another test.
    #[error("is busy with another test (ACCESS_DENIED)")]
    AccessDenied,
    /// The server failed and said why in iperf3's error numbers.
    #[error("reported an error (SERVER_ERROR: iperf3 error {code}, errno {errno})")]
    ServerError {
        /// iperf3's `i_errno`.
        code: i32,
        /// The system errno.
        errno: i32,
    },
    /// The peer was stopped mid-test.
    #[error("stopped the test ({})", .state.name())]
    Terminated {
        /// `SERVER_TERMINATE` or `CLIENT_TERMINATE`.
        state: State,
    },
}

fn io_error(during: &str, e: io::Error) -> ControlError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        ControlError::Closed {
            during: during.to_string(),
        }
    } else {
        ControlError::Io {
            during: during.to_string(),
            source: e,
        }
    }
}

async fn exact<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut [u8],
    during: &str,
    limit: Duration,
) -> Result<(), ControlError> {
    match tokio::time::timeout(limit, r.read_exact(buf)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(io_error(during, e)),
        Err(_) => Err(ControlError::Timeout {
            during: during.to_string(),
            after: limit,
        }),
    }
}

/// Decodes a state byte already read, turning the states that end a test
/// (`ACCESS_DENIED`, `SERVER_ERROR` with its two numbers,
/// `SERVER_TERMINATE`, `CLIENT_TERMINATE`) into errors.
pub async fn decode_state<R: AsyncRead + Unpin>(
    r: &mut R,
    byte: u8,
    during: &str,
    limit: Duration,
) -> Result<State, ControlError> {
    let state = State::from_byte(byte).map_err(|source| ControlError::Malformed {
        during: during.to_string(),
        source,
    })?;
    match state {
        State::AccessDenied => Err(ControlError::AccessDenied),
        State::ServerError => {
            let mut nums = [0u8; 8];
            exact(r, &mut nums, "after SERVER_ERROR", limit).await?;
            let code = i32::from_be_bytes([nums[0], nums[1], nums[2], nums[3]]);
            let errno = i32::from_be_bytes([nums[4], nums[5], nums[6], nums[7]]);
            Err(ControlError::ServerError { code, errno })
        }
        State::ServerTerminate | State::ClientTerminate => Err(ControlError::Terminated { state }),
        s => Ok(s),
    }
}

/// Reads one state, waiting at most `limit`.
pub async fn read_state<R: AsyncRead + Unpin>(
    r: &mut R,
    during: &str,
    limit: Duration,
) -> Result<State, ControlError> {
    let mut b = [0u8; 1];
    exact(r, &mut b, during, limit).await?;
    decode_state(r, b[0], during, limit).await
}

/// Reads one state and requires it to be `want`.
pub async fn expect_state<R: AsyncRead + Unpin>(
    r: &mut R,
    want: State,
    limit: Duration,
) -> Result<(), ControlError> {
    let during = format!("while waiting for {}", want.name());
    let got = read_state(r, &during, limit).await?;
    if got == want {
        Ok(())
    } else {
        Err(ControlError::Unexpected { got, during })
    }
}

/// Sends one state.
pub async fn write_state<W: AsyncWrite + Unpin>(w: &mut W, s: State) -> Result<(), ControlError> {
    w.write_all(&[s.byte()])
        .await
        .map_err(|e| io_error(&format!("while sending {}", s.name()), e))
}

/// Sends `SERVER_ERROR` with iperf3's two error numbers.
pub async fn write_server_error<W: AsyncWrite + Unpin>(
    w: &mut W,
    code: i32,
    errno: i32,
) -> Result<(), ControlError> {
    let mut m = vec![State::ServerError.byte()];
    m.extend_from_slice(&code.to_be_bytes());
    m.extend_from_slice(&errno.to_be_bytes());
    w.write_all(&m)
        .await
        .map_err(|e| io_error("while sending SERVER_ERROR", e))
}

/// Reads one length-prefixed JSON object.
pub async fn read_json<R: AsyncRead + Unpin>(
    r: &mut R,
    what: &'static str,
    limit: Duration,
) -> Result<Map<String, Value>, ControlError> {
    let during = format!("while sending its {what}");
    let mut header = [0u8; 4];
    exact(r, &mut header, &during, limit).await?;
    let len = wire::json_len(header).map_err(|source| ControlError::Malformed {
        during: during.clone(),
        source,
    })?;
    let mut body = vec![0u8; len];
    exact(r, &mut body, &during, limit).await?;
    wire::parse_object(what, &body).map_err(|source| ControlError::Malformed { during, source })
}

/// Sends one length-prefixed JSON object.
pub async fn write_json<W: AsyncWrite + Unpin>(
    w: &mut W,
    what: &str,
    value: &Value,
) -> Result<(), ControlError> {
    w.write_all(&wire::frame(value))
        .await
        .map_err(|e| io_error(&format!("while sending our {what}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn a_truncated_json_message_is_a_closed_connection_mid_message() {
        let mut input: &[u8] = &[0, 0, 0, 10, b'{', b'"'];
        let e = read_json(&mut input, "results", T).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "closed the control connection while sending its results"
        );
    }

    #[tokio::test]
    async fn server_error_carries_both_numbers() {
        let mut input: &[u8] = &[0xfe, 0, 0, 0, 119, 0, 0, 0, 98];
        let e = read_state(&mut input, "while waiting", T)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "reported an error (SERVER_ERROR: iperf3 error 119, errno 98)"
        );
    }

    #[tokio::test]
    async fn unknown_and_unexpected_states_are_named() {
        let mut input: &[u8] = &[77];
        let e = expect_state(&mut input, State::ParamExchange, T)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "sent a malformed message while waiting for PARAM_EXCHANGE: unknown control state 77"
        );
        let mut input: &[u8] = &[State::DisplayResults.byte()];
        let e = expect_state(&mut input, State::CreateStreams, T)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "sent DISPLAY_RESULTS while waiting for CREATE_STREAMS"
        );
        let mut input: &[u8] = &[0xff];
        assert!(matches!(
            read_state(&mut input, "x", T).await,
            Err(ControlError::AccessDenied)
        ));
    }

    #[tokio::test]
    async fn silence_is_a_timeout() {
        let (mut a, _b) = tokio::io::duplex(64);
        let e = read_state(
            &mut a,
            "while waiting for TEST_START",
            Duration::from_millis(20),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "sent nothing while waiting for TEST_START for 0.02 s"
        );
    }

    #[tokio::test]
    async fn json_round_trips_through_the_framing() {
        let mut out = Vec::new();
        write_json(&mut out, "results", &serde_json::json!({"k": [1, 2]}))
            .await
            .unwrap();
        let mut input: &[u8] = &out;
        let m = read_json(&mut input, "results", T).await.unwrap();
        assert_eq!(m["k"], serde_json::json!([1, 2]));
    }
}
