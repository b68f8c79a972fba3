//! The little DER and PEM handling that the CA import needs: reading the
//! private key PEM forms operators have (PKCS#8, SEC1 `EC PRIVATE KEY`,
//! PKCS#1 `RSA PRIVATE KEY`) as PKCS#8, and writing PEM text.

use pem_rfc7468::LineEnding;
use rustls_pki_types::PrivateKeyDer;
use shoal_tls::PemKeyError;

/// DER of the `id-ecPublicKey` OID (1.2.840.10045.2.1), tag included.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

/// DER of the `rsaEncryption` AlgorithmIdentifier (OID 1.2.840.113549.1.1.1
/// with NULL parameters).
const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// DER of `INTEGER 0`, the version of a PKCS#8 PrivateKeyInfo.
const VERSION_0: &[u8] = &[0x02, 0x01, 0x00];

const TAG_SEQUENCE: u8 = 0x30;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
/// `[0]` constructed: the curve parameters of a SEC1 key.
const TAG_CONTEXT_0: u8 = 0xA0;

/// The private key of `pem` as PKCS#8 DER, whichever of the three plain PEM
/// forms it is in. The error is a sentence for people.
pub(crate) fn private_key_pkcs8(pem: &str) -> Result<Vec<u8>, String> {
    let key = shoal_tls::pem_private_key(pem.as_bytes()).map_err(|e| match e {
        PemKeyError::Encrypted => {
            "the key is encrypted: decrypt it first (openssl pkey -in KEY -out PLAIN)".to_owned()
        }
        PemKeyError::NotFound => "no PEM private key found (expected \
             -----BEGIN PRIVATE KEY-----, EC PRIVATE KEY or RSA PRIVATE KEY)"
            .to_owned(),
        PemKeyError::Unreadable(other) => format!("the PEM private key cannot be read: {other}"),
    })?;
    match key {
        PrivateKeyDer::Pkcs8(k) => Ok(k.secret_pkcs8_der().to_vec()),
        PrivateKeyDer::Pkcs1(k) => Ok(pkcs1_to_pkcs8(k.secret_pkcs1_der())),
        PrivateKeyDer::Sec1(k) => sec1_to_pkcs8(k.secret_sec1_der()),
        _ => Err("unsupported private key format".into()),
    }
}

/// A PrivateKeyInfo (PKCS#8, version 0) of the DER AlgorithmIdentifier
/// `algorithm` and the algorithm's own private key encoding `key`.
fn private_key_info(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let mut body = VERSION_0.to_vec();
    body.extend_from_slice(algorithm);
    body.extend(tlv(TAG_OCTET_STRING, key));
    tlv(TAG_SEQUENCE, &body)
}

/// Wraps an RSAPrivateKey (PKCS#1) in a PrivateKeyInfo (PKCS#8).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    private_key_info(RSA_ALGORITHM, pkcs1)
}

/// Wraps an ECPrivateKey (SEC1, RFC 5915) in a PrivateKeyInfo (PKCS#8),
/// taking the named curve from the key's own `[0]` parameters.
fn sec1_to_pkcs8(sec1: &[u8]) -> Result<Vec<u8>, String> {
    let malformed = || "the EC PRIVATE KEY is malformed".to_owned();
    let (tag, fields, _) = read_tlv(sec1).ok_or_else(malformed)?;
    if tag != TAG_SEQUENCE {
        return Err(malformed());
    }
    let mut rest = fields;
    let mut curve = None;
    while !rest.is_empty() {
        let (tag, value, next) = read_tlv(rest).ok_or_else(malformed)?;
        if tag == TAG_CONTEXT_0 {
            let (inner, _, _) = read_tlv(value).ok_or_else(malformed)?;
            if inner != TAG_OID {
                return Err("the EC PRIVATE KEY uses explicit curve parameters: \
                            only named curves (P-256, P-384) are supported"
                    .into());
            }
            curve = Some(value);
        }
        rest = next;
    }
    let curve = curve.ok_or_else(|| {
        "the EC PRIVATE KEY does not name its curve: convert it to PKCS#8 \
         (openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY8)"
            .to_owned()
    })?;
    let algorithm = tlv(TAG_SEQUENCE, &[OID_EC_PUBLIC_KEY, curve].concat());
    Ok(private_key_info(&algorithm, sec1))
}

