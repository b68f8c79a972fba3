//! Loads real keystores made by `openssl` and `keytool` at test time, and
//! does real TLS handshakes against the resulting server configuration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use shoal_config::KeystoreType;
use shoal_tls::{load, server_config, CertSource, LoadedCert, TlsErrorKind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

const PASSWORD: &str = "s3cret-pass";

struct Fixtures {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixtures {
    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// Runs a fixture tool; a missing tool fails the test saying which.
fn run(dir: &Path, tool: &str, args: &[&str]) {
    let output = match Command::new(tool).args(args).current_dir(dir).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "the `{tool}` tool is not installed (or not on PATH): the TLS tests need it \
             to generate their certificates and keystores"
        ),
        Err(e) => panic!("cannot run `{tool}`: {e}"),
    };
    assert!(
        output.status.success(),
        "`{tool} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

const CA_CONF: &str = "\
[ ca ]
default_ca = test_ca
[ test_ca ]
database = index.txt
new_certs_dir = newcerts
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
commonName = supplied
";

fn make_fixtures() -> Fixtures {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let d = root.as_path();
    let pass = format!("pass:{PASSWORD}");

    // A test CA.
    run(
        d,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Shoal Test CA",
            "-days",
            "3",
        ],
    );
    // Leaves signed by the CA: (name, key algorithm, SAN).
    let leaves = [
        ("push", "ec", "DNS:push.example.test"),
        ("push1", "rsa", "DNS:push1.example.test"),
        ("wild", "ec", "DNS:*.example.test"),
    ];
    for (name, alg, san) in leaves {
        let key = format!("{name}.key");
        let mut args = vec!["req", "-newkey", alg];
        match alg {
            "ec" => args.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]),
            _ => args.extend(["-pkeyopt", "rsa_keygen_bits:2048"]),
        }
        let cn = format!("/CN={}", san.trim_start_matches("DNS:"));
        let ext = format!("subjectAltName={san}");
        let cert = format!("{name}.pem");
        let csr = format!("{name}.csr");
        args.extend([
            "-nodes", "-keyout", &key, "-out", &csr, "-subj", &cn, "-addext", &ext,
        ]);
        run(d, "openssl", &args);
        run(
            d,
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-days",
                "3",
                "-copy_extensions",
                "copy",
                "-out",
                &cert,
            ],
        );
        // PEM chain: leaf then CA.
        let chain = [
            std::fs::read_to_string(d.join(&cert)).unwrap(),
            std::fs::read_to_string(d.join("ca.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(d.join(format!("{name}-chain.pem")), chain).unwrap();
        // PKCS12 with the chain.
        let p12 = format!("{name}.p12");
        run(
            d,
            "openssl",
            &[
                "pkcs12",
                "-export",
                "-in",
                &cert,
                "-inkey",
                &key,
                "-certfile",
                "ca.pem",
                "-name",
                name,
                "-out",
                &p12,
                "-passout",
                &pass,
            ],
        );
    }

    // An expired leaf, through `openssl ca` with explicit dates.
    std::fs::write(d.join("ca.cnf"), CA_CONF).unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "1000\n").unwrap();
    std::fs::create_dir(d.join("newcerts")).unwrap();
    run(
        d,
        "openssl",
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "old.key",
            "-out",
            "old.csr",
            "-subj",
            "/CN=old.example.test",
            "-addext",
            "subjectAltName=DNS:old.example.test",
        ],
    );
    run(
        d,
        "openssl",
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca.key",
            "-in",
            "old.csr",
            "-out",
            "old.pem",
            "-notext",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
        ],
    );

    // JKS with two key entries (push, push1), through keytool.
    for name in ["push", "push1"] {
        let p12 = format!("{name}.p12");
        run(
            d,
            "keytool",
            &[
                "-importkeystore",
                "-noprompt",
                "-srckeystore",
                &p12,
                "-srcstoretype",
                "PKCS12",
                "-srcstorepass",
                PASSWORD,
                "-destkeystore",
                "two.jks",
                "-deststoretype",
                "JKS",
                "-deststorepass",
                PASSWORD,
            ],
        );
    }
    // A JKS truststore with no key entry.
    run(
        d,
        "keytool",
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            "ca.pem",
            "-keystore",
            "trust.jks",
            "-storetype",
            "JKS",
            "-storepass",
            PASSWORD,
        ],
    );
    Fixtures { _dir: dir, root }
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(make_fixtures)
}

fn source(kind: KeystoreType, file: &str, password: Option<&str>, key: Option<&str>) -> CertSource {
    let f = fixtures();
    CertSource {
        kind,
        file: f.path(file),
        password: password.map(str::to_owned),
        key_file: key.map(|k| f.path(k)),
    }
}

