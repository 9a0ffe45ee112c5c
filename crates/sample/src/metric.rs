//! The catalogue of metrics and their canonical units.
//!
//! Every metric a step can emit is listed in [`CATALOG`] with its one
//! canonical unit. The plan language checks expectations against this list
//! (a typo in a metric name is a plan error, not a silent "never measured"),
//! and converts thresholds written as people write them (`5ms`, `200Mbit`)
//! into the canonical unit before a run starts.

use serde::{Deserialize, Serialize};

/// The canonical unit of a metric. Numbers in samples are always in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Seconds (durations, latencies).
    Seconds,
    /// Bytes (sizes, volumes).
    Bytes,
    /// Bits per second (rates).
    BitsPerSecond,
    /// A fraction between 0 and 1 (loss, success ratio); `%` in thresholds.
    Ratio,
    /// A plain count or code (packets, exit codes, HTTP statuses).
    Count,
    /// A text or set value with no numeric unit (an answer, an error).
    Text,
}

impl Unit {
    /// The name stored in the database and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Bytes => "B",
            Unit::BitsPerSecond => "bit/s",
            Unit::Ratio => "ratio",
            Unit::Count => "count",
            Unit::Text => "text",
        }
    }

    /// Parses [`Unit::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<Unit> {
        Some(match name {
            "s" => Unit::Seconds,
            "B" => Unit::Bytes,
            "bit/s" => Unit::BitsPerSecond,
            "ratio" => Unit::Ratio,
            "count" => Unit::Count,
            "text" => Unit::Text,
            _ => return None,
        })
    }

    /// Formats a value of this unit the way an engineer would write it,
    /// with three significant digits: `4.21 ms`, `957 Mbit/s`, `1.50 MiB`,
    /// `99.9 %`.
    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return format!("{v}");
        }
        match self {
            Unit::Seconds => {
                let a = v.abs();
                if a == 0.0 {
                    "0 s".to_string()
                } else if a < 1e-6 {
                    format!("{} ns", sig3(v * 1e9))
                } else if a < 1e-3 {
                    format!("{} µs", sig3(v * 1e6))
                } else if a < 1.0 {
                    format!("{} ms", sig3(v * 1e3))
                } else {
                    format!("{} s", sig3(v))
                }
            }
            Unit::Bytes => {
                let a = v.abs();
                const K: f64 = 1024.0;
                if a < K {
                    format!("{} B", sig3(v))
                } else if a < K * K {
                    format!("{} KiB", sig3(v / K))
                } else if a < K * K * K {
                    format!("{} MiB", sig3(v / (K * K)))
                } else {
                    format!("{} GiB", sig3(v / (K * K * K)))
                }
            }
            Unit::BitsPerSecond => {
                let a = v.abs();
                if a < 1e3 {
                    format!("{} bit/s", sig3(v))
                } else if a < 1e6 {
                    format!("{} kbit/s", sig3(v / 1e3))
                } else if a < 1e9 {
                    format!("{} Mbit/s", sig3(v / 1e6))
                } else {
                    format!("{} Gbit/s", sig3(v / 1e9))
                }
            }
            Unit::Ratio => format!("{} %", sig3(v * 100.0)),
            Unit::Count => {
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    format!("{}", v as i64)
                } else {
                    sig3(v)
                }
            }
            Unit::Text => format!("{v}"),
        }
    }
}

/// Three significant digits, without scientific notation for everyday sizes.
fn sig3(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A catalogued metric: its name, unit and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The name used in samples and expectations, `<step kind>.<quantity>`.
    pub name: &'static str,
    /// The canonical unit.
    pub unit: Unit,
    /// One sentence for the docs and `--help`.
    pub description: &'static str,
    /// Which direction is an improvement, for `compare`.
    pub better: Better,
}

/// Which direction of change in a metric is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Smaller is better (latency, loss).
    Lower,
    /// Larger is better (throughput, success).
    Higher,
    /// Neither (a size, a code): changes are reported, never flagged.
    Neither,
}

