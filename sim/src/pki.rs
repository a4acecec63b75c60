//! The cluster CA (a real certificate made at start) and the kubeadm discovery artefacts built from it:
//! the CA-cert hash, cluster-info's kubeconfig and its JWS signatures.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The cluster CA: its PEM certificate, the `sha256:<hex>` pin of its public key, and its key.
pub struct ClusterCa {
    pub cert_pem: String,
    pub public_key_pin: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A serving certificate and its key, PEM.
pub struct ServingCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl ClusterCa {
    pub fn generate() -> Result<Self, rcgen::Error> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, KeyUsagePurpose, PublicKeyData,
        };
        let key = rsa_2048()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kubernetes");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let today = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let yesterday = today.yesterday().unwrap_or(today);
        params.not_before = rcgen::date_time_ymd(
            i32::from(yesterday.year()),
            yesterday.month() as u8,
            yesterday.day() as u8,
        );
        params.not_after = rcgen::date_time_ymd(
            i32::from(today.year()) + 10,
            today.month() as u8,
            today.day().min(28) as u8,
        );
        let cert = params.self_signed(&key)?;
        let spki = key.subject_public_key_info();
        let pin = format!("sha256:{}", hex(&Sha256::digest(&spki)));
        Ok(ClusterCa {
            cert_pem: cert.pem(),
            public_key_pin: pin,
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// The API server's certificate for the given names and addresses, signed by this CA.
    pub fn serving_cert(&self, names: &[String]) -> Result<ServingCert, rcgen::Error> {
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ServingCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    pub fn cert_base64(&self) -> String {
        STANDARD.encode(self.cert_pem.as_bytes())
    }

    /// The kubeconfig kubeadm puts in `kube-public/cluster-info`.
    pub fn cluster_info_kubeconfig(&self, server: &str) -> String {
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n",
            self.cert_base64()
        )
    }
}

/// A fresh RSA 2048 key, as kubeadm makes the cluster CA's (so the seeds' `openssl rsa` pipeline
/// for the CA-cert hash works on the sim's `ca.crt` verbatim).
fn rsa_2048() -> Result<rcgen::KeyPair, rcgen::Error> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|_| rcgen::Error::KeyGenerationUnavailable)?;
    let der = key
        .to_pkcs8_der()
        .map_err(|_| rcgen::Error::KeyGenerationUnavailable)?;
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec()),
        &rcgen::PKCS_RSA_SHA256,
    )
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The detached JWS (`header..signature`, HS256, key = token secret, kid = token id) the bootstrap
/// signer writes as `jws-kubeconfig-<id>`.
pub fn detached_jws(payload: &str, token_id: &str, token_secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{token_id}"}}"#));
    let body = URL_SAFE_NO_PAD.encode(payload.as_bytes());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{header}.{body}").as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}..{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_is_a_pem_certificate_with_a_pin() {
        let ca = ClusterCa::generate().unwrap();
        assert!(ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(ca.public_key_pin.starts_with("sha256:") && ca.public_key_pin.len() == 7 + 64);
        assert!(
            ca.cluster_info_kubeconfig("https://192.168.0.113:6443")
                .contains("server: https://192.168.0.113:6443")
        );
        let serving = ca
            .serving_cert(&["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        assert!(serving.key_pem.contains("PRIVATE KEY"));
    }

    #[test]
    fn jws_is_detached_and_depends_on_the_secret() {
        let a = detached_jws("payload", "abcdef", "0123456789abcdef");
        let b = detached_jws("payload", "abcdef", "0123456789abcdeg");
        assert!(a.contains("..") && a != b);
    }
}
