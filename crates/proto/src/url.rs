//! The part of a URL an HTTP probe needs: scheme, host, port and path.
//!
//! Deliberately small: a probe target is `http://HOST[:PORT][/PATH]` or
//! `https://...`, where HOST is a name, an IPv4 address or a bracketed IPv6
//! address. User info, fragments and non-ASCII hosts are refused rather
//! than half-understood. Parsing does no I/O and never panics; an error
//! says which bytes of the text are wrong ([`UrlError::at`]), so the plan
//! can point at the part of the URL, not only the whole string.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use thiserror::Error;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Cleartext HTTP (HTTP/2 only with prior knowledge).
    Http,
    /// HTTP over TLS (HTTP/2 by ALPN).
    Https,
}

impl Scheme {
    /// The scheme's name as written in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// The host part of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A literal address (IPv6 written in brackets in the URL).
    Addr(IpAddr),
    /// A name, lower-cased (names compare without case).
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Addr(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Addr(a) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A parsed probe URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Where the URL points (and, unless overridden, the Host header and SNI).
    pub host: Host,
    /// Where the host is in the text the URL was parsed from (without
    /// brackets), so a checker can point at it.
    pub host_at: Range<usize>,
    /// The port, the scheme's default when the URL has none.
    pub port: u16,
    /// Whether the URL wrote its port (a Host header then carries it).
    pub explicit_port: bool,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// The Host header value the URL implies (`name`, `name:port`, `[::1]:8443`).
    pub fn authority(&self) -> String {
        if self.explicit_port && self.port != self.scheme.default_port() {
            format!("{}:{}", self.host, self.port)
        } else {
            self.host.to_string()
        }
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::Https
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority(),
            self.path
        )
    }
}

/// Why a text is not a URL a probe can use. Each variant knows the bytes
/// of the text it is about ([`UrlError::at`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    /// Neither `http://` nor `https://`.
    #[error("`{url}` is not an http:// or https:// URL")]
    Scheme {
        /// The URL as given.
        url: String,
    },
    /// Empty host, user info, bad brackets, non-ASCII or spaces.
    #[error("`{url}` has no usable host: {why}")]
    Host {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
        /// The bytes at fault.
        at: Range<usize>,
    },
    /// A port that is not 1..=65535.
    #[error("`{port}` is not a port (in `{url}`)")]
    Port {
        /// The URL as given.
        url: String,
        /// The port text.
        port: String,
        /// The bytes at fault.
        at: Range<usize>,
    },
    /// Spaces or control characters in the path, or a fragment.
    #[error("the path of `{url}` is not usable: {why}")]
    Path {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
        /// The bytes at fault.
        at: Range<usize>,
    },
}

impl UrlError {
    /// The bytes of the parsed text the error is about.
    pub fn at(&self) -> Range<usize> {
        match self {
            UrlError::Scheme { url } => 0..url.len(),
            UrlError::Host { at, .. } | UrlError::Port { at, .. } | UrlError::Path { at, .. } => {
                at.clone()
            }
        }
    }

    /// A short label for the bytes at fault (for a diagnostic's underline).
    pub fn label(&self) -> &'static str {
        match self {
            UrlError::Scheme { .. } => "expected a URL",
            UrlError::Host { .. } => "bad host",
            UrlError::Port { .. } => "invalid port",
            UrlError::Path { .. } => "invalid path",
        }
    }
}

