//! Where a joining node finds the cluster: the API endpoint and the CA pins of the join command,
//! read from `kube-public/cluster-info` as `kubeadm join` reads it, or from the dashboard's own
//! kubeconfig when cluster-info cannot be read. A pin is `sha256:` and the hex SHA-256 of the
//! CA certificate's DER SubjectPublicKeyInfo, as kubeadm's `pubkeypin.Hash` computes it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use frontend::contract::join::{Discovery, DiscoverySource};
use sha2::{Digest, Sha256};

/// Why discovery data could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiscoveryError {
    #[error("cluster-info has no kubeconfig")]
    NoKubeconfig,
    #[error("cluster-info's kubeconfig does not parse: {0}")]
    Kubeconfig(String),
    #[error("the kubeconfig names no cluster server")]
    NoServer,
    #[error("the kubeconfig carries no CA certificate")]
    NoCa,
    #[error("the CA data is not base64: {0}")]
    Base64(String),
    #[error("a CA certificate does not parse: {0}")]
    Certificate(String),
    #[error(
        "the dashboard reaches the API server at {0}, a Service address new nodes cannot reach"
    )]
    InClusterAddress(String),
}

/// `sha256:<hex>` of one DER certificate's public key.
pub fn pin_of_der(der: &[u8]) -> Result<String, DiscoveryError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| DiscoveryError::Certificate(e.to_string()))?;
    let spki = cert.public_key().raw;
    Ok(format!(
        "sha256:{}",
        crate::hex::encode(&Sha256::digest(spki))
    ))
}

/// One pin per certificate of a PEM bundle.
pub fn pins_of_pem(bundle: &[u8]) -> Result<Vec<String>, DiscoveryError> {
    let mut pins = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(bundle) {
        let pem = pem.map_err(|e| DiscoveryError::Certificate(e.to_string()))?;
        if pem.label == "CERTIFICATE" {
            pins.push(pin_of_der(&pem.contents)?);
        }
    }
    if pins.is_empty() {
        return Err(DiscoveryError::NoCa);
    }
    Ok(pins)
}

/// `host:port` of a server URL, as kubeadm strips `https://`.
fn endpoint_of(server: &str) -> String {
    server
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

/// Discovery from cluster-info's `kubeconfig` value (its first cluster, as kubeadm writes it).
pub fn from_cluster_info(kubeconfig: &str) -> Result<Discovery, DiscoveryError> {
    let config = kube::config::Kubeconfig::from_yaml(kubeconfig)
        .map_err(|e| DiscoveryError::Kubeconfig(e.to_string()))?;
    let cluster = config
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .ok_or(DiscoveryError::NoServer)?;
    let server = cluster.server.as_deref().ok_or(DiscoveryError::NoServer)?;
    let ca = cluster
        .certificate_authority_data
        .as_deref()
        .ok_or(DiscoveryError::NoCa)?;
    let pem = STANDARD
        .decode(ca.trim())
        .map_err(|e| DiscoveryError::Base64(e.to_string()))?;
    Ok(Discovery {
        endpoint: endpoint_of(server),
        ca_cert_hashes: pins_of_pem(&pem)?,
        source: DiscoverySource::ClusterInfo,
    })
}

/// Discovery from the dashboard's own kubeconfig (its cluster URL and CA certificates).
pub fn from_config(config: &kube::Config) -> Result<Discovery, DiscoveryError> {
    let certs = config.root_cert.as_deref().unwrap_or_default();
    if certs.is_empty() {
        return Err(DiscoveryError::NoCa);
    }
    let pins = certs
        .iter()
        .map(|der| pin_of_der(der))
        .collect::<Result<Vec<_>, _>>()?;
    let url = config.cluster_url.to_string();
    // In the cluster the dashboard's own address is the `kubernetes` Service's ClusterIP, which a
    // node that has not joined cannot reach: no join command from it.
    let host = config.cluster_url.host().unwrap_or_default();
    let service_host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
    if service_host.is_some_and(|h| h == host) || host.starts_with("kubernetes.default") {
        return Err(DiscoveryError::InClusterAddress(endpoint_of(&url)));
    }
    Ok(Discovery {
        endpoint: endpoint_of(&url),
        ca_cert_hashes: pins,
        source: DiscoverySource::DashboardKubeconfig,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA as the sim makes one, and the pin computed from the key it was made with.
    fn ca() -> (String, String) {
        let ca = gpuboard_sim::pki::ClusterCa::generate().expect("a CA");
        (ca.cert_pem.clone(), ca.public_key_pin.clone())
    }

    #[test]
    fn the_pin_is_the_sha256_of_the_public_key_info() {
        let (pem, expected) = ca();
        assert_eq!(pins_of_pem(pem.as_bytes()).unwrap(), vec![expected]);
    }

    #[test]
    fn a_bundle_gives_one_pin_per_certificate() {
        let (a, pin_a) = ca();
        let (b, pin_b) = ca();
        let bundle = format!("{a}{b}");
        assert_eq!(pins_of_pem(bundle.as_bytes()).unwrap(), vec![pin_a, pin_b]);
        assert_eq!(
            pins_of_pem(b"no certificate here"),
            Err(DiscoveryError::NoCa)
        );
    }

    #[test]
    fn cluster_info_gives_the_endpoint_without_scheme_and_the_pins() {
        let ca = gpuboard_sim::pki::ClusterCa::generate().unwrap();
        // The seeds' control-plane address: only written into the kubeconfig, never connected to.
        let endpoint = "192.168.0.113:6443";
        let kubeconfig = ca.cluster_info_kubeconfig(&format!("https://{endpoint}"));
        let discovery = from_cluster_info(&kubeconfig).unwrap();
        assert_eq!(discovery.endpoint, endpoint);
        assert_eq!(discovery.ca_cert_hashes, vec![ca.public_key_pin.clone()]);
        assert_eq!(discovery.source, DiscoverySource::ClusterInfo);
        assert!(matches!(
            from_cluster_info("clusters: [{name: x, cluster: {server: https://a:6443}}]"),
            Err(DiscoveryError::NoCa)
        ));
        assert!(matches!(
            from_cluster_info(": not yaml"),
            Err(DiscoveryError::Kubeconfig(_))
        ));
    }
}
