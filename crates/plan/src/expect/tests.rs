//! Expectation parser tests.
use super::*;

fn ok(text: &str) -> Expectation {
    match parse(text) {
        Ok(e) => e,
        Err(errors) => panic!("{text}: {errors:?}"),
    }
}

fn err(text: &str) -> Vec<ExpectError> {
    parse(text).expect_err(text)
}

#[test]
fn percentile_with_duration() {
    let e = ok("p99(tcp_connect.latency) < 5ms");
    assert_eq!(e.aggregate, Aggregate::Percentile(99.0));
    assert_eq!(e.metric, "tcp_connect.latency");
    assert_eq!(e.op, Comparison::Lt);
    assert!((e.threshold - 0.005).abs() < 1e-12);
    assert_eq!(e.unit, Unit::Seconds);
    assert_eq!(
        ok("p99.9(tcp_connect.latency)<=1s").aggregate,
        Aggregate::Percentile(99.9)
    );
    assert_eq!(
        ok("p0(exec.duration) >= 0s").aggregate,
        Aggregate::Percentile(0.0)
    );
    assert_eq!(ok("p100(exec.duration) >= 0s").aggregate.name(), "p100");
}

#[test]
fn labels_and_whitespace() {
    let e = ok(r#"  mean ( tcp_connect.latency { step = "probe", to='server' , } ) != 1.5s "#);
    assert_eq!(
        e.labels,
        vec![
            ("step".into(), "probe".into()),
            ("to".into(), "server".into())
        ]
    );
    assert_eq!(e.op, Comparison::Ne);
    assert_eq!(e.threshold, 1.5);
    let e = ok(r#"count(exec.stdout{error="a \"b\""}) == 0"#);
    assert_eq!(e.labels[0].1, "a \"b\"");
}

#[test]
fn units_per_aggregate() {
    let e = ok("success_ratio(tcp_connect.latency) >= 99%");
    assert_eq!((e.unit, e.threshold), (Unit::Ratio, 0.99));
    assert_eq!(ok("success_ratio(exec.exit_code) >= 0.5").threshold, 0.5);
    let e = ok("count(exec.stdout) > 3");
    assert_eq!((e.unit, e.threshold), (Unit::Count, 3.0));
    let e = ok("rate(tcp_connect.latency) >= 9.5/s");
    assert_eq!((e.unit, e.threshold), (Unit::Count, 9.5));
    assert_eq!(ok("rate(tcp_connect.latency) >= 9").threshold, 9.0);
    let e = ok("max(exec.stdout_bytes) <= 1KiB");
    assert_eq!((e.unit, e.threshold), (Unit::Bytes, 1024.0));
    assert_eq!(ok("max(exec.exit_code) == 0").threshold, 0.0);
    assert_eq!(ok("min(exec.exit_code) != -1").threshold, -1.0);
    assert_eq!(ok("rate(exec.stdout) > 1/s").unit, Unit::Count);
}

#[test]
fn unknown_metric_points_at_the_name() {
    // (`tcp.latency` would now be nearer `http.latency`.)
    let text = "p99(tcp_conect.latency) < 5ms";
    let errors = err(text);
    assert_eq!(errors.len(), 1);
    assert_eq!(&text[errors[0].range.clone()], "tcp_conect.latency");
    let hint = errors[0].hint.as_deref().unwrap();
    assert!(
        hint.contains("did you mean `tcp_connect.latency`?"),
        "{hint}"
    );
    assert!(hint.contains("exec.exit_code"), "{hint}");
}

#[test]
fn unit_mismatch_points_at_the_threshold() {
    let text = "p99(tcp_connect.latency) < 5Mbit";
    let errors = err(text);
    assert_eq!(&text[errors[0].range.clone()], "5Mbit");
    assert!(errors[0].message.contains("a duration"), "{:?}", errors[0]);
    let errors = err("p99(tcp_connect.latency) < 5");
    assert!(errors[0].message.contains("has no unit"));
    assert!(
        err("success_ratio(exec.exit_code) > 99")[0]
            .message
            .contains("100%")
    );
    assert!(
        err("count(exec.exit_code) > 5ms")[0]
            .message
            .contains("plain number")
    );
    assert!(
        err("count(exec.exit_code) > -1")[0]
            .message
            .contains("plain number")
    );
    assert!(
        err("max(exec.exit_code) > 1s")[0]
            .message
            .contains("plain number")
    );
}

#[test]
fn numeric_aggregate_of_text_is_an_error() {
    let errors = err("mean(exec.stdout) > 1");
    assert!(errors[0].message.contains("is text"));
    assert!(errors[0].hint.as_deref().unwrap().contains("count"));
}

#[test]
fn semantic_errors_are_all_reported() {
    let errors = err("avg(tcp.latency) < 5ms");
    assert_eq!(errors.len(), 2);
    assert!(errors[0].hint.as_deref().unwrap().contains("mean"));
}

#[test]
fn syntax_errors_point_at_the_spot() {
    for (text, at) in [
        ("", 0),
        ("p99", 3),
        ("p99(", 4),
        ("p99(tcp_connect.latency", 23),
        ("p99(tcp_connect.latency) 5ms", 25),
        ("p99(tcp_connect.latency) <", 25),
        ("p99(tcp_connect.latency) = 5ms", 25),
        ("p99(tcp_connect.latency) => 5ms", 25),
        ("p99(tcp_connect.latency{step}) < 5ms", 28),
        ("p99(tcp_connect.latency{step=x}) < 5ms", 29),
        ("p99(tcp_connect.latency{step=\"x) < 5ms", 29),
        ("p99(tcp_connect.latency{a=\"1\",a=\"2\"}) < 5ms", 30),
        ("(x) < 1", 0),
    ] {
        let errors = err(text);
        assert_eq!(errors.len(), 1, "{text}");
        assert_eq!(errors[0].range.start, at, "{text}: {:?}", errors[0]);
    }
}

#[test]
fn percentile_bounds() {
    assert!(
        err("p101(exec.duration) < 1s")[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("p100")
    );
    assert!(parse("p99.(exec.duration) < 1s").is_err());
    assert!(parse("p-1(exec.duration) < 1s").is_err());
    assert!(
        err("median(exec.duration) < 1s")[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("p50")
    );
}

#[test]
fn never_panics_on_prefixes() {
    for text in [
        r#"p99.9(tcp_connect.latency{step="µ-probe", to='b'}) <= 5ms"#,
        r#"all(dns.answer{step="µ"}) !contains "{addr:µ}{{\"{addr6:b}}}""#,
    ] {
        for (i, _) in text.char_indices() {
            let _ = parse(&text[..i]);
            let _ = parse(&text[i..]);
        }
    }
}

#[test]
fn contains_forms() {
    let e = ok(r#"all(dns.answer{step="eu"}) contains "198.18.10.1""#);
    assert_eq!(e.aggregate, Aggregate::All);
    assert_eq!(e.metric, "dns.answer");
    assert_eq!(e.labels, vec![("step".into(), "eu".into())]);
    assert_eq!(e.unit, Unit::Text);
    assert_eq!(
        e.contains,
        Some(Contains {
            negated: false,
            text: Template(vec![TemplatePart::Text("198.18.10.1".into())]),
        })
    );
    let e = ok("any(http.cert_names)!contains 'a.test'  ");
    assert_eq!(e.aggregate, Aggregate::Any);
    assert!(e.contains.as_ref().unwrap().negated);
    // Numeric aggregates of the same metrics still work.
    assert_eq!(ok("count(dns.answer) >= 1").contains, None);
    // `containsX` is not the keyword.
    assert!(parse(r#"all(dns.answer) containsx "a""#).is_err());
    // An empty text and escaped quotes are allowed.
    let e = ok(r#"all(exec.stdout) !contains """#);
    assert_eq!(e.contains.unwrap().text.to_string(), "");
    let e = ok(r#"any(exec.stdout) contains "say \"hi\"""#);
    assert_eq!(e.contains.unwrap().text.to_string(), "say \"hi\"");
}

#[test]
fn contains_placeholders_name_nodes_with_their_ranges() {
    let text = r#"all(dns.answer) contains "{addr:edge-eu}""#;
    let (e, refs) = parse_with_refs(text).unwrap();
    assert_eq!(
        e.contains.unwrap().text,
        Template(vec![TemplatePart::Addr("edge-eu".into())])
    );
    assert_eq!(refs.len(), 1);
    assert_eq!(&text[refs[0].range.clone()], "edge-eu");
    let text = r#"any(http.cert_names) contains "{{{addr6:b}}}-{addr:c}""#;
    let (e, refs) = parse_with_refs(text).unwrap();
    assert_eq!(
        e.contains.unwrap().text,
        Template(vec![
            TemplatePart::Text("{".into()),
            TemplatePart::Addr6("b".into()),
            TemplatePart::Text("}-".into()),
            TemplatePart::Addr("c".into()),
        ])
    );
    let names: Vec<&str> = refs.iter().map(|r| &text[r.range.clone()]).collect();
    assert_eq!(names, ["b", "c"]);
}

#[test]
fn contains_errors_point_at_the_spot() {
    // (text, the text the error range covers, a word of the message)
    for (text, at, word) in [
        (
            r#"p99(dns.answer) contains "x""#,
            "p99",
            "only `all` and `any`",
        ),
        (r#"count(dns.answer) !contains "x""#, "count", "!contains"),
        (
            r#"all(dns.latency) contains "x""#,
            "dns.latency",
            "is a number",
        ),
        ("all(dns.answer) == 1", "all", "not `==`"),
        ("any(dns.answer) contains x", "x", "quoted text"),
        ("any(dns.answer) contains", "contains", "quoted text"),
        (
            r#"any(dns.answer) contains "x" and more"#,
            "and more",
            "unexpected",
        ),
        (r#"any(dns.answer) contains "x"#, r#""x"#, "unclosed"),
        (
            r#"all(dns.answer) contains "{adr:a}""#,
            "{adr:a}",
            "unknown placeholder",
        ),
        (
            r#"all(dns.answer) contains "{addr:}""#,
            "{addr:}",
            "unknown placeholder",
        ),
        (r#"all(dns.answer) contains "a}b""#, "}", "unmatched"),
        (
            r#"all(dns.answer) contains "a{addr:b""#,
            "{addr:b",
            "unclosed",
        ),
    ] {
        let errors = err(text);
        assert_eq!(errors.len(), 1, "{text}: {errors:?}");
        assert_eq!(
            &text[errors[0].range.clone()],
            at,
            "{text}: {:?}",
            errors[0]
        );
        assert!(errors[0].message.contains(word), "{text}: {:?}", errors[0]);
        assert!(errors[0].hint.is_some(), "{text}");
    }
    // A numeric metric gets a hint naming the metrics that can.
    let hint = err(r#"all(dns.latency) contains "x""#)[0]
        .hint
        .clone()
        .unwrap();
    assert!(
        hint.contains("`dns.answer`") && hint.contains("`http.cert_names`"),
        "{hint}"
    );
    // Both problems at once.
    assert_eq!(err(r#"max(dns.latency) contains "x""#).len(), 2);
    // With an escape in the text, a placeholder error covers the text.
    let text = r#"all(dns.answer) contains "\"{adr:a}""#;
    assert_eq!(&text[err(text)[0].range.clone()], r#""\"{adr:a}""#);
}

#[test]
fn service_metrics_take_their_unit_from_the_threshold() {
    let e = ok("max(svc.edge.fill_time{site='v'}) < 5ms");
    assert_eq!(e.metric, "svc.edge.fill_time");
    assert_eq!(e.unit, Unit::Seconds);
    assert!((e.threshold - 0.005).abs() < 1e-12);
    assert_eq!(e.labels, vec![("site".to_string(), "v".to_string())]);
    let e = ok("max(svc.cache) <= 20MiB");
    assert_eq!((e.unit, e.threshold), (Unit::Bytes, 20.0 * 1024.0 * 1024.0));
    let e = ok("mean(svc.egress) > 100Mbit");
    assert_eq!((e.unit, e.threshold), (Unit::BitsPerSecond, 100e6));
    let e = ok("max(svc.hit_ratio) >= 90%");
    assert_eq!(e.unit, Unit::Ratio);
    assert!((e.threshold - 0.9).abs() < 1e-12);
    let e = ok("min(svc.hits) != -1");
    assert_eq!((e.unit, e.threshold), (Unit::Count, -1.0));
    assert_eq!(ok("count(svc.hits) >= 3").unit, Unit::Count);
    assert_eq!(ok("success_ratio(svc.fill) >= 99%").unit, Unit::Ratio);
    let e = ok("any(svc.state) contains 'draining'");
    assert!(e.contains.is_some());
    // What a threshold cannot be read as, and a malformed service name.
    let errors = err("max(svc.hits) < fast");
    assert!(
        errors[0].message.contains("not a number, duration"),
        "{errors:?}"
    );
    assert_eq!(err("max(svc..x) < 1")[0].message, "unknown metric `svc..x`");
    assert!(
        err("max(svc.state) contains 'x'")[0]
            .message
            .contains("only `all` and `any`")
    );
    assert!(
        err("all(svc.state) < 1")[0]
            .message
            .contains("tests each sample")
    );
}
