//! What one HTTP request measured, and the samples it becomes.
//!
//! Sans-IO: the client fills a [`RequestReport`] as the request goes
//! through its phases; [`RequestReport::samples`] turns it into samples.
//! A phase that failed becomes a failed sample of that phase's metric with
//! the reason in `error` and the phase in `phase`, and `http.total` is then
//! failed too, so `success_ratio(http.total)` counts every failure and no
//! later phase that never happened is recorded as zero.

use std::fmt;
use std::time::Duration;

use netproof_sample::metric::{
    HTTP_BYTES, HTTP_CERT_EXPIRY, HTTP_CERT_NAMES, HTTP_CONNECT, HTTP_DNS, HTTP_GOODPUT,
    HTTP_STATUS, HTTP_TLS, HTTP_TOTAL, HTTP_TRANSFER, HTTP_TTFB,
};
use netproof_sample::{Labels, Metric, Sample, Timestamp, Value};

use super::tls::CertInfo;
use crate::udp_echo::client::{failed, with_labels};

/// The phases of a request, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Resolving the target's name.
    Dns,
    /// The TCP handshake.
    Connect,
    /// The TLS handshake, certificate verification and ALPN.
    Tls,
    /// Sending the request and reading the status line and headers
    /// (HTTP/2: the connection preface too).
    Response,
    /// Reading the body.
    Body,
    /// Checking a byte range or the content against expectations.
    Verify,
}

impl Phase {
    /// The name used in the `phase` label and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Response => "response",
            Phase::Body => "body",
            Phase::Verify => "verify",
        }
    }
}

/// Why a request failed: the phase and a reason that reads as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Where it failed.
    pub phase: Phase,
    /// Why, e.g. `received fatal alert: HandshakeFailure`.
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.phase.as_str(), self.reason)
    }
}

/// The protocol a response came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2.
    Http2,
}

impl Proto {
    /// `http/1.1` or `h2`, the ALPN names.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Http1 => "http/1.1",
            Proto::Http2 => "h2",
        }
    }
}

/// Everything one request measured. Durations are `None` for phases that
/// did not happen (no DNS for an address, no TLS for `http`) or did not
/// finish.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestReport {
    /// When the request started (wall clock).
    pub time: Timestamp,
    /// The address connected to, once known.
    pub addr: Option<std::net::SocketAddr>,
    /// Name resolution time, when a name was resolved.
    pub dns: Option<Duration>,
    /// TCP handshake time.
    pub connect: Option<Duration>,
    /// TLS handshake time (`https` only).
    pub tls: Option<Duration>,
    /// The certificate the server presented, even when it failed
    /// verification.
    pub cert: Option<CertInfo>,
    /// The protocol negotiated.
    pub proto: Option<Proto>,
    /// From sending the request to the response head.
    pub ttfb: Option<Duration>,
    /// The response status.
    pub status: Option<u16>,
    /// From the response head to the end of the body.
    pub transfer: Option<Duration>,
    /// Body bytes received (so far, when the body failed).
    pub bytes: u64,
    /// From the start to the end of the body.
    pub total: Option<Duration>,
    /// The first failure, if any.
    pub failure: Option<Failure>,
    /// The response's headers (names in lower case; values that are not
    /// text left out).
    pub headers: Vec<(String, String)>,
}

impl RequestReport {
    /// An empty report stamped `time`.
    pub fn new(time: Timestamp) -> Self {
        RequestReport {
            time,
            addr: None,
            dns: None,
            connect: None,
            tls: None,
            cert: None,
            proto: None,
            ttfb: None,
            status: None,
            transfer: None,
            bytes: 0,
            total: None,
            failure: None,
            headers: Vec::new(),
        }
    }

    /// Whether the request got a whole response that passed its checks.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// Goodput: body bits over the time from sending the request to the
    /// last byte (`ttfb + transfer`); connection setup is not included.
    pub fn goodput(&self) -> Option<f64> {
        let t = (self.ttfb? + self.transfer?).as_secs_f64();
        (t > 0.0).then(|| self.bytes as f64 * 8.0 / t)
    }

