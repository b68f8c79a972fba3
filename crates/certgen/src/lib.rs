//! Makes the test CA and the server certificates that Shoal's cluster kits
//! need: PEM files, PKCS12 keystores for `<keystore type="PKCS12">`, and
//! the single PEM file that HAProxy's `crt` takes.
//!
//! ```no_run
//! # fn main() -> Result<(), shoal_certgen::Error> {
//! let ca = shoal_certgen::Ca::generate("Shoal kit test CA")?;
//! let leaf = ca.issue(&["*.example.test", "push.example.test"])?;
//! std::fs::write("ca.pem", ca.cert_pem()).ok();
//! std::fs::write("push.p12", leaf.pkcs12("secret", "push")?).ok();
//! std::fs::write("haproxy.pem", leaf.haproxy_pem()).ok();
//! # Ok(())
//! # }
//! ```
//!
//! Keys are ECDSA P-256. An operator's own CA (any key rustls' `ring`
//! supports: ECDSA P-256/P-384, RSA, Ed25519) can sign the kits instead:
//! see [`Ca::from_pem`].

mod der;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use std::fmt;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

/// How long a generated CA is valid, from yesterday.
const CA_DAYS: i64 = 3650;
/// How long a server certificate is valid, from yesterday: the longest
/// that Apple's platforms accept for TLS server certificates.
const LEAF_DAYS: i64 = 825;
/// The longest common name X.509 allows (`ub-common-name`).
const MAX_CN: usize = 64;

/// What went wrong; the message says it in a sentence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `issue` was given no name.
    #[error("a certificate needs at least one name")]
    NoNames,
    /// A name is neither a DNS name (maybe `*.`-wildcarded) nor an IP address.
    #[error("\"{name}\" is not usable as a certificate name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// The CA certificate given to `from_pem` is not usable.
    #[error("the CA certificate is not usable: {0}")]
    CaCertificate(String),
    /// The CA private key given to `from_pem` is not usable.
    #[error("the CA private key is not usable: {0}")]
    CaKey(String),
    /// Key generation or signing failed.
    #[error("cannot make the {what}: {reason}")]
    Generate {
        /// What was being made.
        what: &'static str,
        /// The underlying error.
        reason: String,
    },
    /// The PKCS12 keystore could not be written.
    #[error("cannot write the PKCS12 keystore: {0}")]
    Pkcs12(String),
}

fn generate_error(what: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
    move |e| Error::Generate {
        what,
        reason: e.to_string(),
    }
}

/// A certificate authority that signs server certificates.
#[derive(Debug)]
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate first, then whatever chain came with it.
    chain: Vec<CertificateDer<'static>>,
    not_after: OffsetDateTime,
}

