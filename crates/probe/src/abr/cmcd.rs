//! Common Media Client Data (CTA-5004): what the player tells the CDN
//! with each request, so an edge's access log can join a request to the
//! session, the buffer and the bitrate behind it.
//!
//! Keys written here: `br` (encoded bitrate, kbit/s), `bl` (buffer
//! length, ms, rounded to 100 ms), `bs` (buffer starvation since the last
//! request), `d` (object duration, ms), `mtp` (measured throughput,
//! kbit/s, rounded to 100), `ot` (object type: `v`, video), `sf`
//! (streaming format: `o` other, `d` DASH, `h` HLS), `sid` (session id),
//! `su` (startup: the buffer is being filled before play), `tb` (top
//! bitrate, kbit/s). CTA-5004 orders keys alphabetically, writes a true
//! boolean as the bare key and omits a false one, and quotes strings.
//! Sent either as one `CMCD=` query argument (percent-encoded) or as the
//! four headers `CMCD-Object`, `CMCD-Request`, `CMCD-Session` and
//! `CMCD-Status`, each with the keys the specification assigns it.

/// What one request reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmcd {
    /// Encoded bitrate of the object, kbit/s.
    pub br: u32,
    /// Buffer length, ms.
    pub bl: u64,
    /// The buffer ran dry since the previous request.
    pub bs: bool,
    /// Media duration of the object, ms.
    pub d: u64,
    /// Throughput the player measured, kbit/s (`None` before the first
    /// segment).
    pub mtp: Option<u64>,
    /// Streaming format token.
    pub sf: char,
    /// Session id.
    pub sid: String,
    /// The player is starting up (or rebuffering).
    pub su: bool,
    /// Top bitrate the player may choose, kbit/s.
    pub tb: u32,
}

/// Which header a key belongs in (CTA-5004 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shard {
    Object,
    Request,
    Session,
    Status,
}

impl Cmcd {
    /// The `(key, value)` pairs in CTA-5004's alphabetical order, values
    /// already encoded (`None` for a bare true boolean).
    fn pairs(&self) -> Vec<(&'static str, Option<String>, Shard)> {
        let round = |v: u64, to: u64| (v + to / 2) / to * to;
        let mut out = vec![
            ("bl", Some(round(self.bl, 100).to_string()), Shard::Request),
            ("br", Some(self.br.to_string()), Shard::Object),
        ];
        if self.bs {
            out.push(("bs", None, Shard::Status));
        }
        out.push(("d", Some(self.d.to_string()), Shard::Object));
        if let Some(m) = self.mtp {
            out.push(("mtp", Some(round(m, 100).to_string()), Shard::Request));
        }
        out.push(("ot", Some("v".into()), Shard::Object));
        out.push(("sf", Some(self.sf.to_string()), Shard::Session));
        out.push((
            "sid",
            Some(format!("\"{}\"", self.sid.replace(['"', '\\'], ""))),
            Shard::Session,
        ));
        if self.su {
            out.push(("su", None, Shard::Request));
        }
        out.push(("tb", Some(self.tb.to_string()), Shard::Object));
        out
    }

    /// The payload: `bl=2000,br=1500,d=2000,...`.
    pub fn payload(&self) -> String {
        join(self.pairs().into_iter().map(|(k, v, _)| (k, v)))
    }

    /// `CMCD=...` for a query string, percent-encoded as
    /// `encodeURIComponent` does.
    pub fn query(&self) -> String {
        format!("CMCD={}", percent_encode(&self.payload()))
    }

    /// Appends the query argument to `path` (after `?` or `&`).
    pub fn append_to(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}{}", self.query())
    }

    /// The four CMCD headers (a header with no keys is left out).
    pub fn headers(&self) -> Vec<(String, String)> {
        let pairs = self.pairs();
        [
            ("CMCD-Object", Shard::Object),
            ("CMCD-Request", Shard::Request),
            ("CMCD-Session", Shard::Session),
            ("CMCD-Status", Shard::Status),
        ]
        .into_iter()
        .filter_map(|(name, shard)| {
            let keys: Vec<_> = pairs
                .iter()
                .filter(|(_, _, s)| *s == shard)
                .map(|(k, v, _)| (*k, v.clone()))
                .collect();
            (!keys.is_empty()).then(|| (name.to_string(), join(keys.into_iter())))
        })
        .collect()
    }
}

fn join(pairs: impl Iterator<Item = (&'static str, Option<String>)>) -> String {
    pairs
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cmcd {
        Cmcd {
            br: 1500,
            bl: 4_049,
            bs: true,
            d: 2000,
            mtp: Some(25_432),
            sf: 'o',
            sid: "6e2fb550-c457-11e9-bb97-0800200c9a66".into(),
            su: false,
            tb: 4000,
        }
    }

    #[test]
    fn cta_5004_payload_is_sorted_rounded_and_bare_for_true() {
        assert_eq!(
            sample().payload(),
            "bl=4000,br=1500,bs,d=2000,mtp=25400,ot=v,sf=o,sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\",tb=4000"
        );
        let start = Cmcd {
            bs: false,
            su: true,
            mtp: None,
            ..sample()
        };
        assert!(
            start.payload().contains(",su,tb=4000"),
            "{}",
            start.payload()
        );
        assert!(!start.payload().contains("bs"));
    }

    #[test]
    fn cta_5004_query_form_is_percent_encoded() {
        let q = sample().append_to("/t/7/1500k/0003.m4s");
        assert!(
            q.starts_with("/t/7/1500k/0003.m4s?CMCD=bl%3D4000%2Cbr%3D1500%2Cbs%2Cd%3D2000"),
            "{q}"
        );
        assert!(q.contains("sid%3D%226e2fb550"), "{q}");
        assert!(sample().append_to("/a?x=1").starts_with("/a?x=1&CMCD="));
    }

    #[test]
    fn cta_5004_headers_carry_their_own_keys() {
        let h = sample().headers();
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("CMCD-Object"), Some("br=1500,d=2000,ot=v,tb=4000"));
        assert_eq!(get("CMCD-Request"), Some("bl=4000,mtp=25400"));
        assert_eq!(
            get("CMCD-Session"),
            Some("sf=o,sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\"")
        );
        assert_eq!(get("CMCD-Status"), Some("bs"));
    }
}
