//! The `auth` and `tls` params of the proxies.

use super::tests::{assert_err, line_of, notes, Dir};
use super::tests_proxy::{data_of, data_param, meta_param, p, set, PLAIN};
use crate::KeystoreType;

#[test]
fn credentials() {
    let two = format!(
        "{}{}{}{}{}",
        p("auth", "Y"),
        p("auth.credentials.1.user", "alice"),
        p("auth.credentials.1.password", "pw1"),
        p("auth.credentials.bob.user", "bob"),
        p("auth.credentials.bob.password", "pw2")
    );
    let (d, w) = data_of(&set(PLAIN, "", &two));
    assert_eq!(w, vec![]);
    let c = d.proxy.credentials.unwrap();
    let users: Vec<(&str, &str, &str)> = c
        .iter()
        .map(|c| (c.key.as_str(), c.user.as_str(), c.password.as_str()))
        .collect();
    assert_eq!(users, [("1", "alice", "pw1"), ("bob", "bob", "pw2")]);
    assert!(!format!("{:?}", c[0]).contains("pw1"));

    let lone_user = format!(
        "{}{}",
        p("auth", "Y"),
        p("auth.credentials.1.user", "alice")
    );
    assert_err(
        &set(PLAIN, "", &lone_user),
        "auth.credentials.1.user",
        &data_param("auth.credentials.1.user"),
        "without a password",
    );
    let lone_pw = format!(
        "{}{}",
        p("auth", "Y"),
        p("auth.credentials.1.password", "x")
    );
    assert_err(
        &set(PLAIN, "", &lone_pw),
        "auth.credentials.1.password",
        &data_param("auth.credentials.1.password"),
        "without a user",
    );
    assert_err(
        &set(PLAIN, &p("auth", "Y"), ""),
        "\"auth\"",
        &meta_param("auth"),
        "no credentials",
    );
    assert_err(
        &set(PLAIN, &p("auth", "yes"), ""),
        "\"auth\"",
        &meta_param("auth"),
        "expected Y or N",
    );
    let off = format!(
        "{}{}{}",
        p("auth", "N"),
        p("auth.credentials.1.user", "a"),
        p("auth.credentials.1.password", "b")
    );
    let (d, w) = data_of(&set(PLAIN, "", &off));
    assert_eq!(d.proxy.credentials, None);
    assert_eq!(w.len(), 2);
    assert!(w[0].2.contains("while auth is not Y"), "{w:?}");
}

#[test]
fn tls_settings() {
    let d = Dir::new();
    d.file("S/certs/remote.p12", "placeholder");
    d.file("S/chain.pem", "placeholder");
    d.file("S/key.pem", "placeholder");
    d.file("S/pass.txt", "secret\nignored\n");
    let tls = format!(
        "{}{}{}{}{}",
        p("tls", "Y"),
        p("tls.keystore.type", "PKCS12"),
        p("tls.keystore.keystore_file", "certs/remote.p12"),
        p("tls.keystore.keystore_password.type", "file"),
        p("tls.keystore.keystore_password", "pass.txt")
    );
    let xml = set(
        PLAIN,
        "",
        &format!(
            "{tls}{}{}{}",
            p("tls.force_client_auth", "N"),
            p("tls.allow_protocol.1", "TLSv1.3"),
            p("tls.truststore.type", "JKS")
        ),
    );
    d.set("S", &xml);
    let loaded = d.load().unwrap_or_else(|e| panic!("{e}"));
    let k = loaded.sets[0].data[0].remote().proxy.tls.clone().unwrap();
    assert_eq!(k.kind, KeystoreType::Pkcs12);
    assert_eq!(k.file, d.dir.join("S/certs/remote.p12"));
    assert_eq!(k.password.as_deref(), Some("secret"));
    assert_eq!(k.line, line_of(&xml, "keystore_file"));
    let n = notes(&loaded.warnings);
    assert_eq!(
        n.iter().map(|w| w.0).collect::<Vec<_>>(),
        [line_of(&xml, "allow_protocol"), line_of(&xml, "truststore")],
        "{n:?}"
    );

    let pem = format!(
        "{}{}{}{}",
        p("tls", "Y"),
        p("tls.keystore.type", "PEM"),
        p("tls.keystore.keystore_file", "chain.pem"),
        p("tls.keystore.key_file", "key.pem")
    );
    d.set("S", &set(PLAIN, "", &pem));
    let k = d.load().unwrap().sets[0].data[0]
        .remote()
        .proxy
        .tls
        .clone()
        .unwrap();
    assert_eq!(
        (k.kind, k.key_file, k.password),
        (KeystoreType::Pem, Some(d.dir.join("S/key.pem")), None)
    );

    let check = |params: &str, needle: &str, name: &str, words: &str| {
        let xml = set(PLAIN, "", params);
        d.set("S", &xml);
        let e = d.load().unwrap_err();
        assert_eq!(
            (e.line, e.element.clone()),
            (Some(line_of(&xml, needle)), data_param(name)),
            "{e}"
        );
        assert!(e.message.contains(words), "{e}");
    };
    check(
        &format!("{tls}{}", p("tls.force_client_auth", "Y")),
        "force_client_auth",
        "tls.force_client_auth",
        "not checked by Shoal",
    );
    check(&p("tls", "Y"), "\"tls\"", "tls", "keystore_file is missing");
    check(
        &format!(
            "{}{}",
            p("tls", "Y"),
            p("tls.keystore.keystore_file", "missing.jks")
        ),
        "keystore_file",
        "tls.keystore.keystore_file",
        "cannot open",
    );
    check(
        &format!(
            "{}{}",
            p("tls", "Y"),
            p("tls.keystore.keystore_file", "chain.pem")
        ),
        "keystore_file",
        "tls.keystore.keystore_file",
        "needs its password",
    );
    check(
        &format!("{}{}", p("tls", "Y"), p("tls.keystore.type", "PKCS11")),
        "keystore.type",
        "tls.keystore.type",
        "PKCS11 is not supported",
    );
    check(
        &tls.replace(">file<", ">env<"),
        "password.type",
        "tls.keystore.keystore_password.type",
        "expected text or file",
    );

    let off = format!(
        "{}{}",
        p("tls", "N"),
        p("tls.keystore.keystore_file", "nowhere")
    );
    d.set("S", &set(PLAIN, "", &off));
    let loaded = d.load().unwrap();
    assert_eq!(loaded.sets[0].data[0].remote().proxy.tls, None);
    assert!(loaded.warnings[0].message.contains("while tls is not Y"));
}