impl Ca {
    /// A new self-signed CA (ECDSA P-256) named `common_name`, valid from
    /// yesterday for about ten years; it signs server certificates only
    /// (path length 0).
    pub fn generate(common_name: &str) -> Result<Ca, Error> {
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate_error("CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = yesterday();
        params.not_after = params.not_before + Duration::days(CA_DAYS);
        let cert = params
            .self_signed(&key)
            .map_err(generate_error("CA certificate"))?;
        let not_after = params.not_after;
        Ok(Ca {
            issuer: Issuer::new(params, key),
            chain: vec![cert.der().clone()],
            not_after,
        })
    }

    /// The operator's own CA, from the contents of its PEM files: the
    /// certificate (the CA first; any further certificates, e.g. the root
    /// above an intermediate CA, go into every keystore's chain) and its
    /// private key (PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`, unencrypted). The certificate must be a CA, not
    /// expired, and match the key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, Error> {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::CaCertificate(format!("the PEM cannot be read: {e}")))?;
        let Some(ca_der) = chain.first() else {
            return Err(Error::CaCertificate(
                "no PEM certificate found (expected -----BEGIN CERTIFICATE-----)".into(),
            ));
        };
        let (_, x509) = x509_parser::parse_x509_certificate(ca_der)
            .map_err(|e| Error::CaCertificate(format!("it cannot be parsed: {e}")))?;
        let subject = x509.subject().to_string();
        let is_ca = matches!(x509.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
        if !is_ca {
            return Err(Error::CaCertificate(format!(
                "{subject} is not a CA certificate (no basicConstraints CA:TRUE)"
            )));
        }
        if let Ok(Some(usage)) = x509.key_usage() {
            if !usage.value.key_cert_sign() {
                return Err(Error::CaCertificate(format!(
                    "{subject} may not sign certificates (its keyUsage lacks keyCertSign)"
                )));
            }
        }
        let not_after = OffsetDateTime::from_unix_timestamp(x509.validity().not_after.timestamp())
            .map_err(|e| Error::CaCertificate(format!("its end of validity is unusable: {e}")))?;
        if not_after <= OffsetDateTime::now_utc() {
            return Err(Error::CaCertificate(format!(
                "{subject} expired on {not_after}"
            )));
        }

        let pkcs8 = der::private_key_pkcs8(key_pem).map_err(Error::CaKey)?;
        let key = KeyPair::try_from(&PrivatePkcs8KeyDer::from(pkcs8)).map_err(|e| {
            Error::CaKey(format!(
                "it is not a key that can sign (ECDSA P-256/P-384, RSA of 2048 bits or more, \
                 Ed25519): {e}"
            ))
        })?;
        if key.public_key_raw() != x509.public_key().subject_public_key.data.as_ref() {
            return Err(Error::CaKey(format!(
                "it does not belong to the CA certificate {subject}"
            )));
        }
        let issuer = Issuer::from_ca_cert_der(ca_der, key)
            .map_err(|e| Error::CaCertificate(format!("it cannot be used to sign: {e}")))?;
        Ok(Ca {
            issuer,
            chain,
            not_after,
        })
    }

    /// The CA certificate (then the rest of its chain, if `from_pem` was
    /// given one) in PEM: the file clients trust.
    pub fn cert_pem(&self) -> String {
        pem_chain(&self.chain)
    }

    /// The CA certificate alone, in DER.
    pub fn cert_der(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }

    /// A server certificate for `names`, with a new ECDSA P-256 key, signed
    /// by this CA, valid from yesterday for 825 days (never past the CA).
    /// The first name is the subject's common name; all are subject
    /// alternative names: DNS names (a wildcard like `*.example.test` covers
    /// one label) or IP addresses (`127.0.0.1`, `::1`).
    pub fn issue(&self, names: &[&str]) -> Result<Leaf, Error> {
        let Some(first) = names.first() else {
            return Err(Error::NoNames);
        };
        let mut params = CertificateParams::default();
        params.subject_alt_names = names
            .iter()
            .map(|name| san(name))
            .collect::<Result<_, _>>()?;
        params.distinguished_name = DistinguishedName::new();
        if first.len() <= MAX_CN {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = yesterday();
        params.not_after = (params.not_before + Duration::days(LEAF_DAYS)).min(self.not_after);

        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate_error("server key"))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(generate_error("server certificate"))?;
        Ok(Leaf {
            cert: cert.der().clone(),
            key_pkcs8: key.serialize_der(),
            ca_chain: self.chain.clone(),
        })
    }
}

/// A server certificate with its private key and the chain of its CA.
pub struct Leaf {
    cert: CertificateDer<'static>,
    key_pkcs8: Vec<u8>,
    ca_chain: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaf")
            .field("cert", &self.cert)
            .field("key_pkcs8", &"<secret>")
            .field("ca_chain", &self.ca_chain.len())
            .finish()
    }
}

impl Leaf {
    /// The certificate alone, in PEM.
    pub fn cert_pem(&self) -> String {
        der::certificate_pem(&self.cert)
    }

    /// The certificate alone, in DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert
    }

    /// The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), unencrypted.
    pub fn key_pem(&self) -> String {
        der::private_key_pem(&self.key_pkcs8)
    }

    /// The certificate then the CA chain, in PEM: what a PEM `<keystore>`
    /// or nginx's `ssl_certificate` takes.
    pub fn chain_pem(&self) -> String {
        let mut out = self.cert_pem();
        out.push_str(&pem_chain(&self.ca_chain));
        out
    }

    /// A PKCS12 keystore holding one private key entry named `alias`: the
    /// key, the certificate and the CA chain, encrypted and authenticated
    /// with `password` (AES-256 and HMAC-SHA256, as Java's keytool writes
    /// them). Java, OpenSSL 3 and Shoal read it.
    pub fn pkcs12(&self, password: &str, alias: &str) -> Result<Vec<u8>, Error> {
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        let key = PrivateKey::from_der(&self.key_pkcs8)
            .map_err(|e| Error::Pkcs12(format!("the key cannot be stored: {e}")))?;
        let certs = std::iter::once(&self.cert)
            .chain(&self.ca_chain)
            .map(|c| Certificate::from_der(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Pkcs12(format!("a certificate cannot be stored: {e}")))?;
        // The local key id ties the key to its certificate inside the file.
        let chain = PrivateKeyChain::new(alias.as_bytes(), key, certs);
        let mut store = KeyStore::new();
        store.add_entry(alias, KeyStoreEntry::PrivateKeyChain(chain));
        store
            .writer(password)
            .write()
            .map_err(|e| Error::Pkcs12(e.to_string()))
    }

    /// One PEM file for HAProxy's `crt`: the certificate, the CA chain,
    /// then the key.
    pub fn haproxy_pem(&self) -> String {
        let mut out = self.chain_pem();
        out.push_str(&self.key_pem());
        out
    }
}

