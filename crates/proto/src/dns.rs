//! DNS names and record types as a plan writes them.
//!
//! A [`DnsName`] is ASCII labels of letters, digits, `-`, `_` (service
//! labels) and `*` (a wildcard owner), at most 63 bytes each and 253 in
//! all, always held fully qualified. A [`RecordType`] is a data type by
//! its mnemonic (`A`, `AAAA`, `TXT`, ...) or RFC 3597's `TYPEnnn`; the
//! meta types that are no question (`OPT`, `AXFR`, `IXFR`, `TSIG`, `TKEY`)
//! are refused. No I/O; never panics. The DNS probe turns these into its
//! wire library's types from labels and codes, without parsing text again.

use std::fmt;

use thiserror::Error;

/// A DNS name, fully qualified (kept with its final dot), letters kept as
/// written (names compare without case: [`DnsName::eq`]).
#[derive(Debug, Clone, Eq)]
pub struct DnsName {
    text: String,
}

/// Why a text is not a [`DnsName`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{text}` is not a DNS name: {why}")]
pub struct DnsNameError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl DnsName {
    /// Parses `www.cdn.test` or `www.cdn.test.`. The root (`.`) is refused:
    /// nothing a probe asks about lives there.
    pub fn parse(text: &str) -> Result<DnsName, DnsNameError> {
        let err = |why| DnsNameError {
            text: text.to_string(),
            why,
        };
        let bare = text.strip_suffix('.').unwrap_or(text);
        if bare.is_empty() {
            return Err(err("it is empty"));
        }
        if bare.len() > 253 {
            return Err(err("it is longer than 253 bytes"));
        }
        for label in bare.split('.') {
            if label.is_empty() {
                return Err(err("it has an empty label (`..`)"));
            }
            if label.len() > 63 {
                return Err(err("a label is longer than 63 bytes"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
            {
                return Err(err(
                    "labels are ASCII letters, digits, `-`, `_` and `*` only",
                ));
            }
        }
        Ok(DnsName {
            text: format!("{bare}."),
        })
    }

    /// The name with its final dot, `www.cdn.test.`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The labels, leftmost first, without the root.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.text[..self.text.len() - 1].split('.')
    }
}

impl PartialEq for DnsName {
    fn eq(&self, other: &DnsName) -> bool {
        self.text.eq_ignore_ascii_case(&other.text)
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A record type a question may ask for: its 16-bit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordType(u16);

/// Data types by mnemonic (IANA's registry), the ones a lab meets.
const TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("NULL", 10),
    ("PTR", 12),
    ("HINFO", 13),
    ("MX", 15),
    ("TXT", 16),
    ("RP", 17),
    ("AFSDB", 18),
    ("SIG", 24),
    ("KEY", 25),
    ("AAAA", 28),
    ("LOC", 29),
    ("SRV", 33),
    ("NAPTR", 35),
    ("KX", 36),
    ("CERT", 37),
    ("DNAME", 39),
    ("APL", 42),
    ("DS", 43),
    ("SSHFP", 44),
    ("IPSECKEY", 45),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("DHCID", 49),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("TLSA", 52),
    ("SMIMEA", 53),
    ("HIP", 55),
    ("CDS", 59),
    ("CDNSKEY", 60),
    ("OPENPGPKEY", 61),
    ("CSYNC", 62),
    ("ZONEMD", 63),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("SPF", 99),
    ("ANY", 255),
    ("CAA", 257),
];

/// Meta types: no question a probe can ask (RFC 6895 section 3.1).
const META: &[(&str, u16)] = &[
    ("OPT", 41),
    ("TKEY", 249),
    ("TSIG", 250),
    ("IXFR", 251),
    ("AXFR", 252),
];

/// Why a text is not a [`RecordType`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordTypeError {
    /// A meta type (`OPT`, `AXFR`, ...).
    #[error("`{0}` is a meta type, not a question a probe can ask")]
    Meta(String),
    /// Not a known mnemonic nor `TYPEnnn`.
    #[error("`{0}` is not a DNS record type")]
    Unknown(String),
}

impl RecordType {
    /// `A`.
    pub const A: RecordType = RecordType(1);
    /// `AAAA`.
    pub const AAAA: RecordType = RecordType(28);

    /// Parses a mnemonic in any case, or `TYPEnnn` (RFC 3597).
    pub fn parse(text: &str) -> Result<RecordType, RecordTypeError> {
        let upper = text.to_ascii_uppercase();
        let code = match TYPES.iter().chain(META).find(|(n, _)| *n == upper) {
            Some((_, c)) => Some(*c),
            None => upper
                .strip_prefix("TYPE")
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<u16>().ok()),
        };
        match code {
            Some(c) if META.iter().any(|(_, m)| *m == c) => {
                Err(RecordTypeError::Meta(text.to_string()))
            }
            Some(c) => Ok(RecordType(c)),
            None => Err(RecordTypeError::Unknown(text.to_string())),
        }
    }

    /// The type's code on the wire.
    pub fn code(self) -> u16 {
        self.0
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match TYPES.iter().find(|(_, c)| *c == self.0) {
            Some((n, _)) => f.write_str(n),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_fully_qualified_and_compare_without_case() {
        let n = DnsName::parse("WWW.cdn.test").unwrap();
        assert_eq!(n.as_str(), "WWW.cdn.test.");
        assert_eq!(n.labels().collect::<Vec<_>>(), ["WWW", "cdn", "test"]);
        assert_eq!(n, DnsName::parse("www.cdn.test.").unwrap());
        assert!(DnsName::parse("_sip._tcp.x.test").is_ok());
        assert!(DnsName::parse("*.x.test").is_ok());
        let long_label = "a".repeat(64);
        let long_name = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(62),
        ]
        .join(".");
        for bad in [
            "",
            ".",
            "a..b",
            "a b.test",
            "h\u{e9}.test",
            &long_label,
            &long_name,
        ] {
            assert!(DnsName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            DnsName::parse("a..b").unwrap_err().to_string(),
            "`a..b` is not a DNS name: it has an empty label (`..`)"
        );
    }

    #[test]
    fn names_and_types_print_as_they_parse() {
        for text in ["www.cdn.test.", "_sip._tcp.x.test.", "*.x.test."] {
            assert_eq!(DnsName::parse(text).unwrap().to_string(), text);
        }
        for (_, code) in TYPES {
            let t = RecordType(*code);
            assert_eq!(RecordType::parse(&t.to_string()).unwrap(), t);
        }
    }

    #[test]
    fn record_types_by_mnemonic_or_number() {
        assert_eq!(RecordType::parse("aaaa").unwrap(), RecordType::AAAA);
        assert_eq!(RecordType::parse("HTTPS").unwrap().code(), 65);
        assert_eq!(RecordType::parse("TYPE65").unwrap().to_string(), "HTTPS");
        assert_eq!(
            RecordType::parse("type4000").unwrap().to_string(),
            "TYPE4000"
        );
        assert!(matches!(
            RecordType::parse("AXFR"),
            Err(RecordTypeError::Meta(_))
        ));
        assert!(matches!(
            RecordType::parse("TYPE41"),
            Err(RecordTypeError::Meta(_))
        ));
        for bad in ["", "AA", "TYPE", "TYPE99999", "TYPE-1"] {
            assert!(
                matches!(RecordType::parse(bad), Err(RecordTypeError::Unknown(_))),
                "{bad}"
            );
        }
    }
}
