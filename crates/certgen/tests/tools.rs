//! What the kits' files are for: `openssl` and `haproxy` accept them, and
//! an operator's CA made by `openssl` signs kits that verify against it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use shoal_certgen::{Ca, Error};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PASSWORD: &str = "kit-pass";

/// Runs `tool` in `dir`; a missing tool fails the test saying how to
/// install it.
fn run(dir: &Path, tool: &str, args: &[&str], install: &str) -> Output {
    match Command::new(tool).args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{tool}` is not installed: {install}")
        }
        Err(e) => panic!("cannot run `{tool}`: {e}"),
    }
}

/// Runs `openssl`, which may fail.
fn try_openssl(dir: &Path, args: &[&str]) -> Output {
    run(dir, "openssl", args, "apt-get install openssl")
}

/// Runs `openssl`, which must succeed; its standard output.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = try_openssl(dir, args);
    assert!(
        output.status.success(),
        "`openssl {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// The `openssl` arguments that verify the certificate `file` for a TLS
/// server against the CA in `ca.pem`, and for the name `host` if given.
fn verify<'a>(file: &'a str, host: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec!["verify", "-CAfile", "ca.pem", "-purpose", "sslserver"];
    if let Some(host) = host {
        args.extend(["-verify_hostname", host]);
    }
    args.push(file);
    args
}

/// The subjectAltName extension of the certificate `file`, as `openssl`
/// prints it.
fn sans(dir: &Path, file: &str) -> String {
    openssl(
        dir,
        &["x509", "-in", file, "-noout", "-ext", "subjectAltName"],
    )
}

/// The `openssl` arguments that read the PKCS12 keystore `push.p12` with
/// `password`, then `what` (like `-nokeys`) says what to print.
fn pkcs12<'a>(password: &'a str, what: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["pkcs12", "-in", "push.p12", "-passin", password];
    args.extend_from_slice(what);
    args
}

/// The `openssl` arguments that make an ECDSA P-256 key in `ca.key`.
const EC_P256_KEY: &[&str] = &[
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "ca.key",
];

#[test]
fn openssl_reads_the_keystore_and_verifies_the_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::generate("Kit CA").unwrap();
    let leaf = ca
        .issue(&["push.example.test", "push1.example.test", "127.0.0.1"])
        .unwrap();
    write(d, "ca.pem", ca.cert_pem());
    write(d, "leaf.pem", leaf.cert_pem());
    write(d, "leaf.key", leaf.key_pem());
    write(d, "push.p12", leaf.pkcs12(PASSWORD, "push").unwrap());

    let pass = format!("pass:{PASSWORD}");
    let certs = openssl(d, &pkcs12(&pass, &["-nokeys"]));
    assert_eq!(
        certs.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{certs}"
    );
    assert!(certs.contains("subject=CN = push.example.test"), "{certs}");
    let key = openssl(d, &pkcs12(&pass, &["-nocerts", "-nodes"]));
    assert!(key.contains("-----BEGIN PRIVATE KEY-----"), "{key}");
    // The alias is the key entry's name, as Java's keytool lists it.
    assert!(key.contains("friendlyName: push"), "{key}");
    let wrong = try_openssl(d, &pkcs12("pass:wrong", &["-nokeys"]));
    assert!(
        !wrong.status.success(),
        "openssl opened the keystore with a wrong password"
    );

    let verified = openssl(d, &verify("leaf.pem", Some("push1.example.test")));
    assert!(verified.contains("leaf.pem: OK"), "{verified}");
    // The key is the certificate's.
    let from_cert = openssl(d, &["x509", "-in", "leaf.pem", "-noout", "-pubkey"]);
    let from_key = openssl(d, &["pkey", "-in", "leaf.key", "-pubout"]);
    assert_eq!(from_cert, from_key);

    let sans = sans(d, "leaf.pem");
    assert!(
        sans.contains("DNS:push.example.test, DNS:push1.example.test, IP Address:127.0.0.1"),
        "{sans}"
    );
    let subject = openssl(d, &["x509", "-in", "leaf.pem", "-noout", "-subject"]);
    assert!(subject.contains("CN = push.example.test"), "{subject}");
}

#[test]
fn openssl_sees_the_wildcard() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::generate("Kit CA").unwrap();
    let leaf = ca.issue(&["*.example.test"]).unwrap();
    write(d, "ca.pem", ca.cert_pem());
    write(d, "wild.pem", leaf.cert_pem());

    let sans = sans(d, "wild.pem");
    assert!(sans.contains("DNS:*.example.test"), "{sans}");
    let verified = openssl(d, &verify("wild.pem", Some("push1.example.test")));
    assert!(verified.contains("wild.pem: OK"), "{verified}");
    let other = try_openssl(d, &verify("wild.pem", Some("push.other.test")));
    assert!(
        !other.status.success(),
        "the wildcard verified for push.other.test"
    );
}