fn pem_chain(chain: &[CertificateDer<'static>]) -> String {
    chain.iter().map(|c| der::certificate_pem(c)).collect()
}

/// Now less one day, to the second: certificates made now are already
/// valid on machines whose clock is a little behind.
fn yesterday() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc() - Duration::days(1);
    now.replace_nanosecond(0).unwrap_or(now)
}

/// The subject alternative name for `name`: an IP address, or a checked
/// DNS name.
fn san(name: &str) -> Result<SanType, Error> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = |reason: &str| Error::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    check_dns_name(name).map_err(invalid)?;
    let ia5 = name
        .to_owned()
        .try_into()
        .map_err(|_| invalid("only ASCII is allowed"))?;
    Ok(SanType::DnsName(ia5))
}

/// Checks a DNS name as certificate verifiers want it: letters, digits and
/// hyphens in labels of 1 to 63 characters, at most 253 in all, with at
/// least two labels; a `*` may only be the whole leftmost label.
/// Whether `name` can be a server name in a certificate (`*.` allowed on
/// the left); the error says what is wrong with it.
pub fn check_dns_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err("a server name needs at least two labels (like push.example.test)");
    }
    for (i, label) in labels.iter().enumerate() {
        if *label == "*" {
            if i != 0 {
                return Err("a wildcard may only be the leftmost label (like *.example.test)");
            }
            if labels.len() < 3 {
                return Err("a wildcard needs at least two labels after it");
            }
            continue;
        }
        if label.is_empty() {
            return Err("it has an empty label (two dots in a row, or a dot at an end)");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if label.contains('*') {
            return Err("a wildcard must be a whole label (like *.example.test)");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("only letters, digits, hyphens and dots are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label may not start or end with a hyphen");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in [
            "push.example.test",
            "*.example.test",
            "push-1.example.test",
            "127.0.0.1",
            "::1",
        ] {
            assert!(san(good).is_ok(), "{good}");
        }
        for (bad, words) in [
            ("", "empty"),
            ("localhost", "two labels"),
            ("push..example.test", "empty label"),
            ("push.*.test", "leftmost"),
            ("*.test", "two labels after"),
            ("p*.example.test", "whole label"),
            ("push_1.example.test", "only letters"),
            ("-push.example.test", "hyphen"),
            ("pùsh.example.test", "only letters"),
        ] {
            let err = san(bad).unwrap_err().to_string();
            assert!(err.contains(words), "{bad}: {err}");
            assert!(err.contains(&format!("\"{bad}\"")), "{err}");
        }
    }

    #[test]
    fn issue_needs_a_name() {
        let ca = Ca::generate("Test CA").unwrap();
        assert!(matches!(ca.issue(&[]), Err(Error::NoNames)));
    }

    #[test]
    fn malformed_pem_gives_clear_errors() {
        let ca = Ca::generate("Test CA").unwrap();
        let leaf = ca.issue(&["push.example.test"]).unwrap();

        let err = Ca::from_pem("not a pem", &leaf.key_pem()).unwrap_err();
        assert!(
            err.to_string().contains("no PEM certificate found"),
            "{err}"
        );

        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = Ca::from_pem(broken, &leaf.key_pem()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the CA certificate is not usable"),
            "{err}"
        );

        let err = Ca::from_pem(&ca.cert_pem(), "garbage").unwrap_err();
        assert!(
            err.to_string().contains("no PEM private key found"),
            "{err}"
        );

        // A server certificate is no CA.
        let err = Ca::from_pem(&leaf.cert_pem(), &leaf.key_pem()).unwrap_err();
        assert!(err.to_string().contains("is not a CA certificate"), "{err}");

        // The right certificate with another key.
        let err = Ca::from_pem(&ca.cert_pem(), &leaf.key_pem()).unwrap_err();
        assert!(
            err.to_string().contains("does not belong to the CA"),
            "{err}"
        );
    }

    #[test]
    fn validity_starts_yesterday() {
        let ca = Ca::generate("Test CA").unwrap();
        let leaf = ca.issue(&["push.example.test"]).unwrap();
        let (_, x509) = x509_parser::parse_x509_certificate(leaf.cert_der()).unwrap();
        let v = x509.validity();
        let days = (v.not_after.timestamp() - v.not_before.timestamp()) / 86_400;
        assert_eq!(days, LEAF_DAYS);
        let age = OffsetDateTime::now_utc().unix_timestamp() - v.not_before.timestamp();
        assert!((86_000..86_500).contains(&age), "{age}");
    }
}
