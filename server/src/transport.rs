//! How browsers reach the dashboard's listener ([`Transport`], chosen once from the flags by
//! [`Transport::choose`]): plain HTTP on loopback (the demo), plain HTTP behind a TLS proxy that
//! the operator named (`--behind-tls`), or TLS the dashboard terminates itself, with the
//! certificate of `--tls-cert`/`--tls-key` or one made at start whose fingerprint is logged.
//! Tokens never cross a network in clear: off loopback, plain HTTP needs `--behind-tls`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What the listener speaks.
pub enum Transport {
    /// Plain HTTP on a loopback address: nothing leaves the machine.
    Loopback,
    /// Plain HTTP; a proxy or ingress in front terminates TLS for the browser.
    BehindTlsProxy,
    /// HTTPS, terminated here.
    Tls(TlsIdentity),
}

/// The certificate and key the listener presents.
pub struct TlsIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// SHA-256 of the leaf certificate, colon-separated hex (what a browser's certificate viewer shows).
    pub fingerprint: String,
    /// Made at start (self-signed) rather than read from files.
    pub generated: bool,
}

/// Why the flags name no transport the dashboard can serve.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(
        "--tls-cert and --tls-key go together: give both, or neither to have a certificate made at start"
    )]
    HalfAPair,
    #[error(
        "--behind-tls says a proxy terminates TLS in front, --tls-cert says the dashboard does: give one"
    )]
    Both,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "--tls-cert {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the certificate file, e.g. a kubernetes.io/tls Secret's tls.crt"
    )]
    NoCertificate { path: PathBuf },
    #[error(
        "--tls-key {path} holds no PEM private key (-----BEGIN ... PRIVATE KEY-----); give the key file, e.g. a kubernetes.io/tls Secret's tls.key"
    )]
    NoKey { path: PathBuf },
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The flags that choose the transport.
#[derive(Debug, Clone, Default)]
pub struct TransportFlags {
    pub behind_tls: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Transport {
    /// The transport for a listener on `listen`: TLS with the given files; plain behind a named
    /// proxy; plain on loopback; otherwise TLS with a certificate made now.
    pub fn choose(listen: SocketAddr, flags: &TransportFlags) -> Result<Self, TransportError> {
        match (&flags.tls_cert, &flags.tls_key) {
            (Some(_), None) | (None, Some(_)) => Err(TransportError::HalfAPair),
            (Some(_), Some(_)) if flags.behind_tls => Err(TransportError::Both),
            (Some(cert), Some(key)) => Ok(Transport::Tls(TlsIdentity::from_files(cert, key)?)),
            (None, None) if flags.behind_tls => Ok(Transport::BehindTlsProxy),
            (None, None) if listen.ip().is_loopback() => Ok(Transport::Loopback),
            (None, None) => Ok(Transport::Tls(TlsIdentity::generate(listen)?)),
        }
    }

    /// Whether answers carry HSTS: behind a TLS proxy (an ingress with a host name of its own)
    /// only. On a node's address, HSTS would turn the node's other NodePorts (workspaces serve
    /// plain HTTP there) to HTTPS in the browser, and break them.
    pub fn sends_hsts(&self) -> bool {
        matches!(self, Transport::BehindTlsProxy)
    }

    /// The scheme of the dashboard's address as the listener serves it.
    pub fn scheme(&self) -> &'static str {
        match self {
            Transport::Tls(_) => "https",
            Transport::Loopback | Transport::BehindTlsProxy => "http",
        }
    }
}

impl TlsIdentity {
    /// The PEM certificate (chain) and key in `cert` and `key`, e.g. a `kubernetes.io/tls` Secret's.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, TransportError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TransportError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let cert_pem = read(cert)?;
        let key_pem = read(key)?;
        let fingerprint =
            fingerprint_of_pem(&cert_pem).ok_or_else(|| TransportError::NoCertificate {
                path: cert.to_path_buf(),
            })?;
        if !holds_a_private_key(&key_pem) {
            return Err(TransportError::NoKey {
                path: key.to_path_buf(),
            });
        }
        Ok(TlsIdentity {
            cert_pem,
            key_pem,
            fingerprint,
            generated: false,
        })
    }

    /// A self-signed certificate for `gpuboard`, `localhost` and the listen address (when it is
    /// one address), made now; browsers warn until the operator trusts it or mounts their own.
    pub fn generate(listen: SocketAddr) -> Result<Self, TransportError> {
        let mut names = vec!["gpuboard".to_string(), "localhost".to_string()];
        if !listen.ip().is_unspecified() {
            names.push(listen.ip().to_string());
        }
        let made = rcgen::generate_simple_self_signed(names)?;
        let fingerprint = colon_hex(&Sha256::digest(made.cert.der()));
        Ok(TlsIdentity {
            cert_pem: made.cert.pem().into_bytes(),
            key_pem: made.signing_key.serialize_pem().into_bytes(),
            fingerprint,
            generated: true,
        })
    }
}

