//! The iperf3 wire format: control states, the cookie, length-prefixed JSON
//! messages (test parameters and results) and the UDP data header.
//!
//! Everything here is a pure codec: no I/O, no clock, no state, and no
//! panic on any input. What iperf3 3.x puts on the wire:
//!
//! - The client opens a TCP control connection and sends a 37-byte cookie
//!   (36 characters and a NUL) that names the test; every TCP data
//!   connection starts with the same cookie.
//! - The server drives the test with one-byte states ([`State`]); the
//!   client answers with states of its own (`TEST_END`, `IPERF_DONE`).
//! - Parameters and results are JSON objects, each sent as a 4-byte
//!   big-endian length and the JSON text.
//! - A UDP stream is opened by a 4-byte datagram from the client, answered
//!   by a 4-byte datagram from the server; both are integers written in
//!   the host's byte order (iperf3 does not convert them), so a receiver
//!   accepts both orders.
//! - Each UDP data datagram starts with the send time (seconds and
//!   microseconds, 32-bit big-endian each) and a packet number, 32-bit or,
//!   with the `udp_counters_64bit` parameter, 64-bit big-endian, counting
//!   from 1.

use netproof_proto::seed::splitmix64;
use serde_json::{Map, Value, json};
use thiserror::Error;

/// The port iperf3 listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 5201;
/// Length of the test cookie, NUL included.
pub const COOKIE_LEN: usize = 37;
/// iperf3's default TCP block (one write) size.
pub const DEFAULT_TCP_LEN: usize = 128 * 1024;
/// iperf3's default UDP datagram size.
pub const DEFAULT_UDP_LEN: usize = 1460;
/// The largest UDP payload over IPv4.
pub const MAX_UDP_LEN: usize = 65_507;
/// The largest TCP block we write or accept as a parameter.
pub const MAX_TCP_LEN: usize = 16 * 1024 * 1024;
/// The most parallel streams one test may ask for (iperf3's own limit).
pub const MAX_STREAMS: u16 = 128;
/// The largest JSON message we read; iperf3's parameters and results are
/// a few hundred bytes per stream, so anything near this is not iperf3.
pub const MAX_JSON_LEN: usize = 1024 * 1024;
/// The UDP header with a 32-bit packet number.
pub const UDP_HEADER_LEN: usize = 12;
/// The UDP header with a 64-bit packet number.
pub const UDP_HEADER_LEN_64: usize = 16;

/// The client's "here is a UDP stream" message (`"6789"` as an integer).
const UDP_CONNECT_MSG: u32 = 0x3637_3839;
/// The server's answer (`"9876"` as an integer).
const UDP_CONNECT_REPLY: u32 = 0x3938_3736;
/// What iperf3 before 3.11 answered (987654321).
const LEGACY_UDP_CONNECT_REPLY: u32 = 987_654_321;
/// What iperf3 before 3.11 sent (123456789).
const LEGACY_UDP_CONNECT_MSG: u32 = 123_456_789;

/// A malformed or unexpected message from the peer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// A state byte that iperf3 does not define.
    #[error("unknown control state {0}")]
    UnknownState(i8),
    /// A JSON length beyond [`MAX_JSON_LEN`].
    #[error("a JSON message of {0} bytes is larger than the {MAX_JSON_LEN}-byte limit")]
    JsonTooLong(u32),
    /// A message that is not valid JSON.
    #[error("the {what} are not valid JSON: {reason}")]
    BadJson {
        /// Which message.
        what: &'static str,
        /// The parser's reason.
        reason: String,
    },
    /// A JSON message without a field iperf3 always sends, or with a value
    /// of the wrong type.
    #[error("the {what} have no valid `{field}`")]
    MissingField {
        /// Which message.
        what: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A parameter value we cannot honour.
    #[error("parameter `{field}` = {value} is not supported: {why}")]
    Unsupported {
        /// The parameter.
        field: &'static str,
        /// Its value as sent.
        value: String,
        /// Why.
        why: &'static str,
    },
    /// A UDP datagram shorter than its header.
    #[error("a UDP datagram of {len} bytes is shorter than the {need}-byte iperf3 header")]
    ShortDatagram {
        /// Its length.
        len: usize,
        /// The header length.
        need: usize,
    },
}