    /// The samples of this request. `now_unix` is the current time in
    /// seconds since the epoch, for the certificate's remaining validity.
    /// `https` says whether a TLS phase belongs to the request.
    pub fn samples(&self, labels: &Labels, https: bool, now_unix: i64) -> Vec<Sample> {
        let mut labels = labels.clone();
        if let Some(a) = self.addr {
            labels.entry("addr".into()).or_insert(a.to_string());
        }
        if let Some(p) = self.proto {
            labels.insert("proto".into(), p.as_str().into());
        }
        let fail_phase = self.failure.as_ref().map(|f| f.phase);
        let mut out = Vec::new();
        let mut phase = |metric: &Metric, value: Option<Duration>, phase: Phase| {
            let s = match (value, fail_phase) {
                (Some(v), _) => with_labels(Sample::num(metric, v.as_secs_f64()), &labels),
                (None, Some(p)) if p == phase => self.failed(metric, &labels),
                (None, _) => return,
            };
            out.push(s.at(self.time));
        };
        phase(&HTTP_DNS, self.dns, Phase::Dns);
        phase(&HTTP_CONNECT, self.connect, Phase::Connect);
        if https {
            phase(&HTTP_TLS, self.tls, Phase::Tls);
        }
        phase(&HTTP_TTFB, self.ttfb, Phase::Response);
        phase(&HTTP_TRANSFER, self.transfer, Phase::Body);
        if let Some(c) = &self.cert {
            for s in out.iter_mut().filter(|s| s.metric == HTTP_TLS.name) {
                s.labels.insert("cert_subject".into(), c.subject.clone());
                s.labels.insert("cert_issuer".into(), c.issuer.clone());
                s.labels.insert("cert_names".into(), c.names.join(","));
                s.labels
                    .insert("cert_not_after".into(), c.not_after_text.clone());
            }
            let names = Sample {
                value: Value::set(c.names.iter().cloned()),
                ..Sample::num(&HTTP_CERT_NAMES, 0.0)
            };
            out.push(
                with_labels(names, &labels)
                    .label("cert_subject", &c.subject)
                    .at(self.time),
            );
            out.push(
                with_labels(
                    Sample::num(&HTTP_CERT_EXPIRY, (c.not_after - now_unix) as f64),
                    &labels,
                )
                .label("cert_not_after", &c.not_after_text)
                .at(self.time),
            );
        }
        if let Some(status) = self.status {
            out.push(
                with_labels(Sample::num(&HTTP_STATUS, f64::from(status)), &labels)
                    .with_ok(status < 400)
                    .at(self.time),
            );
        }
        if self.transfer.is_some() || matches!(fail_phase, Some(Phase::Body | Phase::Verify)) {
            let b = with_labels(Sample::num(&HTTP_BYTES, self.bytes as f64), &labels).at(self.time);
            // Bytes of a failed body are what arrived before the failure:
            // a value, but not a successful one.
            out.push(match &self.failure {
                Some(f) => b.with_ok(false).label("error", &f.reason),
                None => b,
            });
        }
        if self.ok()
            && let Some(g) = self.goodput()
        {
            out.push(with_labels(Sample::num(&HTTP_GOODPUT, g), &labels).at(self.time));
        }
        match (&self.failure, self.total) {
            (None, Some(t)) => out.push(
                with_labels(Sample::num(&HTTP_TOTAL, t.as_secs_f64()), &labels).at(self.time),
            ),
            _ => out.push(self.failed(&HTTP_TOTAL, &labels).at(self.time)),
        }
        out
    }

