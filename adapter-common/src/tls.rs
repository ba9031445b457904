//! TLS configuration from PEM files (rustls, ring provider).
//!
//! [`server_config`] and [`client_config`] build rustls configurations from PEM files with the
//! ring provider passed explicitly, so nothing depends on a process-wide default provider.
//! [`peer_identity`] gives the broker the client certificate and its subject Common Name.
//! Files are read synchronously: build configurations at startup or on reload, not per
//! connection.
//!
//! Runtime-free: the tokio adapter wraps these configurations in `tokio-rustls`, the smol
//! adapter in `futures-rustls`; both re-export this module as their `tls`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls::{ClientConfig, RootCertStore, ServerConfig, ServerConnection};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS configuration could not be built; every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read (missing, unreadable).
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("{}: malformed PEM: {source}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// The PEM error.
        source: pem::Error,
    },
    /// A certificate (or CA) file holds no `CERTIFICATE` section.
    #[error("{}: no certificate found in PEM", .path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no private key.
    #[error("{}: no private key found in PEM (expected PKCS#8, PKCS#1 or SEC1)", .path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is unusable or does not belong to the certificate.
    #[error("private key {} is unusable or does not match certificate {}: {source}",
        .key.display(), .cert.display())]
    KeyMismatch {
        /// The certificate chain file.
        cert: PathBuf,
        /// The private key file.
        key: PathBuf,
        /// What rustls found wrong.
        source: rustls::Error,
    },
    /// A CA certificate cannot be used as a trust anchor.
    #[error("{}: bad CA certificate: {source}", .path.display())]
    BadCa {
        /// The CA bundle.
        path: PathBuf,
        /// What rustls found wrong.
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built from the CA bundle.
    #[error("{}: cannot verify client certificates with this CA bundle: {source}", .path.display())]
    ClientCa {
        /// The CA bundle.
        path: PathBuf,
        /// What rustls found wrong.
        source: VerifierBuilderError,
    },
    /// Client certificates are required but no CA bundle to verify them was given.
    #[error("client certificates are required but no client CA file is configured")]
    ClientCaRequired,
    /// No certificate of the system trust store could be loaded.
    #[error("no usable certificate in the system trust store")]
    NoSystemRoots,
    /// rustls refused the configuration itself.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A verified client certificate, as the broker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The end-entity certificate, DER-encoded.
    pub der: CertificateDer<'static>,
    /// The first subject Common Name, if the certificate has one in a string type we decode
    /// (UTF8String, PrintableString, IA5String, BMPString).
    pub common_name: Option<String>,
}

impl PeerCertificate {
    /// Wraps a DER certificate and extracts its subject Common Name.
    pub fn from_der(der: CertificateDer<'static>) -> Self {
        let common_name = subject_common_name(&der);
        Self { der, common_name }
    }
}

/// Builds the broker's TLS configuration.
///
/// `cert_chain` is the PEM certificate chain, end-entity first; `key` its private key (PKCS#8,
/// PKCS#1 or SEC1 PEM). With `client_ca`, client certificates are verified against that CA
/// bundle: required when `require_client_cert`, otherwise optional (a client without one is
/// let in, a client with a bad one is refused).
///
/// # Errors
///
/// A [`TlsError`] naming the file that is missing, malformed or mismatched;
/// [`TlsError::ClientCaRequired`] when `require_client_cert` is set without `client_ca`.
pub fn server_config(
    cert_chain: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    require_client_cert: bool,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(path) => {
            let roots = Arc::new(load_roots(path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if require_client_cert {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier.build().map_err(|source| TlsError::ClientCa {
                path: path.to_owned(),
                source,
            })?;
            builder.with_client_cert_verifier(verifier)
        }
        None if require_client_cert => return Err(TlsError::ClientCaRequired),
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(load_certs(cert_chain)?, load_key(key)?)
        .map_err(|source| key_mismatch(cert_chain, key, source))?;
    Ok(Arc::new(config))
}

/// Builds a client's TLS configuration.
///
/// Servers are verified against the CA bundle `ca`, or against the system trust store when
/// `None` (certificates that fail to load are skipped). `client_cert` is an optional PEM
/// certificate chain and private key to present.
///
/// # Errors
///
/// A [`TlsError`] naming the file that is missing, malformed or mismatched;
/// [`TlsError::NoSystemRoots`] when `ca` is `None` and no system certificate loads.
pub fn client_config(
    ca: Option<&Path>,
    client_cert: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match ca {
        Some(path) => load_roots(path)?,
        None => system_roots()?,
    };
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match client_cert {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|source| key_mismatch(cert, key, source))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The client certificate of a server-side connection, once the handshake has completed.
///
/// `None` when the client presented no certificate (or the handshake is not done yet). The
/// certificate has been verified when the configuration came from [`server_config`] with a
/// client CA.
pub fn peer_identity(conn: &ServerConnection) -> Option<PeerCertificate> {
    let der = conn.peer_certificates()?.first()?;
    Some(PeerCertificate::from_der(der.clone().into_owned()))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read(path)?).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!("system trust store: {e}");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "loaded system trust store");
    if added == 0 {
        return Err(TlsError::NoSystemRoots);
    }
    Ok(roots)
}

fn key_mismatch(cert: &Path, key: &Path, source: rustls::Error) -> TlsError {
    TlsError::KeyMismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        source,
    }
}

// A minimal DER walk to the subject CN. It reads untrusted bytes (the peer's certificate,
// though verified by then), so every step is a checked split: malformed input gives `None`,
// never a panic. Nothing else of the certificate is needed, which is not worth x509-parser's
// dependency tree.

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0; // [0] EXPLICIT
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const IA5_STRING: u8 = 0x16;
const BMP_STRING: u8 = 0x1e;
/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Splits one DER TLV off `input`: `(tag, contents, rest)`.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur on the path walked
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let (len, r) = rest.split_at_checked(usize::from(first & 0x7f))?;
        rest = r;
        if len.is_empty() {
            return None; // indefinite length is not DER
        }
        len.iter().try_fold(0usize, |acc, &b| {
            acc.checked_mul(256)?.checked_add(usize::from(b))
        })?
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// Splits one TLV with tag `tag` off `input`: `(contents, rest)`.
fn der_expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = der_tlv(input)?;
    (t == tag).then_some((contents, rest))
}

