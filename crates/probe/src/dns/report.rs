//! What one DNS query measured, and the samples it becomes.
//!
//! Sans-IO: the client fills a [`QueryReport`]; [`QueryReport::samples`]
//! turns it into samples. A query without a usable answer becomes failed
//! `dns.latency` and `dns.answer` samples with the reason in `error`, so
//! `success_ratio(dns.latency)` counts every failure and no answer that
//! never came is recorded as an empty one.

use std::time::Duration;

use netproof_sample::metric::{DNS_ANSWER, DNS_ANSWERS, DNS_LATENCY, DNS_RCODE, DNS_TTL};
use netproof_sample::{Labels, Sample, Timestamp, Value};

use super::wire::Response;
use crate::udp_echo::client::{failed, with_labels};

/// The transport a query (or its final answer) went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP, with retries on timeout and TCP after a truncated answer.
    Udp,
    /// TCP with the two-byte length prefix, one connection per query.
    Tcp,
}

impl Transport {
    /// `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Everything one query measured.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryReport {
    /// When the query was first sent (wall clock).
    pub time: Timestamp,
    /// The query's id.
    pub id: u16,
    /// The transport of the final answer (or of the last try).
    pub transport: Transport,
    /// UDP datagrams sent for this query (retries after a timeout count).
    pub udp_tries: u32,
    /// Set when a truncated UDP answer (TC bit) made the query go again
    /// over TCP.
    pub tcp_retry: bool,
    /// From the first send to the whole final answer.
    pub latency: Option<Duration>,
    /// The answer.
    pub response: Option<Response>,
    /// Why there is no usable answer.
    pub failure: Option<String>,
}

impl QueryReport {
    /// An empty report of query `id`, stamped `time`.
    pub fn new(time: Timestamp, id: u16, transport: Transport) -> Self {
        QueryReport {
            time,
            id,
            transport,
            udp_tries: 0,
            tcp_retry: false,
            latency: None,
            response: None,
            failure: None,
        }
    }

    /// Whether an answer came with rcode NOERROR.
    pub fn ok(&self) -> bool {
        self.failure.is_none() && self.response.as_ref().is_some_and(Response::ok)
    }

    /// The answer's record data, sorted and without duplicates.
    pub fn answer_set(&self) -> Vec<String> {
        match Value::set(
            self.response
                .iter()
                .flat_map(|r| r.answers.iter().map(|a| a.data.clone())),
        ) {
            Value::Set(v) => v,
            _ => Vec::new(),
        }
    }

    /// The samples of this query, each carrying `labels` plus `transport`,
    /// and once answered `rcode`, `flags` (dig's notation, e.g. `aa rd`),
    /// `aa`, `tc`, `rd`, `ra`, `ad` (`true`/`false`), `scope` (the ECS
    /// scope prefix length the server returned, when it returned one),
    /// `answer` (the record data joined by commas) and `tcp_retry` when the
    /// answer came over TCP after a truncated UDP one.
    pub fn samples(&self, labels: &Labels) -> Vec<Sample> {
        let mut labels = labels.clone();
        labels.insert("transport".into(), self.transport.as_str().into());
        if self.transport == Transport::Udp || self.tcp_retry {
            labels.insert("udp_tries".into(), self.udp_tries.to_string());
        }
        if self.tcp_retry {
            labels.insert("tcp_retry".into(), "true".into());
        }
        let (Some(r), Some(latency), None) = (&self.response, self.latency, &self.failure) else {
            let why = self.failure.as_deref().unwrap_or("no answer");
            return vec![
                failed(&DNS_LATENCY, &labels, why).at(self.time),
                failed(&DNS_ANSWER, &labels, why).at(self.time),
            ];
        };
        let set = self.answer_set();
        labels.insert("rcode".into(), r.rcode.clone());
        labels.insert("flags".into(), r.flags.text());
        for (name, on) in [
            ("aa", r.flags.aa),
            ("tc", r.flags.tc),
            ("rd", r.flags.rd),
            ("ra", r.flags.ra),
            ("ad", r.flags.ad),
        ] {
            labels.insert(name.into(), on.to_string());
        }
        if let Some(e) = &r.ecs {
            labels.insert("scope".into(), e.scope.to_string());
        }
        labels.insert("answer".into(), set.join(","));
        let ok = r.ok();
        let mut out = vec![
            with_labels(Sample::num(&DNS_LATENCY, latency.as_secs_f64()), &labels),
            with_labels(
                Sample {
                    value: Value::Text(r.rcode.clone()),
                    ..Sample::num(&DNS_RCODE, 0.0)
                },
                &labels,
            )
            .with_ok(ok),
            with_labels(
                Sample {
                    value: Value::Set(set),
                    ..Sample::num(&DNS_ANSWER, 0.0)
                },
                &labels,
            )
            .with_ok(ok),
            with_labels(Sample::num(&DNS_ANSWERS, r.answers.len() as f64), &labels),
        ];
        if let Some(ttl) = r.min_ttl() {
            out.push(with_labels(Sample::num(&DNS_TTL, f64::from(ttl)), &labels));
        }
        out.into_iter().map(|s| s.at(self.time)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::wire::{EcsEcho, Flags, Record};
    use netproof_sample::Metric;

    fn find<'a>(s: &'a [Sample], m: &Metric) -> &'a Sample {
        s.iter()
            .find(|x| x.metric == m.name)
            .unwrap_or_else(|| panic!("no {}", m.name))
    }

