//! Real clients against the front: curl over HTTP/2 (TLS with the lab CA,
//! and cleartext with prior knowledge) and over HTTP/1.1, and h2load's
//! many streams on a few connections.

use crate::support::*;

#[tokio::test]
async fn curl_http2_fetches_whole_files_and_ranges_verified_by_the_lab_ca() {
    let lab = lab(None).await;
    let port = lab.https().port();
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("body");
    let (file_s, ca) = (file.display().to_string(), lab.ca().display().to_string());
    let resolve = format!("www.a.test:{port}:127.0.0.1");
    let url = format!("https://www.a.test:{port}{BIG}");
    for (extra, version, want) in [
        (vec!["--http2"], "2", whole(SEED, BIG)),
        (vec!["--http1.1"], "1.1", whole(SEED, BIG)),
        (
            vec!["--http2", "-r", "10-19"],
            "2",
            whole(SEED, BIG)[10..20].to_vec(),
        ),
    ] {
        let mut args = vec![
            "-sS",
            "--fail",
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
            "-o",
            &file_s,
            "-w",
            "%{http_version}",
        ];
        args.extend(&extra);
        args.push(&url);
        let out = run("curl", &args).await;
        assert!(
            out.status.success(),
            "curl {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), version, "{extra:?}");
        assert_eq!(std::fs::read(&file).unwrap(), want, "{extra:?}");
    }
    let plain = format!("http://b.test:{}{SMALL}", lab.http().port());
    let resolve = format!("b.test:{}:127.0.0.1", lab.http().port());
    let out = run(
        "curl",
        &[
            "-sS",
            "--fail",
            "--http2-prior-knowledge",
            "--resolve",
            &resolve,
            "-o",
            &file_s,
            "-w",
            "%{http_version}",
            &plain,
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2");
    assert_eq!(std::fs::read(&file).unwrap(), whole(B_SEED, SMALL));
}

#[tokio::test]
async fn h2load_completes_every_request_over_tls_and_cleartext() {
    let lab = lab(None).await;
    for (url, connect) in [
        (
            format!("https://a.test:{}{SMALL}", lab.https().port()),
            lab.https(),
        ),
        (
            format!("http://a.test:{}{SMALL}", lab.http().port()),
            lab.http(),
        ),
    ] {
        let connect_to = format!("--connect-to={connect}");
        let out = run(
            "h2load",
            &["-n", "400", "-c", "4", "-m", "10", &connect_to, &url],
        )
        .await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "h2load {url}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("400 succeeded, 0 failed, 0 errored"),
            "h2load {url}:\n{text}"
        );
        assert!(
            text.contains("status codes: 400 2xx"),
            "h2load {url}:\n{text}"
        );
    }
}

#[tokio::test]
async fn testssl_sees_each_sites_certificate_by_sni_and_trusts_the_lab_ca() {
    let lab = lab(None).await;
    need("testssl");
    let ca = lab.ca().display().to_string();
    let port = lab.https().port();
    // testssl.sh takes about 20 s per site here: the three run side by
    // side, under a bound of their own.
    let runs = [
        ("a.test", "a.test", "Ok via SAN"),
        ("www.a.test", "a.test", "Ok via SAN wildcard"),
        ("live.a.test", "live.a.test", "Ok via SAN"),
    ]
    .map(|(name, cn, trust)| {
        let url = format!("https://{name}:{port}");
        let ca = ca.clone();
        async move {
            let child = tokio::process::Command::new("testssl")
                .args([
                    "--quiet",
                    "--color",
                    "0",
                    "--warnings",
                    "off",
                    "--add-ca",
                    &ca,
                    "--ip",
                    "127.0.0.1",
                    "-S",
                    &url,
                ])
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output();
            let out = tokio::time::timeout(std::time::Duration::from_secs(240), child)
                .await
                .expect("testssl.sh finishes within 240 s")
                .expect("testssl.sh runs");
            (
                name,
                cn,
                trust,
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }
    });
    let results = futures_join(runs).await;
    for (name, cn, trust, text) in results {
        let line = |key: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(key))
                .unwrap_or("")
                .to_string()
        };
        assert!(
            line("Common Name (CN)").contains(&format!(" {cn} ")),
            "{name}: {}",
            line("Common Name (CN)")
        );
        assert!(
            line("Trust (hostname)").contains(trust),
            "{name}: {}",
            line("Trust (hostname)")
        );
        assert!(
            line("Chain of trust").contains("Ok"),
            "{name}: {}",
            line("Chain of trust")
        );
        assert!(
            line("Issuer").contains("netproof lab CA"),
            "{name}: {}",
            line("Issuer")
        );
    }
}

/// Awaits three futures side by side (no `futures` crate for one join).
async fn futures_join<F: std::future::Future>(fs: [F; 3]) -> [F::Output; 3] {
    let [a, b, c] = fs;
    let (a, b, c) = tokio::join!(a, b, c);
    [a, b, c]
}