/// A control state: one byte on the control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// `TEST_START` (1): streams are set up, the test is about to run.
    TestStart,
    /// `TEST_RUNNING` (2): data flows.
    TestRunning,
    /// `TEST_END` (4): the client ends the test.
    TestEnd,
    /// `PARAM_EXCHANGE` (9): the server wants the parameters.
    ParamExchange,
    /// `CREATE_STREAMS` (10): the client opens the data streams.
    CreateStreams,
    /// `SERVER_TERMINATE` (11): the server was stopped mid-test.
    ServerTerminate,
    /// `CLIENT_TERMINATE` (12): the client was stopped mid-test.
    ClientTerminate,
    /// `EXCHANGE_RESULTS` (13): both sides send their results.
    ExchangeResults,
    /// `DISPLAY_RESULTS` (14): the server is done.
    DisplayResults,
    /// `IPERF_DONE` (16): the client is done.
    IperfDone,
    /// `ACCESS_DENIED` (-1): the server is busy with another test.
    AccessDenied,
    /// `SERVER_ERROR` (-2): the server failed; two 32-bit error numbers follow.
    ServerError,
}

impl State {
    /// Decodes a state byte (a signed char on the wire).
    pub fn from_byte(b: u8) -> Result<State, WireError> {
        Ok(match b as i8 {
            1 => State::TestStart,
            2 => State::TestRunning,
            4 => State::TestEnd,
            9 => State::ParamExchange,
            10 => State::CreateStreams,
            11 => State::ServerTerminate,
            12 => State::ClientTerminate,
            13 => State::ExchangeResults,
            14 => State::DisplayResults,
            16 => State::IperfDone,
            -1 => State::AccessDenied,
            -2 => State::ServerError,
            other => return Err(WireError::UnknownState(other)),
        })
    }

    /// The byte sent for this state.
    pub fn byte(self) -> u8 {
        let v: i8 = match self {
            State::TestStart => 1,
            State::TestRunning => 2,
            State::TestEnd => 4,
            State::ParamExchange => 9,
            State::CreateStreams => 10,
            State::ServerTerminate => 11,
            State::ClientTerminate => 12,
            State::ExchangeResults => 13,
            State::DisplayResults => 14,
            State::IperfDone => 16,
            State::AccessDenied => -1,
            State::ServerError => -2,
        };
        v as u8
    }

    /// iperf3's name for the state, for messages.
    pub fn name(self) -> &'static str {
        match self {
            State::TestStart => "TEST_START",
            State::TestRunning => "TEST_RUNNING",
            State::TestEnd => "TEST_END",
            State::ParamExchange => "PARAM_EXCHANGE",
            State::CreateStreams => "CREATE_STREAMS",
            State::ServerTerminate => "SERVER_TERMINATE",
            State::ClientTerminate => "CLIENT_TERMINATE",
            State::ExchangeResults => "EXCHANGE_RESULTS",
            State::DisplayResults => "DISPLAY_RESULTS",
            State::IperfDone => "IPERF_DONE",
            State::AccessDenied => "ACCESS_DENIED",
            State::ServerError => "SERVER_ERROR",
        }
    }
}

/// The 37-byte test cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cookie(pub [u8; COOKIE_LEN]);

impl Cookie {
    /// A cookie from 36 characters of iperf3's alphabet chosen by `seed`,
    /// then a NUL. The seed comes from the caller so tests are exact.
    pub fn from_seed(seed: u64) -> Cookie {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut out = [0u8; COOKIE_LEN];
        let mut x = seed;
        for b in out.iter_mut().take(COOKIE_LEN - 1) {
            // SplitMix64 steps: every character gets fresh bits.
            *b = ALPHABET[(splitmix64(&mut x) & 31) as usize];
        }
        Cookie(out)
    }

