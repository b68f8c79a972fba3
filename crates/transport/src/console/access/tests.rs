#![allow(clippy::unwrap_used)]

use super::*;
use axum::http::HeaderValue;

fn policy(public: bool, users: &[(&str, &str)]) -> ConsoleAccess {
    ConsoleAccess {
        path: "/dashboard".into(),
        public,
        users: users
            .iter()
            .map(|(id, password)| ConsoleUser {
                id: (*id).into(),
                password: (*password).into(),
            })
            .collect(),
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    h
}

fn basic(user_password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn loopback_v4_and_v6_are_local() {
    let p = policy(false, &[]);
    for client in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
        assert_eq!(
            p.check(ip(client), &headers(&[]), 0),
            Access::Allow,
            "{client}"
        );
    }
}

#[test]
fn other_addresses_are_not_local() {
    let p = policy(false, &[]);
    for client in ["10.0.0.5", "192.168.1.1", "::2", "fe80::1", "0.0.0.0"] {
        assert_eq!(
            p.check(ip(client), &headers(&[]), 0),
            Access::Forbidden(FORBIDDEN_FIX),
            "{client}"
        );
    }
    assert!(FORBIDDEN_FIX.contains("<public>Y</public>"));
}

#[test]
fn a_forwarded_request_from_loopback_is_not_local() {
    let p = policy(false, &[]);
    let forbidden = Access::Forbidden(FORBIDDEN_FIX);
    let xff = headers(&[("x-forwarded-for", "203.0.113.9")]);
    assert_eq!(p.check(ip("127.0.0.1"), &xff, 0), forbidden);
    let fwd = headers(&[("forwarded", "for=203.0.113.9")]);
    assert_eq!(p.check(ip("::1"), &fwd, 0), forbidden);
    // Even a forward that names loopback, when forwards are not trusted:
    // anyone can write that header.
    let spoof = headers(&[("x-forwarded-for", "127.0.0.1")]);
    assert_eq!(p.check(ip("127.0.0.1"), &spoof, 0), forbidden);
}

#[test]
fn with_trusted_forwards_the_computed_client_decides() {
    let p = policy(false, &[]);
    let xff = headers(&[("x-forwarded-for", "127.0.0.1")]);
    // The caller computed the client from the trusted hops.
    assert_eq!(p.check(ip("127.0.0.1"), &xff, 1), Access::Allow);
    assert_eq!(
        p.check(ip("203.0.113.9"), &xff, 1),
        Access::Forbidden(FORBIDDEN_FIX)
    );
}

#[test]
fn users_get_a_credentials_challenge_and_get_in_with_the_right_ones() {
    let p = policy(false, &[("ops", "s3cret"), ("dev", "other")]);
    let far = ip("10.0.0.5");
    assert_eq!(p.check(far, &headers(&[]), 0), Access::Unauthorized);
    for good in ["ops:s3cret", "dev:other"] {
        let h = headers(&[("authorization", &basic(good))]);
        assert_eq!(p.check(far, &h, 0), Access::Allow, "{good}");
    }
    for bad in [
        "ops:wrong",
        "ops:s3cre",
        "ops:s3cret2",
        "dev:s3cret",
        "nobody:s3cret",
        ":",
        "ops",
    ] {
        let h = headers(&[("authorization", &basic(bad))]);
        assert_eq!(p.check(far, &h, 0), Access::Unauthorized, "{bad}");
    }
    // Local clients need no credentials even when users exist.
    assert_eq!(p.check(ip("127.0.0.1"), &headers(&[]), 0), Access::Allow);
}

#[test]
fn malformed_basic_headers_are_no_credentials() {
    let p = policy(false, &[("ops", "s3cret")]);
    let far = ip("10.0.0.5");
    let good = basic("ops:s3cret");
    let encoded = good.trim_start_matches("Basic ");
    for value in [
        "Basic",
        "Basic !!!notbase64",
        &format!("Bearer {encoded}"),
        encoded,
        &format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode([0xff, b':', 0xfe])
        ),
    ] {
        let h = headers(&[("authorization", value)]);
        assert_eq!(basic_credentials(&h), None, "{value}");
        assert_eq!(p.check(far, &h, 0), Access::Unauthorized, "{value}");
    }
    // The scheme is case-insensitive; a password may hold ':'.
    let h = headers(&[("authorization", &format!("bAsIc {encoded}"))]);
    assert_eq!(p.check(far, &h, 0), Access::Allow);
    let h = headers(&[("authorization", &basic("a:b:c"))]);
    assert_eq!(basic_credentials(&h), Some(("a".into(), "b:c".into())));
}

#[test]
fn public_lets_everyone_in() {
    let p = policy(true, &[]);
    let xff = headers(&[("x-forwarded-for", "203.0.113.9")]);
    assert_eq!(p.check(ip("203.0.113.9"), &xff, 0), Access::Allow);
    assert!(p.allows_login("203.0.113.9", &[], None, None, false));
}

#[test]
fn logins_follow_the_same_rules() {
    let p = policy(false, &[("ops", "s3cret")]);
    let none: Vec<(String, String)> = vec![];
    let xff = vec![("x-forwarded-for".to_owned(), "203.0.113.9".to_owned())];
    assert!(p.allows_login("127.0.0.1", &none, None, None, false));
    assert!(p.allows_login("::1", &none, None, None, false));
    assert!(!p.allows_login("127.0.0.1", &xff, None, None, false));
    assert!(p.allows_login("127.0.0.1", &xff, None, None, true));
    assert!(!p.allows_login("10.0.0.5", &none, None, None, false));
    assert!(!p.allows_login("10.0.0.5", &none, Some("ops"), Some("nope"), false));
    assert!(p.allows_login("10.0.0.5", &none, Some("ops"), Some("s3cret"), false));
    assert!(!p.allows_login("not an ip", &none, None, None, false));
    // No users: an empty user and password are not a match.
    assert!(!policy(false, &[]).allows_login("10.0.0.5", &none, Some(""), Some(""), false));
}

#[test]
fn constant_time_eq_compares_all_of_both() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(constant_time_eq(b"", b""));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
    assert!(!constant_time_eq(b"ab", b"abc"));
    assert!(!constant_time_eq(b"", b"a"));
}

#[test]
fn debug_hides_passwords() {
    let p = policy(false, &[("ops", "s3cret")]);
    assert!(!format!("{p:?}").contains("s3cret"));
}
