//! PostgreSQL URLs: recognising them, and showing them without a password.
//!
//! Every message and every `location()` names the database by its URL, so a
//! password written in it (`postgres://lab:secret@db/np`, or a
//! `?password=secret` parameter) is cut out here, once, before the URL is
//! stored anywhere a human could see it.

/// Whether a `--db` value names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL with any password removed: `user:secret@` becomes `user@`, and a
/// `password=` query parameter is dropped.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The authority ends at the first `/` or `?`; userinfo is what precedes
    // its last `@` (a socket path in the host is percent-encoded, so holds
    // no raw `/`).
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_both_schemes_only() {
        assert!(is_postgres_url("postgres://db/np"));
        assert!(is_postgres_url("postgresql://db/np"));
        assert!(!is_postgres_url("sqlite://np.db"));
        assert!(!is_postgres_url("postgres.db"));
    }

    #[test]
    fn passwords_never_survive() {
        for (url, want) in [
            (
                "postgres://lab:s3cr3t@db.example/np",
                "postgres://lab@db.example/np",
            ),
            (
                "postgres://lab:p@ss:w@rd@db:5433/np",
                "postgres://lab@db:5433/np",
            ),
            (
                "postgresql://lab@db/np?password=s3cr3t&sslmode=disable",
                "postgresql://lab@db/np?sslmode=disable",
            ),
            ("postgresql://db/np?PASSWORD=s3cr3t", "postgresql://db/np"),
            (
                "postgresql://postgres@%2Ftmp%2Fx/postgres",
                "postgresql://postgres@%2Ftmp%2Fx/postgres",
            ),
            ("postgres://db", "postgres://db"),
        ] {
            let got = redact(url);
            assert_eq!(got, want, "{url}");
            assert!(!got.contains("s3cr3t") && !got.contains("ss:w"), "{got}");
        }
    }
}