fn load_one(source: &CertSource) -> LoadedCert {
    let mut certs = load(source).unwrap();
    assert_eq!(
        certs.len(),
        1,
        "one entry expected in {}",
        source.file.display()
    );
    certs.remove(0)
}

#[test]
fn pem_loads_with_subject_sans_and_dates() {
    let cert = load_one(&source(
        KeystoreType::Pem,
        "push-chain.pem",
        None,
        Some("push.key"),
    ));
    assert_eq!(cert.chain.len(), 2);
    assert_eq!(cert.info.subject, "CN=push.example.test");
    assert_eq!(cert.info.sans, vec!["push.example.test"]);
    assert!(!cert.info.expired);
    assert!(
        cert.info.not_before.ends_with('Z'),
        "{}",
        cert.info.not_before
    );
    assert!(cert.info.not_after > cert.info.not_before);
    assert_eq!(cert.info.alias, None);
}

#[test]
fn pem_with_key_in_the_same_file_loads() {
    let f = fixtures();
    let both = [
        std::fs::read_to_string(f.path("push1.pem")).unwrap(),
        std::fs::read_to_string(f.path("push1.key")).unwrap(),
    ]
    .concat();
    std::fs::write(f.path("push1-both.pem"), both).unwrap();
    let cert = load_one(&source(KeystoreType::Pem, "push1-both.pem", None, None));
    assert_eq!(cert.info.sans, vec!["push1.example.test"]);
}

#[test]
fn pkcs12_loads() {
    let cert = load_one(&source(
        KeystoreType::Pkcs12,
        "push1.p12",
        Some(PASSWORD),
        None,
    ));
    assert_eq!(cert.info.subject, "CN=push1.example.test");
    assert_eq!(cert.info.sans, vec!["push1.example.test"]);
    assert_eq!(cert.info.alias.as_deref(), Some("push1"));
    assert_eq!(cert.chain.len(), 2, "the CA travels in the chain");
    assert!(!cert.info.expired);
}

#[test]
fn jks_with_two_key_entries_loads_both_in_alias_order() {
    let certs = load(&source(KeystoreType::Jks, "two.jks", Some(PASSWORD), None)).unwrap();
    let names: Vec<_> = certs
        .iter()
        .map(|c| (c.info.alias.clone().unwrap(), c.info.sans.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("push".to_owned(), vec!["push.example.test".to_owned()]),
            ("push1".to_owned(), vec!["push1.example.test".to_owned()]),
        ]
    );
    assert!(certs.iter().all(|c| !c.info.expired && c.chain.len() == 2));
}

fn assert_error(source: &CertSource, kind: TlsErrorKind, words: &[&str]) -> String {
    let err = load(source).expect_err("loading should fail");
    let message = err.to_string();
    eprintln!("{message}");
    assert_eq!(err.kind(), kind, "{message}");
    for word in words {
        assert!(
            message.contains(word),
            "{message:?} should mention {word:?}"
        );
    }
    message
}

#[test]
fn wrong_password_names_the_file() {
    for (kind, file) in [
        (KeystoreType::Pkcs12, "push.p12"),
        (KeystoreType::Jks, "two.jks"),
    ] {
        let s = source(kind, file, Some("not-the-password"), None);
        let path = s.file.display().to_string();
        assert_error(&s, TlsErrorKind::WrongPassword, &[&path, "password"]);
    }
}

#[test]
fn missing_file_names_the_file() {
    for kind in [KeystoreType::Jks, KeystoreType::Pkcs12, KeystoreType::Pem] {
        let s = source(kind, "nowhere.bin", Some(PASSWORD), None);
        let path = s.file.display().to_string();
        assert_error(&s, TlsErrorKind::Unreadable, &[&path, "does not exist"]);
    }
    let s = source(KeystoreType::Pem, "push.pem", None, Some("nokey.pem"));
    let path = s.key_file.clone().unwrap().display().to_string();
    assert_error(&s, TlsErrorKind::Unreadable, &[&path, "does not exist"]);
}

#[test]
fn wrong_type_is_reported() {
    let s = source(KeystoreType::Jks, "push.p12", Some(PASSWORD), None);
    assert_error(
        &s,
        TlsErrorKind::NotAKeystore,
        &["not a JKS keystore", "PKCS12"],
    );
    let s = source(KeystoreType::Pkcs12, "two.jks", Some(PASSWORD), None);
    assert_error(
        &s,
        TlsErrorKind::NotAKeystore,
        &["not a PKCS12 keystore", "JKS"],
    );
    let s = source(KeystoreType::Pkcs12, "push.pem", Some(PASSWORD), None);
    assert_error(&s, TlsErrorKind::NotAKeystore, &["push.pem", "PKCS12"]);
    let s = source(KeystoreType::Pem, "push.p12", None, Some("push.key"));
    assert_error(&s, TlsErrorKind::NotAKeystore, &["push.p12"]);
}