/// One DER element: its tag, its content and what follows it. Only the
/// single-byte tags and definite lengths that DER allows are read.
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((tag, value, rest))
}

/// One DER element made of `tag` and `content`.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// PEM text (`-----BEGIN CERTIFICATE-----`) of a DER certificate.
pub(crate) fn certificate_pem(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

/// PEM text (`-----BEGIN PRIVATE KEY-----`) of a PKCS#8 DER private key.
pub(crate) fn private_key_pem(pkcs8: &[u8]) -> String {
    pem("PRIVATE KEY", pkcs8)
}

/// PEM text of `der` under `label`, base64 in lines of 64 characters,
/// ending with a newline.
fn pem(label: &'static str, der: &[u8]) -> String {
    // Encoding fails only for a label RFC 7468 forbids or an output too
    // long for a `usize`: the labels are the literals above, which it
    // allows, and the base64 of a slice already in memory is about 4/3 of
    // its length, so this cannot fail.
    #[allow(clippy::expect_used)]
    pem_rfc7468::encode_string(label, LineEnding::LF, der)
        .expect("PEM encoding of a literal label and an in-memory DER cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    #[test]
    fn pem_encodes_base64_with_padding() {
        assert_eq!(
            pem("X", b"Man"),
            "-----BEGIN X-----\nTWFu\n-----END X-----\n"
        );
        assert_eq!(
            pem("X", b"Ma"),
            "-----BEGIN X-----\nTWE=\n-----END X-----\n"
        );
        assert_eq!(pem("X", b"M"), "-----BEGIN X-----\nTQ==\n-----END X-----\n");
        let long = pem("X", &[0u8; 60]);
        assert_eq!(long.lines().nth(1).map(str::len), Some(64));
        assert_eq!(long.lines().nth(2).map(str::len), Some(16));
    }

    #[test]
    fn pem_wraps_full_lines_without_a_blank_one() {
        let one_line = pem("X", &[0u8; 48]);
        assert_eq!(
            one_line,
            format!("-----BEGIN X-----\n{}\n-----END X-----\n", "A".repeat(64))
        );
    }

    #[test]
    fn pem_matches_what_openssl_wrote() {
        // A certificate as `openssl req -x509` wrote it.
        const KNOWN: &str = "-----BEGIN CERTIFICATE-----\n\
                             MIIBfTCCASOgAwIBAgIUIKIf6swFZ2Eu0KjIOEcw4Yi/iLQwCgYIKoZIzj0EAwIw\n\
                             EzERMA8GA1UEAwwIUEVNIHRlc3QwIBcNMjYxMTI0MjA0NTMxWhgPMjEyNjEwMzEy\n\
                             MDQ1MzFaMBMxETAPBgNVBAMMCFBFTSB0ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0D\n\
                             AQcDQgAE9pr308vq4MYw36n3pqYXx5AdyH+Bxx3FSkU0u4x4ZDgYI7eTpTryBRr9\n\
                             cJhWdnuGJ678rpa0c7zhtORwRBQCTqNTMFEwHQYDVR0OBBYEFEbQMRasp5LtIBr7\n\
                             mTWvBh9eL+/VMB8GA1UdIwQYMBaAFEbQMRasp5LtIBr7mTWvBh9eL+/VMA8GA1Ud\n\
                             EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhANagkhDSoh/PBw2P78IyHKPn\n\
                             A5XS1qGSG/Gf7qmyvL00AiBcGH1e2ezr+ffce7dXL5BulWCnC8ONyDul6Y9U7Tzt\n\
                             ow==\n\
                             -----END CERTIFICATE-----\n";
        let der = CertificateDer::from_pem_slice(KNOWN.as_bytes()).unwrap();
        assert_eq!(certificate_pem(&der), KNOWN);
    }

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let element = tlv(TAG_OCTET_STRING, &content);
            let (tag, value, rest) = read_tlv(&element).unwrap();
            assert_eq!((tag, value.len(), rest.len()), (TAG_OCTET_STRING, len, 0));
        }
        assert!(read_tlv(&[0x04, 0x05, 1, 2]).is_none());
    }

    #[test]
    fn sec1_without_curve_is_refused_clearly() {
        let sec1 = tlv(TAG_SEQUENCE, &[0x02, 0x01, 0x01, 0x04, 0x01, 0x09]);
        let err = sec1_to_pkcs8(&sec1).unwrap_err();
        assert!(err.contains("does not name its curve"), "{err}");
    }
}
