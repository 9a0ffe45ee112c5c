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