    fn failed(&self, metric: &Metric, labels: &Labels) -> Sample {
        match &self.failure {
            Some(f) => failed(metric, labels, &f.reason).label("phase", f.phase.as_str()),
            None => failed(metric, labels, "unfinished"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    fn find<'a>(s: &'a [Sample], m: &Metric) -> &'a Sample {
        s.iter()
            .find(|x| x.metric == m.name)
            .unwrap_or_else(|| panic!("no {}", m.name))
    }

    #[test]
    fn a_whole_https_request_has_every_phase() {
        let r = RequestReport {
            addr: Some("127.0.0.1:8443".parse().unwrap()),
            connect: ms(1),
            tls: ms(2),
            cert: Some(CertInfo {
                subject: "CN=a.test".into(),
                issuer: "CN=lab CA".into(),
                names: vec!["a.test".into()],
                not_after: 1000,
                not_after_text: "x".into(),
            }),
            proto: Some(Proto::Http2),
            ttfb: ms(3),
            status: Some(200),
            transfer: ms(1),
            bytes: 1000,
            total: ms(7),
            ..RequestReport::new(Timestamp(5))
        };
        let s = r.samples(&Labels::new(), true, 400);
        let names: Vec<&str> = s.iter().map(|x| x.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "http.connect",
                "http.tls",
                "http.ttfb",
                "http.transfer",
                "http.cert_names",
                "http.cert_expiry",
                "http.status",
                "http.bytes",
                "http.goodput",
                "http.total"
            ]
        );
        assert!(s.iter().all(|x| x.ok && x.time == Timestamp(5)));
        assert_eq!(find(&s, &HTTP_TLS).labels["cert_subject"], "CN=a.test");
        assert_eq!(find(&s, &HTTP_TLS).labels["proto"], "h2");
        assert_eq!(
            find(&s, &HTTP_CERT_NAMES).value,
            Value::Set(vec!["a.test".into()])
        );
        assert_eq!(find(&s, &HTTP_CERT_EXPIRY).value, Value::Num(600.0));
        assert_eq!(find(&s, &HTTP_GOODPUT).value, Value::Num(2_000_000.0));
        assert_eq!(find(&s, &HTTP_TOTAL).value, Value::Num(0.007));
    }

    #[test]
    fn a_failed_phase_is_failed_and_later_phases_are_absent() {
        let r = RequestReport {
            connect: ms(1),
            failure: Some(Failure {
                phase: Phase::Tls,
                reason: "received fatal alert: HandshakeFailure".into(),
            }),
            ..RequestReport::new(Timestamp(0))
        };
        let s = r.samples(&Labels::new(), true, 0);
        let names: Vec<&str> = s.iter().map(|x| x.metric.as_str()).collect();
        assert_eq!(names, ["http.connect", "http.tls", "http.total"]);
        let tls = find(&s, &HTTP_TLS);
        assert!(!tls.ok);
        assert_eq!(tls.value, Value::None);
        assert_eq!(
            tls.labels["error"],
            "received fatal alert: HandshakeFailure"
        );
        assert_eq!(tls.labels["phase"], "tls");
        assert!(!find(&s, &HTTP_TOTAL).ok);
    }

    #[test]
    fn a_truncated_body_keeps_its_bytes_as_a_failed_value() {
        let r = RequestReport {
            connect: ms(1),
            ttfb: ms(1),
            status: Some(200),
            bytes: 10,
            failure: Some(Failure {
                phase: Phase::Body,
                reason: "the body ended early".into(),
            }),
            ..RequestReport::new(Timestamp(0))
        };
        let s = r.samples(&Labels::new(), false, 0);
        let b = find(&s, &HTTP_BYTES);
        assert_eq!((b.value.clone(), b.ok), (Value::Num(10.0), false));
        assert!(!find(&s, &HTTP_TRANSFER).ok);
        assert!(s.iter().all(|x| x.metric != HTTP_GOODPUT.name));
        assert!(s.iter().all(|x| x.metric != HTTP_TLS.name));
    }

    #[test]
    fn an_error_status_is_a_value_that_is_not_ok() {
        let r = RequestReport {
            status: Some(404),
            ..RequestReport::new(Timestamp(0))
        };
        let s = r.samples(&Labels::new(), false, 0);
        let st = find(&s, &HTTP_STATUS);
        assert_eq!((st.value.clone(), st.ok), (Value::Num(404.0), false));
    }
}
