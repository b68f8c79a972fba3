use super::*;

fn rule(scheme: Option<&str>, host: HostRule, port: Option<u16>) -> OriginRule {
    OriginRule {
        scheme: scheme.map(str::to_owned),
        host,
        port,
    }
}

fn policy(rules: Vec<OriginRule>) -> OriginPolicy {
    OriginPolicy {
        rules,
        ..OriginPolicy::default()
    }
}

fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
    if let Some(o) = origin {
        h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
    }
    h
}

fn allowed(p: &OriginPolicy, origin: &str) -> bool {
    matches!(
        p.verdict(&headers(Some(origin), "push.example.com:8080")),
        Verdict::Allowed(_)
    )
}

#[test]
fn no_origin_and_same_origin_always_pass() {
    let p = OriginPolicy::default();
    assert_eq!(p.verdict(&headers(None, "x")), Verdict::NoOrigin);
    assert!(allowed(&p, "http://push.example.com:8080"));
    assert!(allowed(&p, "https://PUSH.example.com:8080"));
    assert!(!allowed(&p, "http://push.example.com"));
    assert!(!allowed(&p, "http://evil.example.com:8080"));
    assert!(!allowed(&p, "null"));
    let v6 = headers(Some("http://[::1]:8080"), "[::1]:8080");
    assert!(matches!(p.verdict(&v6), Verdict::Allowed(_)));
    // Default ports may be written or not, on either side.
    let explicit = headers(Some("https://a.example"), "a.example:443");
    assert!(matches!(p.verdict(&explicit), Verdict::Allowed(_)));
    let implicit = headers(Some("http://a.example:80"), "A.example");
    assert!(matches!(p.verdict(&implicit), Verdict::Allowed(_)));
    let other = headers(Some("http://a.example:81"), "a.example");
    assert_eq!(p.verdict(&other), Verdict::Refused);
}

#[test]
fn three_stars_accept_anything() {
    let p = policy(vec![rule(None, HostRule::Any, None)]);
    for o in [
        "http://a.b",
        "https://x:1",
        "null",
        "file://",
        "chrome-extension://abc",
    ] {
        assert!(allowed(&p, o), "{o}");
    }
}

#[test]
fn star_scheme_means_http_and_https() {
    let p = policy(vec![rule(None, HostRule::Exact("a.com".into()), None)]);
    assert!(allowed(&p, "http://a.com"));
    assert!(allowed(&p, "https://a.com:9"));
    assert!(!allowed(&p, "ftp://a.com"));
    assert!(!allowed(&p, "http://b.com"));
    let p = policy(vec![rule(Some("ftp"), HostRule::Any, None)]);
    assert!(allowed(&p, "FTP://anything"));
    assert!(!allowed(&p, "http://anything"));
}

#[test]
fn ports_default_by_scheme() {
    let p = policy(vec![rule(
        Some("https"),
        HostRule::Exact("a.com".into()),
        Some(443),
    )]);
    assert!(allowed(&p, "https://a.com"));
    assert!(allowed(&p, "https://a.com:443"));
    assert!(!allowed(&p, "https://a.com:8443"));
    assert!(!allowed(&p, "http://a.com:443"));
    let p = policy(vec![rule(None, HostRule::Exact("a.com".into()), Some(80))]);
    assert!(allowed(&p, "http://a.com"));
    assert!(!allowed(&p, "https://a.com"));
}

#[test]
fn wildcard_hosts_take_subdomains_only() {
    let p = policy(vec![rule(
        None,
        HostRule::Subdomains(".my-domain.com".into()),
        None,
    )]);
    assert!(allowed(&p, "https://www.my-domain.com"));
    assert!(allowed(&p, "https://a.b.MY-DOMAIN.com"));
    assert!(!allowed(&p, "https://my-domain.com"));
    assert!(!allowed(&p, "https://evilmy-domain.com"));
    assert!(!allowed(&p, "https://my-domain.com.evil.org"));
}

#[test]
fn ip_hosts_compare_canonically() {
    let p = policy(vec![
        rule(None, HostRule::Exact("0:0:0:0:0:0:0:1".into()), None),
        rule(None, HostRule::Exact("[2001:DB8::0:1]".into()), Some(8080)),
        rule(None, HostRule::Exact("10.0.0.1".into()), None),
    ]);
    assert!(allowed(&p, "http://[::1]:3000"));
    assert!(allowed(&p, "http://[2001:db8::1]:8080"));
    assert!(!allowed(&p, "http://[2001:db8::1]:8081"));
    assert!(allowed(&p, "https://10.0.0.1"));
    assert!(!allowed(&p, "https://10.0.0.2"));
    assert_eq!(canonical_host("[0:0::1]"), "::1");
    assert_eq!(canonical_host("Example.COM"), "example.com");
}

#[test]
fn malformed_origins_are_refused() {
    let p = policy(vec![rule(None, HostRule::Any, Some(80))]);
    for o in [
        "http://",
        "http://a.com:99999",
        "http://a.com/path",
        "http://u@a.com",
        "a.com",
        "http://[::1",
    ] {
        assert!(!allowed(&p, o), "{o}");
    }
}

#[test]
fn preflight_headers_follow_the_policy() {
    let p = OriginPolicy {
        accept_credentials: false,
        extra_headers: vec!["x-token".into()],
        max_age: 60,
        rules: vec![],
    };
    let asked = Some(HeaderValue::from_static("Content-Type, X-Token, X-Other"));
    let mut out = HeaderMap::new();
    p.cors(
        HeaderValue::from_static("http://a"),
        CorsRequest::Preflight { asked },
        &mut out,
    );
    assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://a");
    assert!(out.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    assert_eq!(
        out[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "Content-Type, X-Token"
    );
    assert_eq!(out[header::ACCESS_CONTROL_MAX_AGE], "60");
}