/// An operator's CA as `openssl` makes it: `key_args` make the key file
/// `ca.key`, then a self-signed CA certificate `ca.pem` is made with it.
fn operator_ca(d: &Path, key_args: &[&str]) {
    openssl(d, key_args);
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/O=Operator/CN=Operator CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

#[test]
fn an_operator_ca_from_openssl_signs_kits_that_verify() {
    let cases: [(&str, &[&str], &str); 4] = [
        ("EC PKCS#8", EC_P256_KEY, "-----BEGIN PRIVATE KEY-----"),
        (
            "EC SEC1",
            &[
                "ecparam",
                "-name",
                "secp384r1",
                "-genkey",
                "-noout",
                "-out",
                "ca.key",
            ],
            "-----BEGIN EC PRIVATE KEY-----",
        ),
        (
            "RSA PKCS#8",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "ca.key",
            ],
            "-----BEGIN PRIVATE KEY-----",
        ),
        (
            "RSA PKCS#1",
            &["genrsa", "-traditional", "-out", "ca.key", "2048"],
            "-----BEGIN RSA PRIVATE KEY-----",
        ),
    ];
    for (what, key_args, header) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        operator_ca(d, key_args);
        let cert_pem = std::fs::read_to_string(d.join("ca.pem")).unwrap();
        let key_pem = std::fs::read_to_string(d.join("ca.key")).unwrap();
        assert!(key_pem.contains(header), "{what}: {key_pem}");

        let ca = Ca::from_pem(&cert_pem, &key_pem)
            .unwrap_or_else(|e| panic!("{what}: the operator's CA is refused: {e}"));
        let leaf = ca.issue(&["push.example.test"]).unwrap();
        write(d, "leaf.pem", leaf.cert_pem());
        let verified = openssl(d, &verify("leaf.pem", None));
        assert!(verified.contains("leaf.pem: OK"), "{what}: {verified}");
        // Signed for no longer than the CA lives.
        let end = try_openssl(
            d,
            &["x509", "-in", "leaf.pem", "-noout", "-checkend", "2678400"],
        );
        let end = String::from_utf8_lossy(&end.stdout);
        assert!(end.contains("Certificate will expire"), "{what}: {end}");
        // The keystore carries the operator's CA.
        write(d, "push.p12", leaf.pkcs12(PASSWORD, "push").unwrap());
        let certs = openssl(d, &pkcs12(&format!("pass:{PASSWORD}"), &["-nokeys"]));
        assert!(certs.contains("CN = Operator CA"), "{what}: {certs}");
    }
}

#[test]
fn a_malformed_operator_ca_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    operator_ca(d, EC_P256_KEY);
    let cert_pem = std::fs::read_to_string(d.join("ca.pem")).unwrap();
    let key_pem = std::fs::read_to_string(d.join("ca.key")).unwrap();

    let truncated = &cert_pem[..cert_pem.len() / 2];
    let err = Ca::from_pem(truncated, &key_pem).unwrap_err();
    assert!(matches!(err, Error::CaCertificate(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the CA certificate is not usable"),
        "{err}"
    );

    let err = Ca::from_pem(&key_pem, &key_pem).unwrap_err();
    assert!(
        err.to_string().contains("no PEM certificate found"),
        "{err}"
    );

    let err = Ca::from_pem(&cert_pem, &cert_pem).unwrap_err();
    assert!(
        err.to_string().contains("no PEM private key found"),
        "{err}"
    );

    openssl(
        d,
        &[
            "pkey", "-in", "ca.key", "-aes256", "-passout", "pass:x", "-out", "enc.key",
        ],
    );
    let encrypted = std::fs::read_to_string(d.join("enc.key")).unwrap();
    let err = Ca::from_pem(&cert_pem, &encrypted).unwrap_err();
    assert!(err.to_string().contains("encrypted"), "{err}");
}

/// `haproxy`, which the project's test command installs: on PATH or in
/// /usr/sbin (which a non-root PATH may lack).
fn haproxy() -> PathBuf {
    let on_path = Command::new("haproxy").arg("-v").output().is_ok();
    if on_path {
        return PathBuf::from("haproxy");
    }
    let sbin = PathBuf::from("/usr/sbin/haproxy");
    assert!(
        sbin.exists(),
        "haproxy is not installed: apt-get install haproxy (this test checks that the \
         kits' HAProxy PEM files load, and must not be skipped)"
    );
    sbin
}

/// `haproxy -c` on a minimal configuration serving `pem`. The check only
/// parses and binds nothing, so the port is arbitrary (HAProxy refuses 0).
fn haproxy_check(d: &Path, pem: &Path) -> Output {
    let cfg = format!(
        "global\n\
         \x20   maxconn 16\n\
         defaults\n\
         \x20   mode http\n\
         \x20   timeout connect 1s\n\
         \x20   timeout client 1s\n\
         \x20   timeout server 1s\n\
         frontend push\n\
         \x20   bind 127.0.0.1:8443 ssl crt {}\n\
         \x20   default_backend shoal\n\
         backend shoal\n\
         \x20   server s1 127.0.0.1:8080\n",
        pem.display()
    );
    let cfg = write(d, "haproxy.cfg", cfg);
    let haproxy = haproxy();
    run(
        d,
        haproxy.to_str().unwrap(),
        &["-c", "-f", cfg.to_str().unwrap()],
        "apt-get install haproxy",
    )
}

#[test]
fn haproxy_accepts_the_pem_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::generate("Kit CA").unwrap();
    let leaf = ca.issue(&["push.example.test"]).unwrap();

    let pem = leaf.haproxy_pem();
    let blocks: Vec<&str> = pem
        .lines()
        .filter(|l| l.starts_with("-----BEGIN"))
        .collect();
    assert_eq!(
        blocks,
        [
            "-----BEGIN CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----",
            "-----BEGIN PRIVATE KEY-----"
        ]
    );
    let good = haproxy_check(d, &write(d, "push.pem", pem));
    assert!(
        good.status.success(),
        "haproxy refused the PEM file: {}{}",
        String::from_utf8_lossy(&good.stdout),
        String::from_utf8_lossy(&good.stderr)
    );

    // The check is real: a certificate without its key is refused.
    let bad = haproxy_check(d, &write(d, "nokey.pem", leaf.chain_pem()));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && said.contains("nokey.pem"),
        "haproxy accepted a PEM file without a key: {said}"
    );
}
