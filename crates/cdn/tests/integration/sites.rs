//! Several sites on one address: the certificate by SNI (exact, wildcard,
//! default, refusal), the site by Host, 421 when they disagree, unknown
//! hosts refused, a broken certificate reported without taking the others
//! down. Checked with our rustls client and with `openssl s_client`.

use crate::support::*;

#[tokio::test]
async fn sni_picks_the_exact_name_over_an_overlapping_wildcard() {
    let lab = lab(None).await;
    for (sni, stem) in [
        ("a.test", "a.test"),
        ("www.a.test", "a.test"),
        ("WWW.A.TEST", "a.test"),
        ("live.a.test", "live.a.test"),
        ("b.test", "b.test"),
    ] {
        let (_, cert) = handshake(lab.https(), &Via::Tls(Some(sni.into())), &[b"h2"])
            .await
            .unwrap_or_else(|e| panic!("SNI {sni}: {e}"));
        assert_eq!(
            cert,
            Some(lab.cert_der(stem)),
            "SNI {sni} gets {stem}'s certificate"
        );
    }
}

#[tokio::test]
async fn no_sni_or_an_unknown_one_gets_the_default_certificate() {
    let lab = lab(Some("b.test")).await;
    for sni in [
        None,
        Some("c.test".to_string()),
        Some("x.y.a.test".to_string()),
    ] {
        let (_, cert) = handshake(lab.https(), &Via::Tls(sni.clone()), &[b"h2"])
            .await
            .unwrap_or_else(|e| panic!("SNI {sni:?}: {e}"));
        assert_eq!(cert, Some(lab.cert_der("b.test")), "SNI {sni:?}");
    }
    // The default certificate's site is served; another Host under it is
    // misdirected.
    let got = fetch(lab.https(), Via::Tls(None), false, "b.test", SMALL, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.cert, Some(lab.cert_der("b.test")));
    assert_eq!(got.body, whole(B_SEED, SMALL));
    let got = fetch(lab.https(), Via::Tls(None), false, "a.test", SMALL, &[]).await;
    assert_eq!(got.status, 421);
}

#[tokio::test]
async fn no_sni_without_a_default_fails_the_handshake() {
    let lab = lab(None).await;
    for sni in [None, Some("c.test".to_string())] {
        let r = handshake(lab.https(), &Via::Tls(sni.clone()), &[b"h2"]).await;
        assert!(r.is_err(), "SNI {sni:?} must be refused");
    }
    let failed = lab
        .running
        .front
        .metrics()
        .failed_handshakes
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(failed, 2);
}

#[tokio::test]
async fn a_broken_certificate_is_reported_and_the_other_sites_still_serve() {
    let lab = lab(None).await;
    assert_eq!(lab.running.broken.len(), 1, "{:?}", lab.running.broken);
    let report = lab.running.broken[0].to_string();
    assert!(report.starts_with("site `broken.test`:"), "{report}");
    assert!(report.contains("broken.test.pem"), "{report}");
    assert!(report.contains("hint:"), "{report}");
    assert!(
        handshake(lab.https(), &Via::Tls(Some("broken.test".into())), &[b"h2"])
            .await
            .is_err()
    );
    for (sni, seed) in [
        ("a.test", SEED),
        ("live.a.test", LIVE_SEED),
        ("b.test", B_SEED),
    ] {
        let got = fetch(
            lab.https(),
            Via::Tls(Some(sni.into())),
            true,
            sni,
            SMALL,
            &[],
        )
        .await;
        assert_eq!(got.status, 200, "{sni}");
        assert_eq!(got.body, whole(seed, SMALL), "{sni}");
    }
}

#[tokio::test]
async fn the_lab_ca_verifies_every_site_including_wildcards() {
    let lab = lab(None).await;
    for name in ["a.test", "www.a.test", "live.a.test", "b.test"] {
        let got = fetch(
            lab.https(),
            Via::Verified(name.into(), lab.ca()),
            true,
            name,
            SMALL,
            &[],
        )
        .await;
        assert_eq!(got.status, 200, "{name}");
        assert_eq!(got.alpn.as_deref(), Some(&b"h2"[..]));
    }
}