/// `exec`: the command's exit code (ok when 0; no value when it timed out or
/// could not start).
pub const EXEC_EXIT_CODE: Metric = Metric {
    name: "exec.exit_code",
    unit: Unit::Count,
    description: "exit code of the command; ok when 0, no value when it timed out or could not start",
    better: Better::Neither,
};
/// `exec`: wall-clock time from start to exit.
pub const EXEC_DURATION: Metric = Metric {
    name: "exec.duration",
    unit: Unit::Seconds,
    description: "wall-clock time from start to exit (or to the timeout)",
    better: Better::Lower,
};
/// `exec`: bytes written to stdout.
pub const EXEC_STDOUT_BYTES: Metric = Metric {
    name: "exec.stdout_bytes",
    unit: Unit::Bytes,
    description: "bytes the command wrote to stdout",
    better: Better::Neither,
};
/// `exec`: the first line of stdout, as text.
pub const EXEC_STDOUT: Metric = Metric {
    name: "exec.stdout",
    unit: Unit::Text,
    description: "the command's stdout with surrounding whitespace trimmed (first 4 KiB)",
    better: Better::Neither,
};
/// `tcp_connect`: time for the TCP handshake to complete.
pub const TCP_CONNECT_LATENCY: Metric = Metric {
    name: "tcp_connect.latency",
    unit: Unit::Seconds,
    description: "time from connect() to an established connection; no value when the attempt failed",
    better: Better::Lower,
};

/// `udp_echo`: round-trip time of one echoed packet.
pub const UDP_ECHO_RTT: Metric = Metric {
    name: "udp_echo.rtt",
    unit: Unit::Seconds,
    description: "round-trip time of one packet to a netproof UDP echo responder and back; no value when it was lost",
    better: Better::Lower,
};
/// `udp_echo`: RFC 3550 interarrival jitter at the end of a series.
pub const UDP_ECHO_JITTER: Metric = Metric {
    name: "udp_echo.jitter",
    unit: Unit::Seconds,
    description: "RFC 3550 interarrival jitter of the replies, at the end of each series",
    better: Better::Lower,
};
/// `udp_echo`: share of packets lost in a series.
pub const UDP_ECHO_LOSS: Metric = Metric {
    name: "udp_echo.loss",
    unit: Unit::Ratio,
    description: "share of a series' packets whose reply never came back within the timeout",
    better: Better::Lower,
};
/// `udp_echo`: replies received more than once in a series.
pub const UDP_ECHO_DUPLICATES: Metric = Metric {
    name: "udp_echo.duplicates",
    unit: Unit::Count,
    description: "replies that arrived more than once in a series",
    better: Better::Lower,
};
/// `udp_echo`: replies that arrived after a later-sent one.
pub const UDP_ECHO_REORDERED: Metric = Metric {
    name: "udp_echo.reordered",
    unit: Unit::Count,
    description: "replies that arrived after a reply to a packet sent later, in a series",
    better: Better::Lower,
};

/// `ping`: round-trip time of one ICMP echo request.
pub const PING_RTT: Metric = Metric {
    name: "ping.rtt",
    unit: Unit::Seconds,
    description: "round-trip time of one ICMP echo request; no value when it was lost",
    better: Better::Lower,
};
/// `ping`: share of echo requests lost in a series.
pub const PING_LOSS: Metric = Metric {
    name: "ping.loss",
    unit: Unit::Ratio,
    description: "share of a series' echo requests with no reply within the wait",
    better: Better::Lower,
};

/// Every metric a step can emit today. Later step kinds add theirs here.
pub const CATALOG: &[Metric] = &[
    EXEC_EXIT_CODE,
    EXEC_DURATION,
    EXEC_STDOUT_BYTES,
    EXEC_STDOUT,
    TCP_CONNECT_LATENCY,
    UDP_ECHO_RTT,
    UDP_ECHO_JITTER,
    UDP_ECHO_LOSS,
    UDP_ECHO_DUPLICATES,
    UDP_ECHO_REORDERED,
    PING_RTT,
    PING_LOSS,
];

/// Looks a metric up by name.
pub fn lookup(name: &str) -> Option<&'static Metric> {
    CATALOG.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_like_an_engineer_writes() {
        assert_eq!(Unit::Seconds.format(0.004_213), "4.21 ms");
        assert_eq!(Unit::Seconds.format(0.000_012), "12.0 µs");
        assert_eq!(Unit::Seconds.format(1.5), "1.50 s");
        assert_eq!(Unit::BitsPerSecond.format(957e6), "957 Mbit/s");
        assert_eq!(Unit::Bytes.format(1.5 * 1024.0 * 1024.0), "1.50 MiB");
        assert_eq!(Unit::Ratio.format(0.999), "99.9 %");
        assert_eq!(Unit::Count.format(3.0), "3");
    }

    #[test]
    fn unit_names_round_trip() {
        for u in [
            Unit::Seconds,
            Unit::Bytes,
            Unit::BitsPerSecond,
            Unit::Ratio,
            Unit::Count,
            Unit::Text,
        ] {
            assert_eq!(Unit::from_name(u.as_str()), Some(u));
        }
    }

    #[test]
    fn catalogue_names_are_unique_and_kind_prefixed() {
        let mut names: Vec<_> = CATALOG.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        assert!(CATALOG.iter().all(|m| m.name.contains('.')));
    }
}
