#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn status_json(name: &str, sessions: u64) -> String {
    Status {
        name: name.into(),
        sessions,
        ..Status::default()
    }
    .to_json()
}

/// A console that answers one request with `answer`; resolves with the
/// request's head as received.
async fn one_answer<S, F>(accept: F, answer: String) -> tokio::task::JoinHandle<String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnOnce(TcpStream) -> std::pin::Pin<Box<dyn std::future::Future<Output = S> + Send>>
        + Send
        + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    PORT.with(|p| p.set(addr.port()));
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut s = accept(tcp).await;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended early");
            head.extend_from_slice(&buf[..n]);
        }
        s.write_all(answer.as_bytes()).await.unwrap();
        s.shutdown().await.ok();
        String::from_utf8_lossy(&head).into_owned()
    })
}

thread_local! {
    static PORT: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

fn port() -> u16 {
    PORT.with(|p| p.get())
}

fn plain(tcp: TcpStream) -> std::pin::Pin<Box<dyn std::future::Future<Output = TcpStream> + Send>> {
    Box::pin(async move { tcp })
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "current_thread")]
async fn a_peer_is_fetched_with_its_credentials() {
    let server = one_answer(plain, ok(&status_json("n2", 3))).await;
    let url = format!("http://127.0.0.1:{}/dashboard/", port());
    let peer = Peer::new("n2", &url, Some("ops".into()), Some("pw".into()));
    let status = peer.fetch().await.unwrap();
    assert_eq!((status.name.as_str(), status.sessions), ("n2", 3));
    let head = server.await.unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("get /dashboard/status.json http/1.1\r\n"),
        "{head}"
    );
    // ops:pw
    assert!(head.contains("authorization: basic b3bzonb3\r\n"), "{head}");
    assert!(!format!("{peer:?}").contains("pw"));
}

#[tokio::test(flavor = "current_thread")]
async fn chunked_answers_are_read_and_large_ones_refused() {
    let body = status_json("n3", 5);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let server = one_answer(plain, chunked).await;
    let peer = Peer::new("n3", &format!("http://127.0.0.1:{}/d/", port()), None, None);
    assert_eq!(peer.fetch().await.unwrap().sessions, 5);
    server.await.unwrap();

    let big = format!("\"{}\"", "x".repeat(MAX_BODY));
    let server = one_answer(plain, ok(&big)).await;
    let peer = Peer::new("n3", &format!("http://127.0.0.1:{}/d/", port()), None, None);
    match peer.fetch().await {
        Err(Failure::Unreachable(why)) => assert!(why.contains("at most"), "{why}"),
        other => panic!("{other:?}"),
    }
    server.await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_refusal_says_which_credentials_to_give() {
    let server = one_answer(
        plain,
        "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n".into(),
    )
    .await;
    let peer = Peer::new("n4", &format!("http://127.0.0.1:{}/d/", port()), None, None);
    match peer.fetch().await {
        Err(Failure::Refused(why)) => assert!(why.contains("user="), "{why}"),
        other => panic!("{other:?}"),
    }
    server.await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn an_https_peer_of_a_private_ca_needs_its_ca_file() {
    let ca = shoal_certgen::Ca::generate("Shoal test CA").unwrap();
    let leaf = ca.issue(&["127.0.0.1"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let server_config = tls_server(&leaf);
    let tls = move |tcp: TcpStream| -> std::pin::Pin<
        Box<dyn std::future::Future<Output = tokio_rustls::server::TlsStream<TcpStream>> + Send>,
    > {
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config.clone());
        Box::pin(async move { acceptor.accept(tcp).await.unwrap() })
    };

    // The public roots alone do not know the kit's CA: the handshake fails.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port_now = listener.local_addr().unwrap().port();
    let refusing = tokio_rustls::TlsAcceptor::from(tls_server(&leaf));
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = refusing.accept(tcp).await;
    });
    let url = format!("https://127.0.0.1:{port_now}/dashboard/");
    match Peer::new("n5", &url, None, None).fetch().await {
        Err(Failure::Unreachable(why)) => assert!(why.contains("TLS with"), "{why}"),
        other => panic!("{other:?}"),
    }

    // With its ca_file, the peer is fetched.
    let server = one_answer(tls, ok(&status_json("n5", 7))).await;
    let url = format!("https://127.0.0.1:{}/dashboard/", port());
    let peer = Peer::new("n5", &url, None, None)
        .trusting(&ca_file)
        .unwrap();
    assert_eq!(peer.fetch().await.unwrap().sessions, 7);
    server.await.unwrap();

    // Reached by address, its certificate naming it otherwise: tls_name.
    let named_config = tls_server(&ca.issue(&["push.example.test"]).unwrap());
    let by_name = move |tcp: TcpStream| -> std::pin::Pin<
        Box<dyn std::future::Future<Output = tokio_rustls::server::TlsStream<TcpStream>> + Send>,
    > {
        let acceptor = tokio_rustls::TlsAcceptor::from(named_config.clone());
        Box::pin(async move { acceptor.accept(tcp).await.unwrap() })
    };
    let server = one_answer(by_name, ok(&status_json("n5", 8))).await;
    let url = format!("https://127.0.0.1:{}/dashboard/", port());
    let peer = Peer::new("n5", &url, None, None)
        .trusting(&ca_file)
        .unwrap()
        .named("push.example.test");
    assert_eq!(peer.fetch().await.unwrap().sessions, 8);
    server.await.unwrap();

    // A file with no certificate is refused when the config is read.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    assert!(matches!(
        Peer::new("n6", &url, None, None).trusting(&empty),
        Err(TrustError::Empty { .. })
    ));
}

fn tls_server(leaf: &shoal_certgen::Leaf) -> Arc<rustls::ServerConfig> {
    let certs = vec![CertificateDer::from(leaf.cert_der().to_vec())];
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(leaf.key_pem().as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}