/// The SHA-256 fingerprint of the first certificate in `pem`.
fn fingerprint_of_pem(pem: &[u8]) -> Option<String> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .filter_map(Result::ok)
        .find(|block| block.label == "CERTIFICATE")
        .map(|block| colon_hex(&Sha256::digest(&block.contents)))
}

/// Whether `pem` holds a private key block (PKCS#8, PKCS#1 or SEC1), so a swapped or empty key
/// file is named at start rather than met at the first handshake.
fn holds_a_private_key(pem: &[u8]) -> bool {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .filter_map(Result::ok)
        .any(|block| block.label.ends_with("PRIVATE KEY"))
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn off_loopback_it_is_https_unless_a_tls_proxy_is_named() {
        let none = TransportFlags::default();
        assert!(matches!(
            Transport::choose(addr("127.0.0.1:3000"), &none),
            Ok(Transport::Loopback)
        ));
        let generated = Transport::choose(addr("0.0.0.0:3000"), &none).unwrap();
        let Transport::Tls(identity) = &generated else {
            panic!("off loopback without flags: TLS")
        };
        assert!(identity.generated);
        assert_eq!(identity.fingerprint.len(), 32 * 3 - 1);
        assert!(
            !generated.sends_hsts(),
            "a node's address serves workspaces over HTTP too"
        );
        let proxy = TransportFlags {
            behind_tls: true,
            ..Default::default()
        };
        let behind = Transport::choose(addr("0.0.0.0:3000"), &proxy).unwrap();
        assert!(matches!(behind, Transport::BehindTlsProxy));
        assert!(behind.sends_hsts());
        assert_eq!(behind.scheme(), "http");
    }

    #[test]
    fn certificate_files_are_read_and_contradictions_refused() {
        let dir = tempfile::tempdir().unwrap();
        let made = TlsIdentity::generate(addr("10.0.0.5:3000")).unwrap();
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert, &made.cert_pem).unwrap();
        std::fs::write(&key, &made.key_pem).unwrap();
        let files = TransportFlags {
            tls_cert: Some(cert.clone()),
            tls_key: Some(key.clone()),
            ..Default::default()
        };
        let Ok(Transport::Tls(read)) = Transport::choose(addr("127.0.0.1:3000"), &files) else {
            panic!("the files' certificate, on loopback too")
        };
        assert_eq!(read.fingerprint, made.fingerprint);
        assert!(!read.generated);

        let half = TransportFlags {
            tls_cert: Some(cert.clone()),
            ..Default::default()
        };
        assert!(matches!(
            Transport::choose(addr("0.0.0.0:1"), &half),
            Err(TransportError::HalfAPair)
        ));
        let both = TransportFlags {
            behind_tls: true,
            ..files.clone()
        };
        assert!(matches!(
            Transport::choose(addr("0.0.0.0:1"), &both),
            Err(TransportError::Both)
        ));
        let not_pem = TransportFlags {
            tls_cert: Some(key.clone()),
            ..files
        };
        let error = Transport::choose(addr("0.0.0.0:1"), &not_pem)
            .err()
            .expect("a key is no certificate")
            .to_string();
        assert!(
            error.contains("tls.key holds no PEM certificate"),
            "{error}"
        );
        let swapped = TransportFlags {
            tls_cert: Some(cert.clone()),
            tls_key: Some(cert),
            ..Default::default()
        };
        let error = Transport::choose(addr("0.0.0.0:1"), &swapped)
            .err()
            .expect("a certificate is no key")
            .to_string();
        assert!(
            error.contains("--tls-key") && error.contains("tls.crt holds no PEM private key"),
            "{error}"
        );
    }
}
