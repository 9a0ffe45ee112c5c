//! The responsiveness arithmetic of draft-ietf-ippm-responsiveness (§4.3,
//! "Aggregating the results"), with no I/O:
//!
//! ```text
//! Responsiveness = 60000 / (1/6 × (TM(tcp_f) + TM(tls_f) + TM(http_f)) + 1/2 × TM(http_s))
//! ```
//!
//! in round trips per minute, latencies in milliseconds, where `tcp_f`,
//! `tls_f` and `http_f` are the TCP handshake, TLS handshake and HTTP/2
//! request-response times of the *foreign* probes (each on a connection of
//! its own), `http_s` the request-response times of the *self* probes (on
//! the load-generating connections), and TM the trimmed mean: the mean of
//! the values at or below the 95th percentile. Here the lowest
//! `max(1, floor(0.95 × n))` values are kept, so of 20 samples the one
//! highest is dropped. A test over plain `http` has no TLS handshake; its
//! `tls_f` term is zero.

/// The probe latencies of one phase, in seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    /// Foreign probes' TCP handshakes.
    pub tcp_foreign: Vec<f64>,
    /// Foreign probes' TLS handshakes (empty over plain HTTP).
    pub tls_foreign: Vec<f64>,
    /// Foreign probes' HTTP request-response times.
    pub http_foreign: Vec<f64>,
    /// Self probes' HTTP request-response times on load connections.
    pub http_self: Vec<f64>,
}

/// The draft's trimming percentile.
pub const TRIM_PERCENTILE: f64 = 95.0;

/// The mean of the lowest `max(1, floor(n × percentile / 100))` values;
/// `None` for no values.
pub fn trimmed_mean(values: &[f64], percentile: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let keep = ((v.len() as f64 * percentile / 100.0).floor() as usize).clamp(1, v.len());
    Some(v[..keep].iter().sum::<f64>() / keep as f64)
}

impl Latencies {
    /// Round trips per minute; `None` without foreign TCP, foreign HTTP
    /// and self probes.
    pub fn rpm(&self) -> Option<f64> {
        let tm = |v: &[f64]| trimmed_mean(v, TRIM_PERCENTILE).map(|s| s * 1000.0);
        let tcp = tm(&self.tcp_foreign)?;
        let tls = tm(&self.tls_foreign).unwrap_or(0.0);
        let http_f = tm(&self.http_foreign)?;
        let http_s = tm(&self.http_self)?;
        let ms = (tcp + tls + http_f) / 6.0 + http_s / 2.0;
        (ms > 0.0).then(|| 60_000.0 / ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[f64]) -> Vec<f64> {
        v.iter().map(|x| x / 1000.0).collect()
    }

    #[test]
    fn trimmed_mean_drops_what_lies_above_the_95th_percentile() {
        let v: Vec<f64> = (10..30).map(f64::from).collect();
        // 20 values: the lowest 19 are kept, 10..=28, mean 19.
        assert_eq!(trimmed_mean(&v, 95.0), Some(19.0));
        // 10 values: floor(9.5) = 9 kept.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(trimmed_mean(&v, 95.0), Some(5.0));
        assert_eq!(trimmed_mean(&[7.0], 95.0), Some(7.0));
        assert_eq!(trimmed_mean(&[], 95.0), None);
    }

    #[test]
    fn draft_ippm_responsiveness_4_3_rpm_on_recorded_latencies() {
        // Recorded under load, in ms; each set has one outlier the trim
        // removes.
        let tcp: Vec<f64> = (10..30).map(f64::from).collect(); // TM 19
        let mut tls = vec![20.0; 19];
        tls.push(500.0); // TM 20
        let mut http_f = vec![30.0; 19];
        http_f.push(1000.0); // TM 30
        let mut http_s = vec![40.0; 19];
        http_s.push(900.0); // TM 40
        let l = Latencies {
            tcp_foreign: ms(&tcp),
            tls_foreign: ms(&tls),
            http_foreign: ms(&http_f),
            http_self: ms(&http_s),
        };
        // 60000 / ((19 + 20 + 30) / 6 + 40 / 2) = 60000 / 31.5 = 1904.76...
        let rpm = l.rpm().unwrap();
        assert!((rpm - 60_000.0 / 31.5).abs() < 1e-6, "{rpm}");
        // Plain HTTP: no TLS term. 60000 / ((19 + 30) / 6 + 20).
        let plain = Latencies {
            tls_foreign: Vec::new(),
            ..l.clone()
        };
        let want = 60_000.0 / (49.0 / 6.0 + 20.0);
        assert!((plain.rpm().unwrap() - want).abs() < 1e-6);
        assert_eq!(
            Latencies {
                http_self: Vec::new(),
                ..l
            }
            .rpm(),
            None
        );
    }
}
