//! Which site a name belongs to, for both halves of multi-site serving:
//! the certificate a TLS client gets for its SNI, and the site a request's
//! Host (or HTTP/2 `:authority`) selects. One table answers both, so the
//! two can be compared: a request whose Host belongs to another site than
//! the certificate its connection was given is misdirected (421).
//!
//! Sans-IO. Names compare without case and without a trailing dot. A
//! wildcard `*.a.test` matches exactly one label (`x.a.test`, not
//! `a.test` nor `y.x.a.test`, as RFC 6125 §6.4.3 and every browser have
//! it); an exact name wins over a wildcard, so where `*.a.test` and
//! `live.a.test` belong to different sites, `live.a.test` goes to its own
//! site. With one-label wildcards, the only wildcard that can match a name
//! is the one over its parent, so it is also the most specific one.

use std::collections::HashMap;

/// A site's number: its index in the configuration.
pub type SiteId = usize;

/// The names of every site.
#[derive(Debug, Clone, Default)]
pub struct Names {
    exact: HashMap<String, SiteId>,
    /// Wildcards by the domain they cover: `*.a.test` as `a.test`.
    wild: HashMap<String, SiteId>,
}

/// Lower case, no trailing dot.
fn normal(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl Names {
    /// The table of `sites`, each a list of names (validated by the
    /// config: host names or one-label wildcards, none twice).
    pub fn new<'a>(sites: impl IntoIterator<Item = impl IntoIterator<Item = &'a str>>) -> Names {
        let mut names = Names::default();
        for (id, list) in sites.into_iter().enumerate() {
            for name in list {
                let n = normal(name);
                match n.strip_prefix("*.") {
                    Some(parent) => names.wild.insert(parent.to_string(), id),
                    None => names.exact.insert(n, id),
                };
            }
        }
        names
    }

    /// The site `name` belongs to.
    pub fn lookup(&self, name: &str) -> Option<SiteId> {
        let n = normal(name);
        if n.is_empty() {
            return None;
        }
        if let Some(&id) = self.exact.get(&n) {
            return Some(id);
        }
        let (_, parent) = n.split_once('.')?;
        self.wild.get(parent).copied()
    }
}

/// The host name of a Host header or `:authority`: the port stripped;
/// `None` for an IP literal or something that is not a host.
pub fn host_name(authority: &str) -> Option<&str> {
    let a = authority.trim();
    if a.starts_with('[') || a.contains('@') {
        return None; // an IPv6 literal (no site is an address) or user info
    }
    let host = match a.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return None,
        None => a,
    };
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then_some(host)
}

/// The certificate policy: which sites have a usable certificate, and the
/// site whose certificate a client without a known SNI gets.
#[derive(Debug, Clone)]
pub struct CertChoice {
    /// Per site, whether its certificate loaded.
    pub usable: Vec<bool>,
    /// The default site, if the config names one.
    pub default: Option<SiteId>,
}

impl CertChoice {
    /// The site whose certificate answers a ClientHello with `sni`; `None`
    /// fails the handshake.
    ///
    /// A known name whose site has no usable certificate fails rather than
    /// getting the default: the default would not cover the name, and a
    /// client that checks would fail anyway, with a less honest error.
    pub fn choose(&self, names: &Names, sni: Option<&str>) -> Option<SiteId> {
        match sni.and_then(|s| names.lookup(s)) {
            Some(id) => self.usable.get(id).copied().unwrap_or(false).then_some(id),
            None => self
                .default
                .filter(|&d| self.usable.get(d).copied().unwrap_or(false)),
        }
    }
}

/// What the front does with a request, by its Host and its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Serve from this site.
    Site(SiteId),
    /// No Host, or one that is not a host name: 400.
    BadHost,
    /// No site has this name: refuse (404), never another site's content.
    UnknownHost,
    /// The Host's site is not the one whose certificate the connection
    /// got: 421 Misdirected Request (RFC 9110 §15.5.20).
    Misdirected {
        /// The Host's site.
        host: SiteId,
        /// The certificate's site, if the connection got one by SNI or
        /// default.
        cert: Option<SiteId>,
    },
}

