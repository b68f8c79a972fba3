//! A peer's `status.json`, fetched with one HTTP/1.1 GET on hyper's client
//! connection over tokio: plain TCP, or TLS through rustls for `https://`
//! consoles, trusting the public web roots and, when the peer is listed
//! with a `ca_file`, that private CA too (a kit's own CA, say). One request
//! per connection; the answer's body is bounded by [`MAX_BODY`].

use crate::cluster::Failure;
use crate::status::Status;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{header, Request, Uri};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest body read from a peer.
pub const MAX_BODY: usize = 64 * 1024;

/// A console to poll. `Debug` hides the password.
#[derive(Clone)]
pub struct Peer {
    pub name: String,
    /// The console's URL, ending with `/`.
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The TLS settings for an `https://` console with a private CA;
    /// `None`: the public roots only.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The name the peer's certificate is checked against; `None`: the
    /// URL's host.
    tls_name: Option<String>,
    /// Send a PROXY protocol (v1) header first.
    proxy_protocol: bool,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("user", &self.user)
            .field("private_ca", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a peer's `ca_file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("{path}: no PEM certificate in it")]
    Empty { path: PathBuf },
    #[error("{path}: {message}")]
    Tls { path: PathBuf, message: String },
}

impl Peer {
    pub fn new(name: &str, url: &str, user: Option<String>, password: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            url: url.to_owned(),
            user,
            password,
            tls: None,
            tls_name: None,
            proxy_protocol: false,
        }
    }

    /// Starts each connection with a PROXY protocol header, as the
    /// balancer in front of the peer's listener does.
    pub fn with_proxy_protocol(mut self) -> Self {
        self.proxy_protocol = true;
        self
    }

    /// Checks the peer's certificate against `name` rather than the URL's
    /// host (a peer reached by address whose certificate names it).
    pub fn named(mut self, name: &str) -> Self {
        self.tls_name = Some(name.to_owned());
        self
    }

    /// Trusts the CA certificates of the PEM file `ca_file` for this peer,
    /// beside the public roots.
    pub fn trusting(mut self, ca_file: &Path) -> Result<Self, TrustError> {
        let pem = |message: String| TrustError::Pem {
            path: ca_file.to_owned(),
            message,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| pem(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| pem(e.to_string()))?;
        if certs.is_empty() {
            return Err(TrustError::Empty {
                path: ca_file.to_owned(),
            });
        }
        let mut roots = public_roots();
        for cert in certs {
            roots.add(cert).map_err(|e| TrustError::Tls {
                path: ca_file.to_owned(),
                message: e.to_string(),
            })?;
        }
        let config = client_config(roots).map_err(|message| TrustError::Tls {
            path: ca_file.to_owned(),
            message,
        })?;
        self.tls = Some(config);
        Ok(self)
    }

    /// One GET of `<url>status.json`; the caller bounds the time.
    pub async fn fetch(&self) -> Result<Status, Failure> {
        let unreachable = |e: String| Failure::Unreachable(e);
        let uri: Uri = format!("{}status.json", self.url)
            .parse()
            .map_err(|e| unreachable(format!("{}: {e}", self.url)))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(unreachable(format!("{uri}: not http:// or https://"))),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| unreachable(format!("{uri}: no host")))?
            .clone();
        // `[v6]` in a URL, `v6` to connect to and to name in TLS.
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let mut tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| unreachable(format!("connect to {authority}: {e}")))?;
        if self.proxy_protocol {
            let header = proxy_v1(&tcp).map_err(|e| unreachable(format!("PROXY header: {e}")))?;
            tcp.write_all(header.as_bytes())
                .await
                .map_err(|e| unreachable(format!("send to {authority}: {e}")))?;
        }
        let request = self.request(&uri, authority.as_str())?;
        let (code, body) = if tls {
            let checked = self.tls_name.as_deref().unwrap_or(host);
            let name = rustls_pki_types::ServerName::try_from(checked.to_owned())
                .map_err(|e| unreachable(format!("{checked}: {e}")))?;
            let config = match &self.tls {
                Some(c) => c.clone(),
                None => public_config()?,
            };
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| unreachable(format!("TLS with {authority}: {e}")))?;
            get(stream, request).await
        } else {
            get(tcp, request).await
        }
        .map_err(unreachable)?;
        match code {
            200 => Status::from_json(&body)
                .map_err(|e| unreachable(format!("status.json is not a status document: {e}"))),
            401 | 403 => Err(Failure::Refused(format!(
                "{code} from the peer's console: give it user= and password= of one of its <user>s"
            ))),
            _ => Err(unreachable(format!("status.json answered {code}"))),
        }
    }

    fn request(&self, uri: &Uri, authority: &str) -> Result<Request<Empty<Bytes>>, Failure> {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut req = Request::get(path)
            .header(header::HOST, authority)
            .header(header::ACCEPT, "application/json");
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            req = req.header(header::AUTHORIZATION, format!("Basic {token}"));
        }
        req.body(Empty::new())
            .map_err(|e| Failure::Unreachable(format!("{uri}: {e}")))
    }
}

/// The PROXY protocol v1 line for a connection of ours: this node is the
/// client it names.
fn proxy_v1(tcp: &TcpStream) -> std::io::Result<String> {
    let (from, to) = (tcp.local_addr()?, tcp.peer_addr()?);
    let family = if from.is_ipv4() { "TCP4" } else { "TCP6" };
    Ok(format!(
        "PROXY {family} {} {} {} {}\r\n",
        from.ip(),
        to.ip(),
        from.port(),
        to.port()
    ))
}

/// Sends `request` on `io` and reads the answer: (status code, body of at
/// most [`MAX_BODY`] bytes, chunked or not).
async fn get<S>(io: S, request: Request<Empty<Bytes>>) -> Result<(u16, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    // The connection is driven beside the request; it ends once the
    // sender is dropped (or the caller's time limit drops this future).
    let driver = tokio::spawn(connection);
    let outcome = async {
        let res = sender
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let code = res.status().as_u16();
        let body = Limited::new(res.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("the answer's body: {e} (at most {MAX_BODY} bytes are read)"))?
            .to_bytes();
        Ok((code, body))
    }
    .await;
    driver.abort();
    outcome
}

fn public_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn client_config(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|e| e.to_string())
}

/// rustls with the public web roots, built once.
fn public_config() -> Result<Arc<rustls::ClientConfig>, Failure> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| client_config(public_roots()))
        .clone()
        .map_err(Failure::Unreachable)
}

#[cfg(test)]
mod tests;