#[test]
fn keystore_without_key_entry_is_refused() {
    let s = source(KeystoreType::Jks, "trust.jks", Some(PASSWORD), None);
    assert_error(
        &s,
        TlsErrorKind::NoPrivateKey,
        &["trust.jks", "no private key"],
    );
    let s = source(KeystoreType::Pem, "push.pem", None, None);
    assert_error(&s, TlsErrorKind::NoPrivateKey, &["push.pem", "<key_file>"]);
}

#[test]
fn key_not_matching_the_certificate_is_refused() {
    // Same algorithm (P-256), another key.
    let s = source(KeystoreType::Pem, "push.pem", None, Some("wild.key"));
    assert_error(
        &s,
        TlsErrorKind::KeyMismatch,
        &["wild.key", "does not match"],
    );
    // Another algorithm.
    let s = source(KeystoreType::Pem, "push.pem", None, Some("push1.key"));
    assert_error(
        &s,
        TlsErrorKind::KeyMismatch,
        &["push1.key", "does not match"],
    );
}

#[test]
fn expired_certificate_is_refused_with_its_date() {
    let s = source(KeystoreType::Pem, "old.pem", None, Some("old.key"));
    assert_error(
        &s,
        TlsErrorKind::Expired,
        &["old.pem", "expired", "2020-01-02T00:00:00Z"],
    );
}

#[test]
fn no_certificate_means_no_config() {
    assert!(server_config(Vec::new()).is_err());
}

/// Handshakes over an in-memory pipe; returns the leaf the server presented
/// and the negotiated ALPN protocol.
async fn handshake(
    config: Arc<rustls::ServerConfig>,
    name: &str,
    send_sni: bool,
) -> (shoal_tls::CertInfo, Option<Vec<u8>>) {
    let f = fixtures();
    let mut roots = rustls::RootCertStore::empty();
    let ca = load_ca(&f.path("ca.pem"));
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.enable_sni = send_sni;
    client.alpn_protocols = vec![b"http/1.1".to_vec()];

    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let server = tokio::spawn(async move {
        let mut tls = acceptor.accept(server_io).await.unwrap();
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.unwrap();
        tls.write_all(&buf).await.unwrap();
        tls.shutdown().await.unwrap();
    });
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut tls = connector.connect(server_name, client_io).await.unwrap();
    tls.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    let (_, conn) = tls.get_ref();
    let leaf = conn.peer_certificates().unwrap()[0].clone();
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    server.await.unwrap();
    (shoal_tls::describe(&leaf).unwrap(), alpn)
}

fn load_ca(path: &Path) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(path).unwrap()
}

fn two_certs() -> Vec<LoadedCert> {
    let mut certs = load(&source(
        KeystoreType::Pem,
        "push-chain.pem",
        None,
        Some("push.key"),
    ))
    .unwrap();
    certs.extend(
        load(&source(
            KeystoreType::Pkcs12,
            "push1.p12",
            Some(PASSWORD),
            None,
        ))
        .unwrap(),
    );
    certs
}

#[tokio::test]
async fn sni_picks_the_certificate_and_alpn_is_http11() {
    let config = server_config(two_certs()).unwrap();
    let (leaf, alpn) = handshake(config.clone(), "push1.example.test", true).await;
    assert_eq!(leaf.sans, vec!["push1.example.test"]);
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    let (leaf, _) = handshake(config, "push.example.test", true).await;
    assert_eq!(leaf.sans, vec!["push.example.test"]);
}

#[tokio::test]
async fn without_sni_the_first_certificate_is_served() {
    let config = server_config(two_certs()).unwrap();
    let (leaf, _) = handshake(config, "push.example.test", false).await;
    assert_eq!(leaf.sans, vec!["push.example.test"]);
}

#[tokio::test]
async fn jks_entries_serve_by_sni() {
    let certs = load(&source(KeystoreType::Jks, "two.jks", Some(PASSWORD), None)).unwrap();
    let config = server_config(certs).unwrap();
    let (leaf, _) = handshake(config, "push1.example.test", true).await;
    assert_eq!(leaf.sans, vec!["push1.example.test"]);
}

#[tokio::test]
async fn wildcard_serves_other_names_and_exact_names_win() {
    let mut certs = load(&source(
        KeystoreType::Pem,
        "wild-chain.pem",
        None,
        Some("wild.key"),
    ))
    .unwrap();
    certs.extend(
        load(&source(
            KeystoreType::Pem,
            "push-chain.pem",
            None,
            Some("push.key"),
        ))
        .unwrap(),
    );
    let config = server_config(certs).unwrap();
    let (leaf, _) = handshake(config.clone(), "other.example.test", true).await;
    assert_eq!(leaf.sans, vec!["*.example.test"]);
    let (leaf, _) = handshake(config, "push.example.test", true).await;
    assert_eq!(leaf.sans, vec!["push.example.test"]);
}