/// Routes a request with `authority` on a connection whose certificate
/// came from `cert` (`None` for plain HTTP, `Some(site)` for TLS).
pub fn route(names: &Names, authority: Option<&str>, tls_cert: Option<SiteId>, tls: bool) -> Route {
    let Some(host) = authority.and_then(host_name) else {
        return Route::BadHost;
    };
    let Some(site) = names.lookup(host) else {
        return Route::UnknownHost;
    };
    if tls && tls_cert != Some(site) {
        return Route::Misdirected {
            host: site,
            cert: tls_cert,
        };
    }
    Route::Site(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new([
            vec!["a.test", "*.a.test"],
            vec!["live.a.test"],
            vec!["b.test", "*.x.b.test"],
        ])
    }

    #[test]
    fn exact_names_win_over_wildcards() {
        let n = names();
        assert_eq!(n.lookup("a.test"), Some(0));
        assert_eq!(n.lookup("www.a.test"), Some(0));
        assert_eq!(n.lookup("live.a.test"), Some(1));
        assert_eq!(n.lookup("LIVE.A.TEST."), Some(1));
        assert_eq!(n.lookup("y.x.b.test"), Some(2));
        assert_eq!(
            n.lookup("x.b.test"),
            None,
            "a wildcard does not match its parent"
        );
    }

    #[test]
    fn wildcards_match_one_label_only() {
        let n = names();
        assert_eq!(n.lookup("deep.www.a.test"), None);
        assert_eq!(n.lookup("z.y.x.b.test"), None);
        assert_eq!(n.lookup("c.test"), None);
        assert_eq!(n.lookup(""), None);
        assert_eq!(n.lookup("."), None);
        assert_eq!(
            n.lookup("*.a.test"),
            Some(0),
            "a literal star label is one label"
        );
    }

    #[test]
    fn hosts_lose_their_port_and_addresses_are_no_host() {
        assert_eq!(host_name("a.test:8443"), Some("a.test"));
        assert_eq!(host_name("a.test"), Some("a.test"));
        assert_eq!(host_name("127.0.0.1:80"), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:443"), None);
        assert_eq!(host_name("a.test:x"), None);
        assert_eq!(host_name("u@a.test"), None);
        assert_eq!(host_name(""), None);
        assert_eq!(host_name("a b"), None);
    }

    #[test]
    fn sni_picks_the_site_or_the_default_or_nothing() {
        let n = names();
        let mut c = CertChoice {
            usable: vec![true, true, false],
            default: None,
        };
        assert_eq!(c.choose(&n, Some("www.a.test")), Some(0));
        assert_eq!(c.choose(&n, Some("live.a.test")), Some(1));
        assert_eq!(c.choose(&n, Some("c.test")), None);
        assert_eq!(c.choose(&n, None), None);
        assert_eq!(c.choose(&n, Some("b.test")), None, "broken certificate");
        c.default = Some(1);
        assert_eq!(c.choose(&n, None), Some(1));
        assert_eq!(c.choose(&n, Some("c.test")), Some(1));
        assert_eq!(c.choose(&n, Some("b.test")), None, "known name, no default");
        c.default = Some(2);
        assert_eq!(c.choose(&n, None), None, "a broken default is no default");
    }

    #[test]
    fn rfc_9110_15_5_20_misdirected_when_host_and_certificate_disagree() {
        let n = names();
        assert_eq!(route(&n, Some("a.test:443"), Some(0), true), Route::Site(0));
        assert_eq!(
            route(&n, Some("live.a.test"), Some(0), true),
            Route::Misdirected {
                host: 1,
                cert: Some(0)
            }
        );
        assert_eq!(route(&n, Some("c.test"), Some(0), true), Route::UnknownHost);
        assert_eq!(route(&n, None, Some(0), true), Route::BadHost);
        assert_eq!(route(&n, Some("[::1]"), None, false), Route::BadHost);
        assert_eq!(route(&n, Some("b.test"), None, false), Route::Site(2));
    }
}
