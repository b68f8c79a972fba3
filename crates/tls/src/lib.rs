//! TLS for Shoal: loads the certificates that `lightstreamer_conf.xml`
//! names in `<keystore>` (JKS, PKCS12 or PEM) and builds a rustls server
//! configuration that picks among them by SNI.
//!
//! Every error is a sentence naming the file it is about, fit to be printed
//! as it is by `check-config` or at start-up.

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use shoal_config::KeystoreType;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use x509_parser::extensions::GeneralName;

/// One certificate source, as configured in a `<keystore>` element.
#[derive(Debug, Clone)]
pub struct CertSource {
    /// The keystore type.
    pub kind: KeystoreType,
    /// `<keystore_file>`: the keystore, or for PEM the certificate chain
    /// (which may also hold the key when `key_file` is absent).
    pub file: PathBuf,
    /// `<keystore_password>`: for JKS and PKCS12 it opens both the store
    /// and every key entry (Lightstreamer requires them to be the same).
    pub password: Option<String>,
    /// `<key_file>`: the PEM private key (PEM only).
    pub key_file: Option<PathBuf>,
}

impl CertSource {
    /// A source built from the configuration's `<keystore>`.
    pub fn from_config(keystore: &shoal_config::Keystore) -> Self {
        CertSource {
            kind: keystore.kind,
            file: keystore.file.clone(),
            password: keystore.password.clone(),
            key_file: keystore.key_file.clone(),
        }
    }
}

/// A certificate chain with its private key, checked to match, and what
/// `check-config` prints about it.
#[derive(Debug)]
pub struct LoadedCert {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
    /// The leaf's description.
    pub info: CertInfo,
}

impl Clone for LoadedCert {
    fn clone(&self) -> Self {
        LoadedCert {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            info: self.info.clone(),
        }
    }
}

/// What a leaf certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The keystore alias of the entry (JKS, PKCS12), if any.
    pub alias: Option<String>,
    /// The subject, e.g. `CN=push.example.test, O=Example`.
    pub subject: String,
    /// The common name of the subject, if any.
    pub common_name: Option<String>,
    /// The DNS names (and IP addresses) of the subjectAltName extension.
    pub sans: Vec<String>,
    /// Start of validity, RFC 3339 in UTC (`2025-01-31T12:00:00Z`).
    pub not_before: String,
    /// End of validity, RFC 3339 in UTC.
    pub not_after: String,
    /// Whether `not_after` is past. `load` refuses expired certificates, so
    /// a `LoadedCert` that came from it always says `false`.
    pub expired: bool,
}

impl CertInfo {
    /// The names SNI is matched against: the DNS SANs, else the CN.
    pub fn server_names(&self) -> Vec<String> {
        let dns: Vec<String> = self
            .sans
            .iter()
            .filter(|s| s.parse::<std::net::IpAddr>().is_err())
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if !dns.is_empty() {
            return dns;
        }
        self.common_name
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect()
    }
}

/// What went wrong, for callers that act on it; the message says it to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsErrorKind {
    /// The file is missing or cannot be read.
    Unreadable,
    /// The keystore password (or the key password) is wrong.
    WrongPassword,
    /// The file is not a keystore of the configured type.
    NotAKeystore,
    /// The keystore holds no private key with its certificate.
    NoPrivateKey,
    /// The private key does not belong to the certificate.
    KeyMismatch,
    /// The certificate is expired.
    Expired,
    /// The key type (or key encoding) is not supported.
    UnsupportedKey,
    /// A certificate could not be parsed.
    BadCertificate,
    /// The source or the set of certificates is not usable as configured.
    Config,
}

/// A TLS set-up error: a clear sentence naming the file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TlsError {
    kind: TlsErrorKind,
    file: Option<PathBuf>,
    message: String,
}

impl TlsError {
    fn new(kind: TlsErrorKind, file: &Path, message: impl Into<String>) -> Self {
        TlsError {
            kind,
            file: Some(file.to_path_buf()),
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> TlsErrorKind {
        self.kind
    }

    /// The file the error is about, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(file: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(file).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("{what} file {} does not exist", file.display())
        } else {
            format!("cannot read {what} file {}: {e}", file.display())
        };
        TlsError::new(TlsErrorKind::Unreadable, file, message)
    })
}

fn need_password<'a>(source: &'a CertSource, kind: &str) -> Result<&'a str, TlsError> {
    source.password.as_deref().ok_or_else(|| {
        TlsError::new(
            TlsErrorKind::Config,
            &source.file,
            format!(
                "the {kind} keystore {} needs a password (<keystore_password>)",
                source.file.display()
            ),
        )
    })
}