#[tokio::test]
async fn host_selects_the_site_over_http_1_1_and_h2() {
    let lab = lab(None).await;
    for h2 in [false, true] {
        for (host, seed) in [
            ("a.test", SEED),
            ("www.a.test:8080", SEED),
            ("LIVE.A.TEST", LIVE_SEED),
            ("b.test.", B_SEED),
        ] {
            let got = fetch(lab.http(), Via::Plain, h2, host, SMALL, &[]).await;
            assert_eq!(got.status, 200, "{host} h2={h2}");
            assert_eq!(
                got.body,
                whole(seed, SMALL),
                "{host} h2={h2} gets its own site's bytes"
            );
        }
    }
}

#[tokio::test]
async fn rfc_9110_15_5_20_sni_and_host_that_disagree_get_421() {
    let lab = lab(None).await;
    for h2 in [false, true] {
        for (sni, host, status) in [
            ("a.test", "a.test", 200),
            ("www.a.test", "a.test:443", 200),
            ("a.test", "b.test", 421),
            ("a.test", "live.a.test", 421),
            ("live.a.test", "www.a.test", 421),
        ] {
            let got = fetch(
                lab.https(),
                Via::Tls(Some(sni.into())),
                h2,
                host,
                SMALL,
                &[],
            )
            .await;
            assert_eq!(got.status, status, "SNI {sni} Host {host} h2={h2}");
            if status == 421 {
                let text = String::from_utf8_lossy(&got.body);
                assert!(text.contains("certificate"), "{text}");
            }
        }
    }
}

#[tokio::test]
async fn an_unknown_host_is_refused_and_never_gets_another_sites_content() {
    let lab = lab(Some("a.test")).await;
    for (via, addr) in [(Via::Plain, lab.http()), (Via::Tls(None), lab.https())] {
        for h2 in [false, true] {
            let got = fetch(addr, via.clone(), h2, "c.test", SMALL, &[]).await;
            assert_eq!(got.status, 404, "{via:?} h2={h2}");
            assert!(got.body.len() < 100, "a short refusal, not content");
            assert!(String::from_utf8_lossy(&got.body).contains("no site `c.test`"));
        }
    }
    let got = fetch(lab.http(), Via::Plain, false, "[::1]:80", SMALL, &[]).await;
    assert_eq!(got.status, 400);
}

#[tokio::test]
async fn openssl_s_client_sees_the_certificate_sni_asks_for() {
    let lab = lab(Some("b.test")).await;
    let connect = lab.https().to_string();
    let ca = lab.ca().display().to_string();
    for (args, cn) in [
        (vec!["-servername", "live.a.test"], "live.a.test"),
        (vec!["-servername", "www.a.test"], "a.test"),
        (vec!["-servername", "a.test"], "a.test"),
        (vec!["-noservername"], "b.test"),
    ] {
        let mut all = vec!["s_client", "-connect", &connect, "-CAfile", &ca];
        all.extend(&args);
        let out = run("openssl", &all).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("subject=CN = {cn}"))
                || text.contains(&format!("subject=CN={cn}")),
            "openssl {args:?} should see {cn}:\n{text}"
        );
        if args[0] == "-servername" {
            assert!(
                text.contains("Verify return code: 0 (ok)"),
                "{args:?}:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn rfc_9113_8_3_1_an_h2_host_header_that_differs_from_authority_is_refused() {
    let lab = lab(None).await;
    let got = fetch(
        lab.http(),
        Via::Plain,
        true,
        "a.test",
        SMALL,
        &[("host", "b.test")],
    )
    .await;
    assert_eq!(got.status, 400);
    let got = fetch(
        lab.http(),
        Via::Plain,
        true,
        "a.test",
        SMALL,
        &[("host", "A.test:80")],
    )
    .await;
    assert_eq!(got.status, 200, "the same host, another spelling");
    assert_eq!(got.body, whole(SEED, SMALL));
}