    /// The cookie as text, for messages (up to its NUL).
    pub fn text(&self) -> String {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(COOKIE_LEN);
        String::from_utf8_lossy(&self.0[..end]).into_owned()
    }
}

/// The 4-byte header of a JSON message: its length, big-endian.
pub fn json_header(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

/// Reads a JSON message's length from its header, refusing absurd sizes.
pub fn json_len(header: [u8; 4]) -> Result<usize, WireError> {
    let n = u32::from_be_bytes(header);
    if n as usize > MAX_JSON_LEN {
        return Err(WireError::JsonTooLong(n));
    }
    Ok(n as usize)
}

/// A JSON message framed for the control connection.
pub fn frame(value: &Value) -> Vec<u8> {
    let text = value.to_string();
    let mut out = Vec::with_capacity(4 + text.len());
    out.extend_from_slice(&json_header(text.len()));
    out.extend_from_slice(text.as_bytes());
    out
}

/// Parses a JSON message body into an object.
pub fn parse_object(what: &'static str, body: &[u8]) -> Result<Map<String, Value>, WireError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(WireError::BadJson {
            what,
            reason: "not a JSON object".into(),
        }),
        Err(e) => Err(WireError::BadJson {
            what,
            reason: e.to_string(),
        }),
    }
}

/// The transport of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP streams.
    Tcp,
    /// UDP streams.
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// The test parameters the client sends after `PARAM_EXCHANGE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Whole seconds the test runs (`time`); 0 when bounded by bytes.
    pub time: u32,
    /// A byte limit (`num`), if any.
    pub bytes: Option<u64>,
    /// Parallel streams (`parallel`).
    pub parallel: u16,
    /// The server sends (`reverse`).
    pub reverse: bool,
    /// Block or datagram size (`len`).
    pub len: usize,
    /// Target bit rate per stream (`bandwidth`); `None` is unlimited.
    pub bandwidth: Option<u64>,
    /// 64-bit UDP packet numbers (`udp_counters_64bit`).
    pub udp_counters_64bit: bool,
    /// The client's version text (`client_version`), if sent.
    pub client_version: Option<String>,
}