impl Url {
    /// Parses `http[s]://HOST[:PORT][/PATH[?QUERY]]` (the scheme in any case).
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let url = || text.to_string();
        let (scheme, start) = if strip_prefix_ci(text, "https://").is_some() {
            (Scheme::Https, 8)
        } else if strip_prefix_ci(text, "http://").is_some() {
            (Scheme::Http, 7)
        } else {
            return Err(UrlError::Scheme { url: url() });
        };
        let rest = &text[start..];
        let end = rest.find(['/', '?']).map_or(text.len(), |i| start + i);
        let authority = &text[start..end];
        // An empty authority is pointed at by the byte after it, or by the
        // whole text when nothing follows.
        let whole = match (start == end, end < text.len()) {
            (false, _) => start..end,
            (true, true) => end..end + 1,
            (true, false) => 0..text.len(),
        };
        let host_err = |why, at| UrlError::Host {
            url: url(),
            why,
            at,
        };
        if authority.contains('@') {
            return Err(host_err("user info (`user@`) is not supported", whole));
        }
        let (host, host_at, port_text) = if let Some(inner) = authority.strip_prefix('[') {
            let close = inner
                .find(']')
                .ok_or_else(|| host_err("unclosed `[`", whole.clone()))?;
            let at = start + 1..start + 1 + close;
            let ip: Ipv6Addr = inner[..close]
                .parse()
                .map_err(|_| host_err("the bracketed part is not an IPv6 address", at.clone()))?;
            let after = &inner[close + 1..];
            let port = match after {
                "" => None,
                p => Some((
                    p.strip_prefix(':')
                        .ok_or_else(|| host_err("text after `]` is not `:PORT`", whole.clone()))?,
                    start + close + 3,
                )),
            };
            (Host::Addr(IpAddr::V6(ip)), at, port)
        } else {
            let (h, p) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some((p, start + h.len() + 1))),
                None => (authority, None),
            };
            let at = start..start + h.len();
            if h.is_empty() {
                return Err(host_err("the host is empty", whole));
            }
            if h.contains(':') {
                return Err(host_err("write IPv6 addresses in brackets, `[::1]`", at));
            }
            if !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            {
                return Err(host_err(
                    "only ASCII letters, digits, `-`, `_` and `.` are allowed",
                    at,
                ));
            }
            let host = match h.parse::<Ipv4Addr>() {
                Ok(a) => Host::Addr(IpAddr::V4(a)),
                Err(_) => Host::Name(h.to_ascii_lowercase()),
            };
            (host, at, p)
        };
        let port = match port_text {
            None => None,
            Some((p, at)) => match p.parse::<u16>() {
                Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => {
                    return Err(UrlError::Port {
                        url: url(),
                        port: p.to_string(),
                        at: at..end,
                    });
                }
            },
        };
        let path = &text[end..];
        let path_err = |why| UrlError::Path {
            url: url(),
            why,
            at: end..text.len(),
        };
        if path.contains('#') {
            return Err(path_err("a fragment (`#...`) is never sent to a server"));
        }
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(path_err(
                "spaces and control characters must be percent-encoded",
            ));
        }
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Url {
            scheme,
            host,
            host_at,
            port: port.unwrap_or(scheme.default_port()),
            explicit_port: port.is_some(),
            path,
        })
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_addresses_ports_and_paths() {
        let u = Url::parse("https://Site-A.test:8443/x?y=1").unwrap();
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.host, Host::Name("site-a.test".into()));
        assert_eq!(u.host_at, 8..19);
        assert_eq!(u.port, 8443);
        assert_eq!(u.path, "/x?y=1");
        assert_eq!(u.authority(), "site-a.test:8443");

        let u = Url::parse("http://198.18.0.4").unwrap();
        assert_eq!(u.host, Host::Addr("198.18.0.4".parse().unwrap()));
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert_eq!(u.authority(), "198.18.0.4");

        let u = Url::parse("https://[::1]:443?q").unwrap();
        assert_eq!(u.host, Host::Addr("::1".parse().unwrap()));
        assert_eq!(u.host_at, 9..12);
        assert_eq!(u.path, "/?q");
        assert_eq!(u.to_string(), "https://[::1]/?q");

        let u = Url::parse("HTTP://x:8080").unwrap();
        assert_eq!((u.scheme, u.authority()), (Scheme::Http, "x:8080".into()));
    }

    #[test]
    fn refuses_what_it_cannot_probe() {
        for bad in [
            "ftp://x/",
            "https://",
            "https://u@x/",
            "https://[::1/",
            "https://[nope]/",
            "https://[::1]x/",
            "https://::1/",
            "https://x:0/",
            "https://x:99999/",
            "https://x:+80/",
            "https://x/a b",
            "https://x/#frag",
            "https://h\u{e9}te/",
            "h",
        ] {
            let e = Url::parse(bad).unwrap_err();
            let at = e.at();
            assert!(at.start < at.end && at.end <= bad.len(), "{bad}: {at:?}");
        }
        let e = Url::parse("https://x:http/").unwrap_err();
        assert_eq!(e.to_string(), "`http` is not a port (in `https://x:http/`)");
        assert_eq!(e.at(), 10..14);
        let e = Url::parse("https://x/a b").unwrap_err();
        assert_eq!((e.at(), e.label()), (9..13, "invalid path"));
        let e = Url::parse("https://[nope]/").unwrap_err();
        assert_eq!(e.at(), 9..13);
    }

    #[test]
    fn printing_gives_a_url_that_parses_back_to_the_same_target() {
        for text in [
            "https://Site-A.test:8443/x?y=1",
            "http://198.18.0.4",
            "https://[2001:2::1]:443?q",
            "HTTP://x:80/a/b",
            "https://[::1]:8443/",
        ] {
            let u = Url::parse(text).unwrap();
            let again = Url::parse(&u.to_string()).unwrap();
            assert_eq!(
                (
                    again.scheme,
                    &again.host,
                    again.port,
                    &again.path,
                    again.authority()
                ),
                (u.scheme, &u.host, u.port, &u.path, u.authority()),
                "{text}"
            );
            assert_eq!(again.to_string(), u.to_string());
        }
    }

    #[test]
    fn never_panics_on_any_prefix_of_a_url() {
        let text = "https://[2001:2::1]:8443/a?b=c";
        for i in 0..=text.len() {
            let _ = Url::parse(&text[..i]);
        }
        let text = "http://h\u{e9}:1/\u{e9}";
        for (i, _) in text.char_indices() {
            let _ = Url::parse(&text[..i]);
        }
    }
}