/// Loads every private key entry of the source, each with its chain,
/// checked: readable, right password, key matching the certificate, not
/// expired. Entries come in alias order (PEM: the one pair).
pub fn load(source: &CertSource) -> Result<Vec<LoadedCert>, TlsError> {
    let pairs = match source.kind {
        KeystoreType::Jks => load_jks(source)?,
        KeystoreType::Pkcs12 => load_pkcs12(source)?,
        KeystoreType::Pem => load_pem(source)?,
    };
    let key_file = match source.kind {
        KeystoreType::Pem => source.key_file.as_deref().unwrap_or(&source.file),
        _ => &source.file,
    };
    let provider = provider();
    pairs
        .into_iter()
        .map(|(alias, chain, key)| check(&source.file, key_file, alias, chain, key, &provider))
        .collect()
}

type Pair = (
    Option<String>,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
);

const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];

fn load_jks(source: &CertSource) -> Result<Vec<Pair>, TlsError> {
    let file = &source.file;
    let data = read_file(file, "keystore")?;
    if !data.starts_with(&JKS_MAGIC) {
        let hint = if data.first() == Some(&0x30) {
            " (it looks like a PKCS12 file: declare it with type=\"PKCS12\")"
        } else {
            ""
        };
        return Err(TlsError::new(
            TlsErrorKind::NotAKeystore,
            file,
            format!("{} is not a JKS keystore{hint}", file.display()),
        ));
    }
    let password = need_password(source, "JKS")?;
    // Java keys the store with the UTF-16 code units of the password; the
    // jks crate takes one byte per character, which is right up to U+00FF.
    let mut latin1 = Vec::with_capacity(password.len());
    for c in password.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => latin1.push(b),
            Err(_) => {
                return Err(TlsError::new(
                    TlsErrorKind::Config,
                    file,
                    format!(
                        "the password of JKS keystore {} has characters beyond Latin-1, \
                         which Shoal cannot use with JKS: convert the keystore to PKCS12",
                        file.display()
                    ),
                ))
            }
        }
    }
    let mut store = jks::KeyStore::new();
    store.load(data.as_slice(), &latin1).map_err(|e| match e {
        jks::KeyStoreError::InvalidDigest => TlsError::new(
            TlsErrorKind::WrongPassword,
            file,
            format!(
                "wrong password for JKS keystore {} (its integrity check failed)",
                file.display()
            ),
        ),
        other => TlsError::new(
            TlsErrorKind::NotAKeystore,
            file,
            format!(
                "{} is not a JKS keystore, or is damaged ({other})",
                file.display()
            ),
        ),
    })?;
    let mut aliases = store.aliases();
    aliases.sort();
    let mut pairs = Vec::new();
    for alias in aliases {
        if !store.is_private_key_entry(&alias) {
            continue;
        }
        let entry = store.get_private_key_entry(&alias, &latin1).map_err(|e| {
            TlsError::new(
                TlsErrorKind::WrongPassword,
                file,
                format!(
                    "cannot open the key entry \"{alias}\" of JKS keystore {} with the keystore \
                     password ({e}): Shoal, like Lightstreamer, needs the key password to be \
                     the keystore password",
                    file.display()
                ),
            )
        })?;
        let chain = entry
            .certificate_chain
            .into_iter()
            .map(|c| CertificateDer::from(c.content))
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(entry.private_key));
        pairs.push((Some(alias), chain, key));
    }
    if pairs.is_empty() {
        return Err(no_key_entry(file, "JKS"));
    }
    Ok(pairs)
}

fn no_key_entry(file: &Path, kind: &str) -> TlsError {
    TlsError::new(
        TlsErrorKind::NoPrivateKey,
        file,
        format!(
            "{kind} keystore {} has no private key entry (only trusted certificates, or \
             nothing): a server needs its certificate together with its private key",
            file.display()
        ),
    )
}