impl Params {
    /// The JSON object iperf3 3.x expects.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(self.protocol.as_str().into(), json!(true));
        m.insert("omit".into(), json!(0));
        m.insert("time".into(), json!(self.time));
        if let Some(b) = self.bytes {
            m.insert("num".into(), json!(b));
        }
        m.insert("parallel".into(), json!(self.parallel));
        if self.reverse {
            m.insert("reverse".into(), json!(true));
        }
        m.insert("len".into(), json!(self.len));
        if let Some(b) = self.bandwidth {
            m.insert("bandwidth".into(), json!(b));
        }
        m.insert("pacing_timer".into(), json!(1000));
        if self.udp_counters_64bit {
            m.insert("udp_counters_64bit".into(), json!(1));
        }
        if let Some(v) = &self.client_version {
            m.insert("client_version".into(), json!(v));
        }
        Value::Object(m)
    }

    /// Reads and checks a client's parameters. Options we cannot honour
    /// (SCTP, bidirectional, an omitted warm-up, a block count) are
    /// refused by name rather than ignored, so a test never measures
    /// something other than what its client asked for.
    pub fn from_json(m: &Map<String, Value>) -> Result<Params, WireError> {
        const WHAT: &str = "test parameters";
        let flag = |k: &str| m.get(k).is_some_and(|v| !v.is_null() && v != &json!(false));
        let protocol = match (flag("tcp"), flag("udp")) {
            (true, false) => Protocol::Tcp,
            (false, true) => Protocol::Udp,
            _ if flag("sctp") => {
                return Err(WireError::Unsupported {
                    field: "sctp",
                    value: "true".into(),
                    why: "only TCP and UDP are served",
                });
            }
            _ => {
                return Err(WireError::MissingField {
                    what: WHAT,
                    field: "tcp` or `udp",
                });
            }
        };
        for field in ["bidirectional"] {
            if flag(field) {
                return Err(WireError::Unsupported {
                    field: "bidirectional",
                    value: "true".into(),
                    why: "run one test per direction",
                });
            }
        }
        let uint = |field: &'static str| -> Result<Option<u64>, WireError> {
            match m.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => number(v)
                    .map(Some)
                    .ok_or(WireError::MissingField { what: WHAT, field }),
            }
        };
        for field in ["omit", "blockcount"] {
            if let Some(v) = uint(field)?
                && v != 0
            {
                return Err(WireError::Unsupported {
                    field,
                    value: v.to_string(),
                    why: "netproof measures the whole test and bounds it by time or bytes",
                });
            }
        }
        let time = uint("time")?.unwrap_or(10);
        let time = u32::try_from(time).map_err(|_| WireError::Unsupported {
            field: "time",
            value: time.to_string(),
            why: "too long",
        })?;
        let bytes = uint("num")?.filter(|&b| b > 0);
        let parallel = uint("parallel")?.unwrap_or(1);
        if parallel == 0 || parallel > u64::from(MAX_STREAMS) {
            return Err(WireError::Unsupported {
                field: "parallel",
                value: parallel.to_string(),
                why: "streams must be 1..=128",
            });
        }
        let (default_len, max_len) = match protocol {
            Protocol::Tcp => (DEFAULT_TCP_LEN, MAX_TCP_LEN),
            Protocol::Udp => (DEFAULT_UDP_LEN, MAX_UDP_LEN),
        };
        let len = match uint("len")? {
            None | Some(0) => default_len,
            Some(l) => usize::try_from(l).unwrap_or(usize::MAX),
        };
        let min_len = if protocol == Protocol::Udp {
            UDP_HEADER_LEN_64
        } else {
            1
        };
        if !(min_len..=max_len).contains(&len) {
            return Err(WireError::Unsupported {
                field: "len",
                value: len.to_string(),
                why: "outside the block sizes this server handles",
            });
        }
        let bandwidth = uint("bandwidth")?.filter(|&b| b > 0);
        let client_version = m
            .get("client_version")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Params {
            protocol,
            time,
            bytes,
            parallel: parallel as u16,
            reverse: flag("reverse"),
            len,
            bandwidth,
            udp_counters_64bit: m.contains_key("udp_counters_64bit"),
            client_version,
        })
    }
}

/// A non-negative whole number, written as an integer or (by cJSON, for
/// values beyond 32 bits) as a float.
fn number(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let f = v.as_f64()?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1.8e19).then_some(f as u64)
}

/// One stream's line of the results.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    /// The stream id (iperf3 numbers them 1, 3, 4, 5, ...).
    pub id: u32,
    /// Bytes sent (on the sending side) or received.
    pub bytes: u64,
    /// TCP retransmits on the sending side; -1 when unknown.
    pub retransmits: i64,
    /// UDP jitter in seconds, on the receiving side.
    pub jitter: f64,
    /// UDP packets lost (the receiver's count).
    pub errors: i64,
    /// UDP packets: sent, or the highest number received.
    pub packets: u64,
    /// Seconds from the stream's start to its start (always 0).
    pub start_time: Option<f64>,
    /// Seconds from the stream's start to its end.
    pub end_time: Option<f64>,
}

impl StreamResult {
    /// The time the side that wrote this result measured over, if given.
    pub fn duration(&self) -> Option<f64> {
        match (self.start_time, self.end_time) {
            (Some(s), Some(e)) if e > s => Some(e - s),
            _ => None,
        }
    }
}

