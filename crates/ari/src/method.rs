//! The method names of ARI, the second token of every line.

use std::fmt;

/// Every method of ARI 1.8.0–1.9.1, as the three-letter (or longer) name of
/// the second token of a line.
///
/// Requests of the proxy and their replies share the name: `17|SUB|S|item`
/// is answered by `17|SUB|V`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Remote credentials, sent by the remote first (id `1`).
    Rac,
    /// Proxy → remote: the connection is being closed, with a reason (id `0`).
    Close,
    /// Data adapter init.
    Dpi,
    /// Subscribe an item.
    Sub,
    /// Unsubscribe an item.
    Usb,
    /// Update of an item, as field/value pairs (remote → proxy).
    Ud3,
    /// End of snapshot.
    Eos,
    /// Clear snapshot.
    Cls,
    /// Failure of the adapter (remote → proxy).
    Fal,
    /// 1.9: diff algorithms per field (remote → proxy).
    Dfd,
    /// Metadata adapter init.
    Mpi,
    /// Notify user (authentication).
    Nus,
    /// Notify user with a TLS client principal.
    Nua,
    /// Get items of a group.
    Gis,
    /// Get fields of a schema.
    Gsc,
    /// Get item data.
    Git,
    /// Get user item data.
    Gui,
    /// Notify user message.
    Num,
    /// Notify new session.
    Nns,
    /// Notify session close.
    Nsc,
    /// Notify new tables (subscriptions).
    Nnt,
    /// Notify tables close.
    Ntc,
    /// MPN device access (not supported by Shoal; replies tolerated).
    Mda,
    /// MPN subscription activation (not supported by Shoal; replies tolerated).
    Msa,
    /// MPN device token change (not supported by Shoal; replies tolerated).
    Mdc,
    /// 1.9, remote → proxy: force the termination of a session.
    Fst,
    /// 1.9, remote → proxy: force the unsubscription of a table.
    Fus,
}

impl Method {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Rac => "RAC",
            Method::Close => "CLOSE",
            Method::Dpi => "DPI",
            Method::Sub => "SUB",
            Method::Usb => "USB",
            Method::Ud3 => "UD3",
            Method::Eos => "EOS",
            Method::Cls => "CLS",
            Method::Fal => "FAL",
            Method::Dfd => "DFD",
            Method::Mpi => "MPI",
            Method::Nus => "NUS",
            Method::Nua => "NUA",
            Method::Gis => "GIS",
            Method::Gsc => "GSC",
            Method::Git => "GIT",
            Method::Gui => "GUI",
            Method::Num => "NUM",
            Method::Nns => "NNS",
            Method::Nsc => "NSC",
            Method::Nnt => "NNT",
            Method::Ntc => "NTC",
            Method::Mda => "MDA",
            Method::Msa => "MSA",
            Method::Mdc => "MDC",
            Method::Fst => "FST",
            Method::Fus => "FUS",
        }
    }

    /// The method of a wire name; `None` for an unknown name (including the
    /// legacy `UD1`/`UD2`, which no current SDK sends).
    pub fn from_wire(name: &str) -> Option<Method> {
        Some(match name {
            "RAC" => Method::Rac,
            "CLOSE" => Method::Close,
            "DPI" => Method::Dpi,
            "SUB" => Method::Sub,
            "USB" => Method::Usb,
            "UD3" => Method::Ud3,
            "EOS" => Method::Eos,
            "CLS" => Method::Cls,
            "FAL" => Method::Fal,
            "DFD" => Method::Dfd,
            "MPI" => Method::Mpi,
            "NUS" => Method::Nus,
            "NUA" => Method::Nua,
            "GIS" => Method::Gis,
            "GSC" => Method::Gsc,
            "GIT" => Method::Git,
            "GUI" => Method::Gui,
            "NUM" => Method::Num,
            "NNS" => Method::Nns,
            "NSC" => Method::Nsc,
            "NNT" => Method::Nnt,
            "NTC" => Method::Ntc,
            "MDA" => Method::Mda,
            "MSA" => Method::Msa,
            "MDC" => Method::Mdc,
            "FST" => Method::Fst,
            "FUS" => Method::Fus,
            _ => return None,
        })
    }

    /// The messages that keep the old encoding under 1.9 too.
    pub(crate) fn always_old_encoding(self) -> bool {
        matches!(
            self,
            Method::Rac | Method::Close | Method::Mpi | Method::Dpi
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
