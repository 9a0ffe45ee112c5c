//! The part of a URL an HTTP probe needs: scheme, host, port and path.
//!
//! Deliberately small: a probe target is `http://HOST[:PORT][/PATH]` or
//! `https://...`, where HOST is a name, an IPv4 address or a bracketed IPv6
//! address. User info, fragments and non-ASCII hosts are refused rather
//! than half-understood. Parsing does no I/O and never panics.

use std::fmt;
use std::net::IpAddr;

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
    /// A name, lower-cased.
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

/// Why a URL cannot be probed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    /// Neither `http://` nor `https://`.
    #[error("`{url}` does not start with `http://` or `https://`")]
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
    },
    /// A port that is not 1..=65535.
    #[error("`{url}` has an invalid port `{port}`")]
    Port {
        /// The URL as given.
        url: String,
        /// The port text.
        port: String,
    },
    /// Spaces or control characters in the path, or a fragment.
    #[error("`{url}` has an invalid path: {why}")]
    Path {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl Url {
    /// Parses `http[s]://HOST[:PORT][/PATH[?QUERY]]`.
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let url = || text.to_string();
        let (scheme, rest) = if let Some(r) = strip_prefix_ci(text, "https://") {
            (Scheme::Https, r)
        } else if let Some(r) = strip_prefix_ci(text, "http://") {
            (Scheme::Http, r)
        } else {
            return Err(UrlError::Scheme { url: url() });
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let host_err = |why| UrlError::Host { url: url(), why };
        if authority.contains('@') {
            return Err(host_err("user info (`user@`) is not supported"));
        }
        let (host, port_text) = if let Some(inner) = authority.strip_prefix('[') {
            let close = inner.find(']').ok_or_else(|| host_err("unclosed `[`"))?;
            let ip: std::net::Ipv6Addr = inner[..close]
                .parse()
                .map_err(|_| host_err("the bracketed part is not an IPv6 address"))?;
            let after = &inner[close + 1..];
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| host_err("text after `]` is not `:PORT`"))?,
                ),
            };
            (Host::Addr(IpAddr::V6(ip)), port)
        } else {
            let (h, p) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            if h.is_empty() {
                return Err(host_err("the host is empty"));
            }
            if h.contains(':') {
                return Err(host_err("write IPv6 addresses in brackets, `[::1]`"));
            }
            if !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            {
                return Err(host_err(
                    "only ASCII letters, digits, `-`, `_` and `.` are allowed",
                ));
            }
            let host = match h.parse::<std::net::Ipv4Addr>() {
                Ok(a) => Host::Addr(IpAddr::V4(a)),
                Err(_) => Host::Name(h.to_ascii_lowercase()),
            };
            (host, p)
        };
        let port = match port_text {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => {
                    return Err(UrlError::Port {
                        url: url(),
                        port: p.to_string(),
                    });
                }
            },
        };
        if path.contains('#') {
            return Err(UrlError::Path {
                url: url(),
                why: "a fragment (`#...`) is never sent to a server",
            });
        }
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(UrlError::Path {
                url: url(),
                why: "spaces and control characters must be percent-encoded",
            });
        }
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Url {
            scheme,
            host,
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
        assert_eq!(u.port, 8443);
        assert_eq!(u.path, "/x?y=1");
        assert_eq!(u.authority(), "site-a.test:8443");

        let u = Url::parse("http://198.18.0.4").unwrap();
        assert_eq!(u.host, Host::Addr("198.18.0.4".parse().unwrap()));
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert_eq!(u.authority(), "198.18.0.4");

        let u = Url::parse("https://[::1]:443?q").unwrap();
        assert_eq!(u.host, Host::Addr("::1".parse().unwrap()));
        assert_eq!(u.path, "/?q");
        assert_eq!(u.to_string(), "https://[::1]/?q");
    }

    #[test]
    fn refuses_what_it_cannot_probe() {
        for bad in [
            "ftp://x/",
            "https://",
            "https://u@x/",
            "https://[::1/",
            "https://[nope]/",
            "https://::1/",
            "https://x:0/",
            "https://x:99999/",
            "https://x:+80/",
            "https://x/a b",
            "https://x/#frag",
            "https://h\u{e9}te/",
            "h",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Url::parse("https://x:http/").unwrap_err().to_string(),
            "`https://x:http/` has an invalid port `http`"
        );
    }
}