/// The results each side sends after `EXCHANGE_RESULTS`.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// `sender_has_retransmits`: 1 yes, 0 no, -1 this side received.
    pub sender_has_retransmits: i64,
    /// The congestion control the sender used, if said.
    pub congestion_used: Option<String>,
    /// One entry per stream.
    pub streams: Vec<StreamResult>,
}

impl Results {
    /// The JSON object iperf3 expects (CPU use is not measured: zeros).
    pub fn to_json(&self) -> Value {
        let streams: Vec<Value> = self
            .streams
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "bytes": s.bytes,
                    "retransmits": s.retransmits,
                    "jitter": s.jitter,
                    "errors": s.errors,
                    "packets": s.packets,
                    "start_time": s.start_time.unwrap_or(0.0),
                    "end_time": s.end_time.unwrap_or(0.0),
                })
            })
            .collect();
        let mut m = Map::new();
        m.insert("cpu_util_total".into(), json!(0.0));
        m.insert("cpu_util_user".into(), json!(0.0));
        m.insert("cpu_util_system".into(), json!(0.0));
        m.insert(
            "sender_has_retransmits".into(),
            json!(self.sender_has_retransmits),
        );
        if let Some(c) = &self.congestion_used {
            m.insert("congestion_used".into(), json!(c));
        }
        m.insert("streams".into(), Value::Array(streams));
        Value::Object(m)
    }

    /// Reads the peer's results, requiring what iperf3 requires.
    pub fn from_json(m: &Map<String, Value>) -> Result<Results, WireError> {
        const WHAT: &str = "results";
        let missing = |field| WireError::MissingField { what: WHAT, field };
        for field in ["cpu_util_total", "cpu_util_user", "cpu_util_system"] {
            m.get(field).and_then(Value::as_f64).ok_or(missing(field))?;
        }
        let sender_has_retransmits = m
            .get("sender_has_retransmits")
            .and_then(Value::as_f64)
            .ok_or(missing("sender_has_retransmits"))? as i64;
        let list = m
            .get("streams")
            .and_then(Value::as_array)
            .ok_or(missing("streams"))?;
        let mut streams = Vec::with_capacity(list.len());
        for s in list {
            let s = s.as_object().ok_or(missing("streams"))?;
            let int = |field: &'static str| {
                s.get(field)
                    .and_then(Value::as_f64)
                    .filter(|f| f.is_finite())
                    .ok_or(missing(field))
            };
            let count = |field: &'static str| s.get(field).and_then(number).ok_or(missing(field));
            let id = count("id")?;
            let optional = |field: &str| s.get(field).and_then(Value::as_f64);
            streams.push(StreamResult {
                id: u32::try_from(id).map_err(|_| missing("id"))?,
                bytes: count("bytes")?,
                retransmits: int("retransmits")? as i64,
                jitter: int("jitter")?.max(0.0),
                errors: int("errors")? as i64,
                packets: count("packets")?,
                start_time: optional("start_time"),
                end_time: optional("end_time"),
            });
        }
        Ok(Results {
            sender_has_retransmits,
            congestion_used: m
                .get("congestion_used")
                .and_then(Value::as_str)
                .map(str::to_string),
            streams,
        })
    }
}

/// The id iperf3 gives the `n`th stream of a test (from 0): 1, 3, 4, 5, ...
/// (its list insertion counts from 2 after the first stream). Both sides
/// compute it, and results are matched by it.
pub fn stream_id(n: usize) -> u32 {
    let n = u32::try_from(n).unwrap_or(u32::MAX - 2);
    if n == 0 { 1 } else { n + 2 }
}

/// The UDP connect message as this host's iperf3 sends it.
pub fn udp_connect_msg() -> [u8; 4] {
    UDP_CONNECT_MSG.to_ne_bytes()
}

/// The UDP connect reply as this host's iperf3 sends it.
pub fn udp_connect_reply() -> [u8; 4] {
    UDP_CONNECT_REPLY.to_ne_bytes()
}