fn load_pkcs12(source: &CertSource) -> Result<Vec<Pair>, TlsError> {
    let file = &source.file;
    let data = read_file(file, "keystore")?;
    if data.starts_with(&JKS_MAGIC) {
        return Err(TlsError::new(
            TlsErrorKind::NotAKeystore,
            file,
            format!(
                "{} is not a PKCS12 keystore (it is a JKS one: declare it with type=\"JKS\")",
                file.display()
            ),
        ));
    }
    let password = need_password(source, "PKCS12")?;
    let store = p12_keystore::KeyStore::from_pkcs12(
        &data,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) => TlsError::new(
            TlsErrorKind::WrongPassword,
            file,
            format!(
                "wrong password for PKCS12 keystore {} (its integrity check failed)",
                file.display()
            ),
        ),
        p12_keystore::error::Error::Pkcs5Error(_) | p12_keystore::error::Error::UnpadError => {
            TlsError::new(
                TlsErrorKind::WrongPassword,
                file,
                format!(
                    "cannot decrypt PKCS12 keystore {}: wrong password, or a key password \
                     different from the keystore password",
                    file.display()
                ),
            )
        }
        other => TlsError::new(
            TlsErrorKind::NotAKeystore,
            file,
            format!(
                "{} is not a PKCS12 keystore, or is damaged ({other})",
                file.display()
            ),
        ),
    })?;
    let mut pairs = Vec::new();
    for (alias, entry) in store.entries() {
        if let p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) = entry {
            let certs = chain
                .certs()
                .iter()
                .map(|c| CertificateDer::from(c.as_der().to_vec()))
                .collect();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
            pairs.push((Some(alias.clone()), certs, key));
        }
    }
    if pairs.is_empty() {
        return Err(no_key_entry(file, "PKCS12"));
    }
    Ok(pairs)
}

fn load_pem(source: &CertSource) -> Result<Vec<Pair>, TlsError> {
    let file = &source.file;
    let data = read_file(file, "certificate")?;
    let mut chain = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&data) {
        let cert = cert.map_err(|e| {
            TlsError::new(
                TlsErrorKind::NotAKeystore,
                file,
                format!("{} is not a valid PEM file: {e}", file.display()),
            )
        })?;
        chain.push(cert);
    }
    if chain.is_empty() {
        return Err(TlsError::new(
            TlsErrorKind::NotAKeystore,
            file,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                file.display()
            ),
        ));
    }
    let (key_path, key_data) = match &source.key_file {
        Some(key_file) => (key_file.as_path(), read_file(key_file, "private key")?),
        None => (file.as_path(), data),
    };
    let key = pem_private_key(&key_data).map_err(|e| {
        let (kind, message) = match e {
            PemKeyError::Encrypted => (
                TlsErrorKind::UnsupportedKey,
                format!(
                    "the private key in {} is encrypted, which Shoal does not support for \
                     PEM: decrypt it (openssl pkey -in KEY -out PLAIN) or use a PKCS12 keystore",
                    key_path.display()
                ),
            ),
            PemKeyError::NotFound => (
                TlsErrorKind::NoPrivateKey,
                format!(
                    "{} holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC){}",
                    key_path.display(),
                    if source.key_file.is_none() {
                        ": name the key file with <key_file>"
                    } else {
                        ""
                    }
                ),
            ),
            PemKeyError::Unreadable(other) => (
                TlsErrorKind::NoPrivateKey,
                format!(
                    "cannot read the private key in {}: {other}",
                    key_path.display()
                ),
            ),
        };
        TlsError::new(kind, key_path, message)
    })?;
    Ok(vec![(None, chain, key)])
}

/// Why [`pem_private_key`] found no usable key; each caller words it for
/// its own users.
#[derive(Debug, thiserror::Error)]
pub enum PemKeyError {
    /// The key is encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY`, or a legacy
    /// OpenSSL `Proc-Type: 4,ENCRYPTED` header), which is not supported.
    #[error("the private key is encrypted")]
    Encrypted,
    /// The text holds no private key block.
    #[error("no PEM private key found")]
    NotFound,
    /// A private key block is there but is not valid PEM.
    #[error("the PEM private key cannot be read: {0}")]
    Unreadable(rustls_pki_types::pem::Error),
}

/// The first unencrypted private key in the PEM text `pem`: PKCS#8
/// `PRIVATE KEY`, SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`.
pub fn pem_private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, PemKeyError> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(PemKeyError::Encrypted);
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => PemKeyError::NotFound,
        other => PemKeyError::Unreadable(other),
    })
}

fn format_time(t: &x509_parser::time::ASN1Time) -> String {
    let dt = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

fn now_unix() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Describes a DER certificate: subject, SANs, validity.
pub fn describe(cert: &CertificateDer<'_>) -> Result<CertInfo, String> {
    let (_, x509) =
        x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|e| e.to_string())?;
    let subject = x509.subject().to_string();
    let common_name = x509
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = x509.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        sans.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        sans.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let validity = x509.validity();
    Ok(CertInfo {
        alias: None,
        subject,
        common_name,
        sans,
        not_before: format_time(&validity.not_before),
        not_after: format_time(&validity.not_after),
        expired: validity.not_after.timestamp() < now_unix(),
    })
}

