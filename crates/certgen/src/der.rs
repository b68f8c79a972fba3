//! The little DER and PEM handling that the CA import needs: reading the
//! private key PEM forms operators have (PKCS#8, SEC1 `EC PRIVATE KEY`,
//! PKCS#1 `RSA PRIVATE KEY`) as PKCS#8, and writing PEM text.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

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
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || pem.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(
            "the key is encrypted: decrypt it first (openssl pkey -in KEY -out PLAIN)".into(),
        );
    }
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => "no PEM private key found (expected \
             -----BEGIN PRIVATE KEY-----, EC PRIVATE KEY or RSA PRIVATE KEY)"
            .to_owned(),
        other => format!("the PEM private key cannot be read: {other}"),
    })?;
    match key {
        PrivateKeyDer::Pkcs8(k) => Ok(k.secret_pkcs8_der().to_vec()),
        PrivateKeyDer::Pkcs1(k) => Ok(pkcs1_to_pkcs8(k.secret_pkcs1_der())),
        PrivateKeyDer::Sec1(k) => sec1_to_pkcs8(k.secret_sec1_der()),
        _ => Err("unsupported private key format".into()),
    }
}

/// Wraps an RSAPrivateKey (PKCS#1) in a PrivateKeyInfo (PKCS#8).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let mut body = VERSION_0.to_vec();
    body.extend_from_slice(RSA_ALGORITHM);
    body.extend(tlv(TAG_OCTET_STRING, pkcs1));
    tlv(TAG_SEQUENCE, &body)
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
    let mut algorithm = OID_EC_PUBLIC_KEY.to_vec();
    algorithm.extend_from_slice(curve);
    let mut body = VERSION_0.to_vec();
    body.extend(tlv(TAG_SEQUENCE, &algorithm));
    body.extend(tlv(TAG_OCTET_STRING, sec1));
    Ok(tlv(TAG_SEQUENCE, &body))
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

/// PEM text of `der` under `label` (`CERTIFICATE`, `PRIVATE KEY`), base64
/// in lines of 64 characters, ending with a newline.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3F) as usize]);
            } else {
                b64.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