/// Whether `d` is a UDP connect reply: the current one in this host's
/// byte order (in the other order it reads as the connect *message*), or
/// the legacy one in either order.
pub fn is_udp_connect_reply(d: &[u8]) -> bool {
    is_one_of(d, UDP_CONNECT_REPLY, LEGACY_UDP_CONNECT_REPLY)
}

/// Whether `d` is a UDP connect message, current (this host's order) or
/// legacy (either order).
pub fn is_udp_connect_msg(d: &[u8]) -> bool {
    is_one_of(d, UDP_CONNECT_MSG, LEGACY_UDP_CONNECT_MSG)
}

fn is_one_of(d: &[u8], current: u32, legacy: u32) -> bool {
    let Ok(b) = <[u8; 4]>::try_from(d) else {
        return false;
    };
    u32::from_ne_bytes(b) == current
        || u32::from_le_bytes(b) == legacy
        || u32::from_be_bytes(b) == legacy
}

/// The header of a UDP data datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpHeader {
    /// Send time, whole seconds since the epoch.
    pub sec: u32,
    /// Send time, microseconds within the second.
    pub usec: u32,
    /// The packet number, from 1.
    pub count: u64,
}

impl UdpHeader {
    /// The header length with 32- or 64-bit packet numbers.
    pub fn len(wide: bool) -> usize {
        if wide {
            UDP_HEADER_LEN_64
        } else {
            UDP_HEADER_LEN
        }
    }

    /// Writes the header at the start of `buf`, which must hold it; a
    /// shorter buffer is left alone and `false` returned. A 32-bit packet
    /// number wraps, as iperf3's does.
    pub fn emit(&self, buf: &mut [u8], wide: bool) -> bool {
        let Some(h) = buf.get_mut(..Self::len(wide)) else {
            return false;
        };
        h[0..4].copy_from_slice(&self.sec.to_be_bytes());
        h[4..8].copy_from_slice(&self.usec.to_be_bytes());
        if wide {
            h[8..16].copy_from_slice(&self.count.to_be_bytes());
        } else {
            h[8..12].copy_from_slice(&(self.count as u32).to_be_bytes());
        }
        true
    }