/// The first Common Name in the subject of an X.509 certificate (RFC 5280, section 4.1).
fn subject_common_name(cert: &[u8]) -> Option<String> {
    let (cert, _) = der_expect(cert, SEQUENCE)?;
    let (mut tbs, _) = der_expect(cert, SEQUENCE)?;
    if let Some((_, rest)) = der_expect(tbs, VERSION) {
        tbs = rest;
    }
    // serialNumber, signature, issuer, validity; then subject.
    for _ in 0..4 {
        tbs = der_tlv(tbs)?.2;
    }
    let (mut name, _) = der_expect(tbs, SEQUENCE)?;
    while !name.is_empty() {
        let (mut rdn, rest) = der_expect(name, SET)?;
        name = rest;
        while !rdn.is_empty() {
            let (attribute, rest) = der_expect(rdn, SEQUENCE)?;
            rdn = rest;
            let (oid, value) = der_expect(attribute, OID)?;
            if oid == COMMON_NAME {
                return decode_string(value);
            }
        }
    }
    None
}

/// Decodes a DirectoryString TLV.
fn decode_string(tlv: &[u8]) -> Option<String> {
    let (tag, contents, _) = der_tlv(tlv)?;
    match tag {
        UTF8_STRING => String::from_utf8(contents.to_vec()).ok(),
        PRINTABLE_STRING | IA5_STRING if contents.is_ascii() => {
            String::from_utf8(contents.to_vec()).ok()
        }
        BMP_STRING => {
            let (units, []) = contents.as_chunks::<2>() else {
                return None;
            };
            char::decode_utf16(units.iter().map(|&u| u16::from_be_bytes(u)))
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn cert_with(dn: &[(DnType, &str)]) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (ty, value) in dn {
            params.distinguished_name.push(ty.clone(), *value);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn common_name_is_found_among_other_attributes() {
        let der = cert_with(&[
            (DnType::CountryName, "DE"),
            (DnType::OrganizationName, "Example"),
            (DnType::CommonName, "sensor-42 ü"),
        ]);
        assert_eq!(subject_common_name(&der).as_deref(), Some("sensor-42 ü"));
    }

    #[test]
    fn missing_common_name_is_none() {
        let der = cert_with(&[(DnType::OrganizationName, "Example")]);
        assert_eq!(subject_common_name(&der), None);
    }

    #[test]
    fn printable_and_bmp_strings_decode() {
        assert_eq!(
            decode_string(&[0x13, 0x02, b'a', b'b']).as_deref(),
            Some("ab")
        );
        assert_eq!(
            decode_string(&[0x1e, 0x04, 0x00, b'a', 0x00, 0xfc]).as_deref(),
            Some("aü")
        );
        assert_eq!(decode_string(&[0x1e, 0x03, 0x00, b'a', 0x00]), None);
        assert_eq!(decode_string(&[0x13, 0x01, 0xff]), None);
    }

    #[test]
    fn der_lengths_are_checked() {
        assert_eq!(
            der_tlv(&[0x30, 0x81, 0x01, 0xaa]),
            Some((0x30, &[0xaa][..], &[][..]))
        );
        assert_eq!(der_tlv(&[0x30, 0x02, 0xaa]), None);
        assert_eq!(der_tlv(&[0x30, 0x80]), None);
        assert_eq!(der_tlv(&[0x30, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(
            der_tlv(&[0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            None
        );
    }

    #[test]
    fn malformed_certificates_never_panic() {
        let der = cert_with(&[(DnType::CommonName, "x")]);
        for end in 0..der.len() {
            let _ = subject_common_name(der.get(..end).unwrap());
        }
        for i in 0..der.len() {
            let mut bad = der.clone();
            bad[i] ^= 0xff;
            let _ = subject_common_name(&bad);
        }
    }
}