    fn record(data: &str, ttl: u32) -> Record {
        Record {
            name: "www.cdn.test.".into(),
            rtype: "A".into(),
            ttl,
            data: data.into(),
        }
    }

    #[test]
    fn an_answer_becomes_every_metric_with_its_labels() {
        let r = QueryReport {
            latency: Some(Duration::from_micros(300)),
            udp_tries: 1,
            response: Some(Response {
                id: 1,
                rcode: "NOERROR".into(),
                flags: Flags {
                    aa: true,
                    rd: true,
                    ..Flags::default()
                },
                answers: vec![record("198.18.10.2", 30), record("198.18.10.1", 20)],
                authorities: 0,
                ecs: Some(EcsEcho {
                    source: None,
                    scope: 24,
                }),
                edns: true,
            }),
            ..QueryReport::new(Timestamp(9), 1, Transport::Udp)
        };
        let mut labels = Labels::new();
        labels.insert("subnet".into(), "198.18.4.0/24".into());
        let s = r.samples(&labels);
        let names: Vec<&str> = s.iter().map(|x| x.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "dns.latency",
                "dns.rcode",
                "dns.answer",
                "dns.answers",
                "dns.ttl"
            ]
        );
        assert!(s.iter().all(|x| x.ok && x.time == Timestamp(9)));
        let a = find(&s, &DNS_ANSWER);
        assert_eq!(
            a.value,
            Value::Set(vec!["198.18.10.1".into(), "198.18.10.2".into()])
        );
        assert_eq!(a.labels["answer"], "198.18.10.1,198.18.10.2");
        assert_eq!(a.labels["subnet"], "198.18.4.0/24");
        assert_eq!(a.labels["scope"], "24");
        assert_eq!(a.labels["aa"], "true");
        assert_eq!(a.labels["ra"], "false");
        assert_eq!(a.labels["flags"], "aa rd");
        assert_eq!(a.labels["transport"], "udp");
        assert_eq!(find(&s, &DNS_TTL).value, Value::Num(20.0));
        assert_eq!(find(&s, &DNS_ANSWERS).value, Value::Num(2.0));
        assert_eq!(find(&s, &DNS_RCODE).value, Value::Text("NOERROR".into()));
        assert_eq!(find(&s, &DNS_LATENCY).value, Value::Num(0.0003));
    }

    #[test]
    fn a_negative_answer_has_no_ttl_and_is_not_ok() {
        let r = QueryReport {
            latency: Some(Duration::from_millis(1)),
            response: Some(Response {
                id: 1,
                rcode: "NXDOMAIN".into(),
                flags: Flags::default(),
                answers: vec![],
                authorities: 1,
                ecs: None,
                edns: true,
            }),
            ..QueryReport::new(Timestamp(0), 1, Transport::Tcp)
        };
        let s = r.samples(&Labels::new());
        assert!(s.iter().all(|x| x.metric != DNS_TTL.name));
        assert!(!find(&s, &DNS_RCODE).ok);
        assert!(!find(&s, &DNS_ANSWER).ok);
        assert!(find(&s, &DNS_LATENCY).ok);
        assert_eq!(find(&s, &DNS_ANSWERS).value, Value::Num(0.0));
        assert!(!find(&s, &DNS_LATENCY).labels.contains_key("scope"));
    }

    #[test]
    fn a_failure_is_failed_samples_with_the_reason() {
        let r = QueryReport {
            failure: Some("the answer's id 0x0001 does not match the query's 0x0002".into()),
            ..QueryReport::new(Timestamp(0), 2, Transport::Tcp)
        };
        let s = r.samples(&Labels::new());
        assert_eq!(s.len(), 2);
        for x in &s {
            assert!(!x.ok);
            assert_eq!(x.value, Value::None);
            assert!(x.labels["error"].contains("does not match"));
        }
    }
}