    /// Reads the header of a datagram.
    pub fn parse(d: &[u8], wide: bool) -> Result<UdpHeader, WireError> {
        let need = Self::len(wide);
        let short = WireError::ShortDatagram { len: d.len(), need };
        let h = d.get(..need).ok_or(short)?;
        let word = |r: std::ops::Range<usize>| -> u32 {
            let mut b = [0u8; 4];
            b.copy_from_slice(&h[r]);
            u32::from_be_bytes(b)
        };
        let count = if wide {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[8..16]);
            u64::from_be_bytes(b)
        } else {
            u64::from(word(8..12))
        };
        Ok(UdpHeader {
            sec: word(0..4),
            usec: word(4..8),
            count,
        })
    }

    /// The send time in seconds since the epoch.
    pub fn time(&self) -> f64 {
        f64::from(self.sec) + f64::from(self.usec) / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_and_negative_codes_are_signed() {
        for s in [
            State::TestStart,
            State::TestRunning,
            State::TestEnd,
            State::ParamExchange,
            State::CreateStreams,
            State::ServerTerminate,
            State::ClientTerminate,
            State::ExchangeResults,
            State::DisplayResults,
            State::IperfDone,
            State::AccessDenied,
            State::ServerError,
        ] {
            assert_eq!(State::from_byte(s.byte()), Ok(s));
        }
        assert_eq!(State::AccessDenied.byte(), 0xff);
        assert_eq!(State::ServerError.byte(), 0xfe);
        assert_eq!(State::ParamExchange.byte(), 9);
        assert_eq!(State::from_byte(3), Err(WireError::UnknownState(3)));
        assert_eq!(State::from_byte(0x80), Err(WireError::UnknownState(-128)));
    }

    #[test]
    fn cookie_is_36_alphabet_characters_and_a_nul() {
        let c = Cookie::from_seed(7);
        assert_eq!(c.0[36], 0);
        assert!(
            c.0[..36]
                .iter()
                .all(|b| b"abcdefghijklmnopqrstuvwxyz234567".contains(b))
        );
        assert_eq!(c.text().len(), 36);
        assert_ne!(Cookie::from_seed(8), c);
        assert_eq!(Cookie::from_seed(7), c);
        // Pinned: the same seed gives the same cookie in every release.
        assert_eq!(c.text(), "x4cl2rw6bjlmoqgyphvypn57qj27h5ymisbl");
    }

    #[test]
    fn json_frames_carry_a_big_endian_length() {
        let f = frame(&json!({"a": 1}));
        assert_eq!(&f[..4], &[0, 0, 0, 7]);
        assert_eq!(&f[4..], br#"{"a":1}"#);
        assert_eq!(json_len([0, 0, 0, 7]), Ok(7));
        assert_eq!(
            json_len([0xff, 0xff, 0xff, 0xff]),
            Err(WireError::JsonTooLong(u32::MAX))
        );
    }

    #[test]
    fn params_round_trip_with_iperf3_keys() {
        let p = Params {
            protocol: Protocol::Udp,
            time: 2,
            bytes: Some(1000),
            parallel: 3,
            reverse: true,
            len: 1200,
            bandwidth: Some(100_000_000),
            udp_counters_64bit: true,
            client_version: Some("netproof".into()),
        };
        let j = p.to_json();
        assert_eq!(j["udp"], json!(true));
        assert_eq!(j["num"], json!(1000));
        assert_eq!(j["udp_counters_64bit"], json!(1));
        let back = Params::from_json(j.as_object().unwrap()).unwrap();
        assert_eq!(back, p);
    }

    /// What iperf3 3.12 sends for `iperf3 -c HOST -t 1 -R -u -b 100M
    /// --udp-counters-64bit -l 1400`.
    static IPERF3_UDP_PARAMS: &str = r#"{"udp":true,"omit":0,"time":1,"parallel":1,"reverse":true,"len":1400,"bandwidth":100000000,"pacing_timer":1000,"udp_counters_64bit":1,"client_version":"3.12"}"#;

    #[test]
    fn reads_iperf3_parameters() {
        let m = parse_object("test parameters", IPERF3_UDP_PARAMS.as_bytes()).unwrap();
        let p = Params::from_json(&m).unwrap();
        assert_eq!(p.protocol, Protocol::Udp);
        assert_eq!(p.time, 1);
        assert!(p.reverse && p.udp_counters_64bit);
        assert_eq!(p.len, 1400);
        assert_eq!(p.bandwidth, Some(100_000_000));
        assert_eq!(p.client_version.as_deref(), Some("3.12"));
    }

    #[test]
    fn refuses_parameters_it_cannot_honour() {
        let parse = |s: &str| Params::from_json(&parse_object("p", s.as_bytes()).unwrap());
        assert!(matches!(
            parse(r#"{"sctp":true}"#),
            Err(WireError::Unsupported { field: "sctp", .. })
        ));
        assert!(matches!(
            parse(r#"{"tcp":true,"bidirectional":true}"#),
            Err(WireError::Unsupported {
                field: "bidirectional",
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"tcp":true,"parallel":500}"#),
            Err(WireError::Unsupported {
                field: "parallel",
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"tcp":true,"omit":2}"#),
            Err(WireError::Unsupported { field: "omit", .. })
        ));
        assert!(matches!(
            parse(r#"{"udp":true,"len":4}"#),
            Err(WireError::Unsupported { field: "len", .. })
        ));
        assert!(matches!(
            parse(r#"{"time":1}"#),
            Err(WireError::MissingField { .. })
        ));
        assert!(matches!(
            parse(r#"{"tcp":true,"time":"ten"}"#),
            Err(WireError::MissingField { field: "time", .. })
        ));
    }

    /// Results as iperf3 3.12 sends them, with a byte count beyond 32 bits
    /// printed as a float.
    static IPERF3_RESULTS: &str = r#"{"cpu_util_total":12.5,"cpu_util_user":1.2,"cpu_util_system":11.3,"sender_has_retransmits":1,"congestion_used":"bbr","streams":[{"id":1,"bytes":5368709120,"retransmits":3,"jitter":0,"errors":0,"packets":0,"start_time":0,"end_time":1.000041}]}"#;

    #[test]
    fn reads_iperf3_results() {
        let m = parse_object("results", IPERF3_RESULTS.as_bytes()).unwrap();
        let r = Results::from_json(&m).unwrap();
        assert_eq!(r.sender_has_retransmits, 1);
        assert_eq!(r.congestion_used.as_deref(), Some("bbr"));
        assert_eq!(r.streams.len(), 1);
        assert_eq!(r.streams[0].bytes, 5_368_709_120);
        assert_eq!(r.streams[0].retransmits, 3);
        assert!((r.streams[0].duration().unwrap() - 1.000041).abs() < 1e-9);
        let again = Results::from_json(r.to_json().as_object().unwrap()).unwrap();
        assert_eq!(again.streams, r.streams);
    }

    #[test]
    fn results_without_required_fields_name_the_field() {
        let bad = |s: &str| Results::from_json(&parse_object("results", s.as_bytes()).unwrap());
        assert_eq!(
            bad(r#"{"cpu_util_total":0,"cpu_util_user":0,"cpu_util_system":0,"streams":[]}"#),
            Err(WireError::MissingField {
                what: "results",
                field: "sender_has_retransmits"
            })
        );
        assert_eq!(
            bad(
                r#"{"cpu_util_total":0,"cpu_util_user":0,"cpu_util_system":0,"sender_has_retransmits":0,"streams":[{"id":1,"bytes":-5,"retransmits":0,"jitter":0,"errors":0,"packets":0}]}"#
            ),
            Err(WireError::MissingField {
                what: "results",
                field: "bytes"
            })
        );
        assert!(matches!(
            parse_object("results", br#"{"cpu_util_total":"#),
            Err(WireError::BadJson { .. })
        ));
        assert!(matches!(
            parse_object("results", b"[1,2]"),
            Err(WireError::BadJson { .. })
        ));
    }

    #[test]
    fn stream_ids_follow_iperf3() {
        let ids: Vec<u32> = (0..4).map(stream_id).collect();
        assert_eq!(ids, [1, 3, 4, 5]);
    }

    #[test]
    fn udp_connect_messages_are_told_apart_and_legacy_ones_accepted() {
        assert_eq!(&udp_connect_msg(), &0x3637_3839u32.to_ne_bytes());
        assert!(is_udp_connect_msg(&udp_connect_msg()));
        assert!(is_udp_connect_msg(&123_456_789u32.to_le_bytes()));
        assert!(is_udp_connect_reply(&udp_connect_reply()));
        assert!(is_udp_connect_reply(&987_654_321u32.to_be_bytes()));
        assert!(!is_udp_connect_reply(&udp_connect_msg()));
        assert!(!is_udp_connect_reply(b"98765"));
    }

    #[test]
    fn udp_header_round_trips_in_both_widths() {
        let h = UdpHeader {
            sec: 1_700_000_000,
            usec: 999_999,
            count: (1 << 33) + 5,
        };
        let mut buf = [0u8; 20];
        assert!(h.emit(&mut buf, true));
        assert_eq!(UdpHeader::parse(&buf, true), Ok(h));
        assert!(h.emit(&mut buf, false));
        assert_eq!(UdpHeader::parse(&buf, false).unwrap().count, 5);
        assert_eq!(&buf[8..12], &[0, 0, 0, 5]);
        assert_eq!(
            UdpHeader::parse(&buf[..13], true),
            Err(WireError::ShortDatagram { len: 13, need: 16 })
        );
        assert!(!h.emit(&mut [0u8; 11], false));
    }
}
