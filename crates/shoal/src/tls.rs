//! TLS for `<https_server>` listeners: the keystore's certificates, chosen
//! by SNI.

use anyhow::Context;
use shoal_config::{Keystore, Listener};
use shoal_tls::{CertSource, LoadedCert};
use shoal_transport::TlsAcceptor;
use std::path::Path;

/// Loads a listener's keystore; errors name the configuration file, the
/// listener and its line, then what is wrong with the keystore.
pub fn certificates(file: &Path, l: &Listener, k: &Keystore) -> anyhow::Result<Vec<LoadedCert>> {
    shoal_tls::load(&CertSource::from_config(k)).with_context(|| {
        format!(
            "{}:{}: <https_server name=\"{}\"> keystore",
            file.display(),
            k.line,
            l.name
        )
    })
}

pub fn acceptor(file: &Path, l: &Listener, k: &Keystore) -> anyhow::Result<TlsAcceptor> {
    let certs = certificates(file, l, k)?;
    let config = shoal_tls::server_config(certs)
        .with_context(|| format!("{}:{}: listener '{}'", file.display(), l.line, l.name))?;
    Ok(TlsAcceptor::from(config))
}
