//! The kits' keystores in Shoal's own TLS loader, and a real handshake
//! against the server configuration it builds from them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rustls::pki_types::{CertificateDer, ServerName};
use shoal_certgen::{Ca, Leaf};
use shoal_config::KeystoreType;
use shoal_tls::{load, server_config, CertSource, LoadedCert, TlsErrorKind};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "kit-pass";

fn pkcs12_source(dir: &Path, leaf: &Leaf, password: &str, alias: &str) -> CertSource {
    let file = dir.join(format!("{alias}.p12"));
    std::fs::write(&file, leaf.pkcs12(PASSWORD, alias).unwrap()).unwrap();
    CertSource {
        kind: KeystoreType::Pkcs12,
        file,
        password: Some(password.to_owned()),
        key_file: None,
    }
}

fn load_pkcs12(dir: &Path, leaf: &Leaf, alias: &str) -> LoadedCert {
    let mut loaded = load(&pkcs12_source(dir, leaf, PASSWORD, alias)).unwrap();
    assert_eq!(loaded.len(), 1);
    loaded.remove(0)
}

#[test]
fn pkcs12_loads_in_shoal_with_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate("Kit CA").unwrap();
    let leaf = ca.issue(&["push.example.test", "127.0.0.1"]).unwrap();

    let loaded = load_pkcs12(dir.path(), &leaf, "push");
    assert_eq!(loaded.chain.len(), 2, "leaf then CA");
    assert_eq!(loaded.chain[0].as_ref(), leaf.cert_der());
    assert_eq!(loaded.info.alias.as_deref(), Some("push"));
    assert_eq!(
        loaded.info.common_name.as_deref(),
        Some("push.example.test")
    );
    assert_eq!(loaded.info.sans, ["push.example.test", "127.0.0.1"]);
    assert!(!loaded.info.expired);
    server_config(vec![loaded]).unwrap();
}

#[test]
fn pkcs12_with_a_wrong_password_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate("Kit CA").unwrap();
    let leaf = ca.issue(&["push.example.test"]).unwrap();

    let err = load(&pkcs12_source(dir.path(), &leaf, "not-the-pass", "push")).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::WrongPassword, "{err}");
}

/// Connects to a server of `config` on 127.0.0.1 with SNI `name`, trusting
/// only `ca`: the certificate served, or the client's error.
fn handshake(
    config: Arc<rustls::ServerConfig>,
    ca: &CertificateDer<'static>,
    name: &str,
) -> Result<CertificateDer<'static>, rustls::Error> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut ping = [0u8; 4];
        // A client that refuses the certificate ends the handshake here.
        if tls.read_exact(&mut ping).is_ok() {
            assert_eq!(&ping, b"ping");
            tls.write_all(b"pong").unwrap();
            tls.flush().unwrap();
        }
    });

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(client_config), server_name).unwrap();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let result = loop {
        if !conn.is_handshaking() {
            break Ok(());
        }
        if let Err(e) = conn.complete_io(&mut tcp) {
            break Err(e);
        }
    };
    let outcome = match result {
        Ok(()) => {
            let served = conn.peer_certificates().unwrap()[0].clone();
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            tls.write_all(b"ping").unwrap();
            let mut pong = [0u8; 4];
            tls.read_exact(&mut pong).unwrap();
            assert_eq!(&pong, b"pong");
            Ok(served)
        }
        Err(e) => {
            let inner = e.into_inner().expect("a TLS error");
            Err(*inner.downcast::<rustls::Error>().expect("a rustls error"))
        }
    };
    drop(tcp);
    server.join().unwrap();
    outcome
}

#[test]
fn wildcard_certificate_serves_a_real_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate("Kit CA").unwrap();
    let leaf = ca.issue(&["*.example.test"]).unwrap();
    let loaded = load_pkcs12(dir.path(), &leaf, "wild");
    let config = server_config(vec![loaded]).unwrap();
    let ca_der = CertificateDer::from(ca.cert_der().to_vec());

    let served = handshake(config.clone(), &ca_der, "push1.example.test").unwrap();
    assert_eq!(served.as_ref(), leaf.cert_der());

    let err = handshake(config.clone(), &ca_der, "push.other.test").unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
                | rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForNameContext { .. }
                )
        ),
        "{err:?}"
    );

    // Another CA's clients do not trust it.
    let other = Ca::generate("Other CA").unwrap();
    let other_der = CertificateDer::from(other.cert_der().to_vec());
    let err = handshake(config, &other_der, "push1.example.test").unwrap_err();
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(_)),
        "{err:?}"
    );
}