fn check(
    file: &Path,
    key_file: &Path,
    alias: Option<String>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> Result<LoadedCert, TlsError> {
    let entry = match &alias {
        Some(a) => format!("entry \"{a}\" of {}", file.display()),
        None => file.display().to_string(),
    };
    let Some(leaf) = chain.first() else {
        return Err(TlsError::new(
            TlsErrorKind::BadCertificate,
            file,
            format!("the {entry} has a private key but no certificate"),
        ));
    };
    let mut info = describe(leaf).map_err(|e| {
        TlsError::new(
            TlsErrorKind::BadCertificate,
            file,
            format!("the certificate of {entry} cannot be parsed: {e}"),
        )
    })?;
    info.alias = alias;
    if info.expired {
        return Err(TlsError::new(
            TlsErrorKind::Expired,
            file,
            format!(
                "the certificate of {entry} ({}) expired on {}: renew it",
                info.subject, info.not_after
            ),
        ));
    }
    let signing = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| {
            TlsError::new(
                TlsErrorKind::UnsupportedKey,
                key_file,
                format!(
                    "the private key in {} is of an unsupported type (RSA, ECDSA P-256/P-384 \
                     and Ed25519 are supported): {e}",
                    key_file.display()
                ),
            )
        })?;
    let certified = CertifiedKey::new(chain.clone(), signing);
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            let key_desc = if key_file == file {
                String::new()
            } else {
                format!(" in {}", key_file.display())
            };
            return Err(TlsError::new(
                TlsErrorKind::KeyMismatch,
                key_file,
                format!(
                    "the private key{key_desc} does not match the certificate of {entry} ({})",
                    info.subject
                ),
            ));
        }
    }
    Ok(LoadedCert { chain, key, info })
}

/// Builds the server configuration: the certificate is chosen by SNI
/// (exact DNS SAN first, then wildcard SAN like `*.example.test`, then the
/// CN of certificates without DNS SANs); the first certificate serves
/// clients that send no SNI or an unknown name. ALPN offers `http/1.1`.
pub fn server_config(certs: Vec<LoadedCert>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let mut entries = Vec::with_capacity(certs.len());
    for cert in certs {
        let signing = provider
            .key_provider
            .load_private_key(cert.key.clone_key())
            .map_err(|e| TlsError {
                kind: TlsErrorKind::UnsupportedKey,
                file: None,
                message: format!(
                    "the private key of certificate {} is of an unsupported type: {e}",
                    cert.info.subject
                ),
            })?;
        entries.push(SniEntry {
            names: cert.info.server_names(),
            key: Arc::new(CertifiedKey::new(cert.chain, signing)),
        });
    }
    if entries.is_empty() {
        return Err(TlsError {
            kind: TlsErrorKind::Config,
            file: None,
            message: "no certificate to serve TLS with".to_owned(),
        });
    }
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError {
            kind: TlsErrorKind::Config,
            file: None,
            message: format!("cannot set up TLS protocol versions: {e}"),
        })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { entries }));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

struct SniEntry {
    names: Vec<String>,
    key: Arc<CertifiedKey>,
}

struct SniResolver {
    entries: Vec<SniEntry>,
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.names))
            .finish()
    }
}

/// Whether `pattern` (a lowercase SAN, maybe `*.`-wildcarded) covers `name`:
/// a wildcard stands for exactly one leftmost label.
fn wildcard_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => match name.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest == suffix,
            None => false,
        },
        None => false,
    }
}

impl SniResolver {
    fn pick(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = name {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let exact = self.entries.iter().find(|e| e.names.contains(&name));
            let wild = || {
                self.entries
                    .iter()
                    .find(|e| e.names.iter().any(|n| wildcard_matches(n, &name)))
            };
            if let Some(entry) = exact.or_else(wild) {
                return Some(entry.key.clone());
            }
        }
        self.entries.first().map(|e| e.key.clone())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.pick(hello.server_name())
    }
}

#[cfg(test)]
mod tests {
    use super::{pem_private_key, wildcard_matches, PemKeyError};

    #[test]
    fn wildcards_cover_one_label() {
        assert!(wildcard_matches("*.example.test", "a.example.test"));
        assert!(!wildcard_matches("*.example.test", "a.b.example.test"));
        assert!(!wildcard_matches("*.example.test", "example.test"));
        assert!(!wildcard_matches("*.example.test", ".example.test"));
        assert!(!wildcard_matches("push.example.test", "push.example.test"));
    }

    #[test]
    fn pem_private_key_says_why_there_is_none() {
        assert!(matches!(
            pem_private_key(b"not a key"),
            Err(PemKeyError::NotFound)
        ));
        for encrypted in [
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
             -----END RSA PRIVATE KEY-----\n",
        ] {
            assert!(
                matches!(
                    pem_private_key(encrypted.as_bytes()),
                    Err(PemKeyError::Encrypted)
                ),
                "{encrypted}"
            );
        }
        assert!(matches!(
            pem_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n"),
            Err(PemKeyError::Unreadable(_))
        ));
    }
}
