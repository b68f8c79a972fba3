//! A peer's `status.json`, fetched with one small HTTP/1.1 GET over tokio
//! (plain TCP, or TLS through rustls with the public web roots for
//! `https://` consoles). One request per connection (`Connection: close`);
//! the answer's body is bounded by [`MAX_BODY`].

use crate::cluster::Failure;
use crate::status::Status;
use base64::Engine as _;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest body read from a peer.
pub const MAX_BODY: usize = 64 * 1024;
/// Room for the status line and headers on top of it.
const MAX_HEAD: usize = 8 * 1024;

/// A console to poll. `Debug` hides the password.
#[derive(Clone)]
pub struct Peer {
    pub name: String,
    /// The console's URL, ending with `/`.
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The parts of a console URL a request needs.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    tls: bool,
    /// `host` or `host:port`, as the `Host` header carries it.
    authority: &'a str,
    host: &'a str,
    port: u16,
    path: &'a str,
}

fn target(url: &str) -> Result<Target<'_>, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("{url}: not an http:// or https:// URL"));
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let default = if tls { 443 } else { 80 };
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse().map_err(|_| format!("{url}: bad port"))?),
        _ => (authority, default),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(Target {
        tls,
        authority,
        host,
        port,
        path: if path.is_empty() { "/" } else { path },
    })
}

impl Peer {
    /// One GET of `<url>status.json`; the caller bounds the time.
    pub async fn fetch(&self) -> Result<Status, Failure> {
        let unreachable = |e: String| Failure::Unreachable(e);
        let t = target(&self.url).map_err(unreachable)?;
        let tcp = TcpStream::connect((t.host, t.port))
            .await
            .map_err(|e| unreachable(format!("connect to {}: {e}", t.authority)))?;
        let request = self.request(&t);
        let answer = if t.tls {
            let name = rustls_pki_types::ServerName::try_from(t.host.to_owned())
                .map_err(|e| unreachable(format!("{}: {e}", t.host)))?;
            let tls = tokio_rustls::TlsConnector::from(tls_config()?)
                .connect(name, tcp)
                .await
                .map_err(|e| unreachable(format!("TLS with {}: {e}", t.authority)))?;
            exchange(tls, &request).await
        } else {
            exchange(tcp, &request).await
        };
        let (code, body) = answer.map_err(unreachable)?;
        match code {
            200 => Status::from_json(&body)
                .map_err(|e| unreachable(format!("status.json is not a status document: {e}"))),
            401 | 403 => Err(Failure::Refused(format!(
                "{code} from the peer's console: give it user= and password= of one of its <user>s"
            ))),
            _ => Err(unreachable(format!("status.json answered {code}"))),
        }
    }

    fn request(&self, t: &Target<'_>) -> String {
        let mut req = format!(
            "GET {}status.json HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n",
            t.path, t.authority
        );
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            req.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        req.push_str("\r\n");
        req
    }
}

/// Sends `request` and reads the answer to its end: (status code, body).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Result<(u16, Vec<u8>), String> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    let limit = (MAX_HEAD + MAX_BODY + 1) as u64;
    (&mut stream)
        .take(limit)
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("read: {e}"))?;
    parse(&raw)
}

/// Splits an HTTP/1.1 answer read to its end.
fn parse(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete HTTP answer")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the answer's head is not text")?;
    let mut lines = head.split("\r\n");
    let code = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("no HTTP status line")?;
    let mut body = raw[end + 4..].to_vec();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            return Err("a chunked answer (Shoal's consoles send a length)".into());
        }
        if name.eq_ignore_ascii_case("content-length") {
            let len: usize = value.parse().map_err(|_| "bad Content-Length")?;
            if len > MAX_BODY || body.len() < len {
                return Err(format!(
                    "a body of {len} bytes (at most {MAX_BODY} are read)"
                ));
            }
            body.truncate(len);
        }
    }
    if body.len() > MAX_BODY {
        return Err(format!("a body over {MAX_BODY} bytes"));
    }
    Ok((code, body))
}

/// rustls with the public web roots, built once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Failure> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(Failure::Unreachable)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_split_into_what_a_request_needs() {
        let t = target("http://node2.example:8080/dashboard/").unwrap();
        assert_eq!(
            (t.tls, t.host, t.port, t.path),
            (false, "node2.example", 8080, "/dashboard/")
        );
        assert_eq!(t.authority, "node2.example:8080");
        let t = target("https://[::1]/d/").unwrap();
        assert_eq!((t.tls, t.host, t.port, t.path), (true, "::1", 443, "/d/"));
        assert!(target("ftp://x/").is_err());
        assert!(target("http://x:port/").is_err());
    }

    #[test]
    fn answers_are_split_and_bounded() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse(ok).unwrap(), (200, b"{}".to_vec()));
        let refused = b"HTTP/1.1 401 Unauthorized\r\n\r\n";
        assert_eq!(parse(refused).unwrap().0, 401);
        let big = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(parse(big.as_bytes()).unwrap_err().contains("at most"));
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert!(parse(chunked).is_err());
    }

    #[tokio::test]
    async fn a_peer_is_fetched_with_its_credentials() {
        use tokio::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let body = Status {
                name: "n2".into(),
                sessions: 3,
                ..Status::default()
            }
            .to_json();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(answer.as_bytes()).await.unwrap();
            req
        });
        let peer = Peer {
            name: "n2".into(),
            url: format!("http://{addr}/dashboard/"),
            user: Some("ops".into()),
            password: Some("pw".into()),
        };
        let status = peer.fetch().await.unwrap();
        assert_eq!((status.name.as_str(), status.sessions), ("n2", 3));
        let req = server.await.unwrap();
        assert!(
            req.starts_with("GET /dashboard/status.json HTTP/1.1\r\n"),
            "{req}"
        );
        // ops:pw
        assert!(req.contains("Authorization: Basic b3BzOnB3\r\n"), "{req}");
        assert!(!format!("{peer:?}").contains("pw"));
    }
}
