//! ARI protocol versions and their negotiation.
//!
//! The proxy offers a version in the `ARI.version` parameter of its `MPI` /
//! `DPI` request; the remote answers with the version it will speak (never
//! newer than the offer), or with a bare `V` when it predates negotiation
//! (1.8.0). Everything after the init reply is then read and written for that
//! version: see [`Version::encoding`] and [`Version::table_layout`].

use std::fmt;

use crate::method::Method;
use crate::value::Encoding;

/// A version of the ARI protocol that this crate can speak.
///
/// Ordered: `V1_8_0 < V1_8_2 < … < V1_9_1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Server 7.0: no version negotiation, the init reply is `V`.
    V1_8_0,
    /// Server 7.1: `ARI.version` in the init exchange, `RAC` credentials.
    V1_8_2,
    /// Server 7.2: the proxy may send `CLOSE`.
    V1_8_3,
    /// Server 7.3: "smart" encoding, `DFD`, extended table info, `FST`/`FUS`.
    V1_9_0,
    /// Server 7.4: same syntax as 1.9.0; one data connection is enough.
    V1_9_1,
}

/// Which layout the table information of `NNT`/`NTC` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableLayout {
    /// 1.8.x: seven typed pairs per table (index, mode, group, schema, first,
    /// last, selector).
    Compact,
    /// 1.9.x: adds the data adapter name and the item list, and in `NTC`
    /// the final statistics.
    Extended,
}

impl Version {
    /// The version Shoal's proxy offers: the newest one it speaks.
    pub const OFFERED: Version = Version::V1_9_1;

    /// Every version, oldest first.
    pub const ALL: [Version; 5] = [
        Version::V1_8_0,
        Version::V1_8_2,
        Version::V1_8_3,
        Version::V1_9_0,
        Version::V1_9_1,
    ];

    /// The version as written in `ARI.version`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_8_0 => "1.8.0",
            Version::V1_8_2 => "1.8.2",
            Version::V1_8_3 => "1.8.3",
            Version::V1_9_0 => "1.9.0",
            Version::V1_9_1 => "1.9.1",
        }
    }

    /// Parses a version string exactly as the SDKs write it. `1.8.1` was
    /// reserved and never used on the wire, so it is not accepted.
    pub fn parse(s: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the 1.9 "smart" encoding and the 1.9 message forms apply.
    pub fn is_1_9(self) -> bool {
        self >= Version::V1_9_0
    }

    /// The string encoding of a message of `method` under this version.
    ///
    /// The init exchange (`MPI`, `DPI`), `RAC` and `CLOSE` always use the
    /// old encoding: they may flow before the version is settled.
    pub fn encoding(self, method: Method) -> Encoding {
        if !self.is_1_9() || method.always_old_encoding() {
            Encoding::Old
        } else {
            Encoding::Smart
        }
    }

    /// The table-info layout of `NNT` and `NTC`.
    pub fn table_layout(self) -> TableLayout {
        if self.is_1_9() {
            TableLayout::Extended
        } else {
            TableLayout::Compact
        }
    }

    /// Settles the version of a connection from the remote's init reply.
    ///
    /// `answered` is the `ARI.version` of the `MPI`/`DPI` reply, `None` when
    /// the reply was a bare `V` (a 1.8.0 remote). The remote may answer any
    /// version up to the offered one (Node 1.5.3 and Python 1.3.1 answer
    /// `1.8.3` to a `1.9.1` offer); an answer newer than the offer, or one
    /// that is not a version, is an error and the connection must be closed.
    pub fn negotiate(offered: Version, answered: Option<&str>) -> Result<Version, VersionError> {
        let Some(answered) = answered else {
            return Ok(Version::V1_8_0);
        };
        match Version::parse(answered) {
            Some(v) if v <= offered => Ok(v),
            Some(_) => Err(VersionError::NewerThanOffered {
                offered,
                answered: answered.to_owned(),
            }),
            None if looks_newer(answered, offered) => Err(VersionError::NewerThanOffered {
                offered,
                answered: answered.to_owned(),
            }),
            None => Err(VersionError::Unsupported {
                answered: answered.to_owned(),
            }),
        }
    }
}

/// Whether a dotted version we do not know is numerically above `offered`
/// (e.g. `1.9.2` or `2.0`), only to word the error well.
fn looks_newer(answered: &str, offered: Version) -> bool {
    let parse = |s: &str| -> Option<Vec<u32>> { s.split('.').map(|p| p.parse().ok()).collect() };
    match (parse(answered), parse(offered.as_str())) {
        (Some(a), Some(o)) => a > o,
        _ => false,
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The remote's init reply names a version this proxy cannot speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("the remote answered ARI version {answered}, newer than the offered {offered}")]
    NewerThanOffered { offered: Version, answered: String },
    #[error("the remote answered ARI version {answered:?}, which is not a supported version")]
    Unsupported { answered: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_remote_down_to_1_8_0() {
        let n = |a| Version::negotiate(Version::OFFERED, a);
        assert_eq!(n(Some("1.9.1")), Ok(Version::V1_9_1));
        assert_eq!(n(Some("1.8.3")), Ok(Version::V1_8_3));
        assert_eq!(n(Some("1.8.2")), Ok(Version::V1_8_2));
        assert_eq!(n(None), Ok(Version::V1_8_0));
        assert!(matches!(
            n(Some("1.9.2")),
            Err(VersionError::NewerThanOffered { .. })
        ));
        assert!(matches!(
            n(Some("2.0")),
            Err(VersionError::NewerThanOffered { .. })
        ));
        assert!(matches!(
            n(Some("1.8.1")),
            Err(VersionError::Unsupported { .. })
        ));
        assert!(matches!(
            n(Some("x")),
            Err(VersionError::Unsupported { .. })
        ));
        assert!(matches!(
            Version::negotiate(Version::V1_8_3, Some("1.9.0")),
            Err(VersionError::NewerThanOffered { .. })
        ));
    }

    #[test]
    fn encodings_per_version_and_method() {
        use Encoding::*;
        assert_eq!(Version::V1_8_3.encoding(Method::Sub), Old);
        assert_eq!(Version::V1_9_1.encoding(Method::Sub), Smart);
        assert_eq!(Version::V1_9_0.encoding(Method::Ud3), Smart);
        for m in [Method::Mpi, Method::Dpi, Method::Rac, Method::Close] {
            assert_eq!(Version::V1_9_1.encoding(m), Old);
        }
    }
}
