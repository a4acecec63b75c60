//! The cluster CA is RSA 2048 as kubeadm makes it: the seeds' openssl pipeline for the
//! `--discovery-token-ca-cert-hash` works verbatim on the sim's `ca.crt` and prints the pin the
//! sim puts in cluster-info's kubeconfig and the dashboard puts in the join command.

use std::process::Command;

use super::start_sim;

#[tokio::test]
async fn the_seeds_openssl_pipeline_prints_the_ca_pin() {
    let sim = start_sim().await;
    let ca = sim.state_dir.join("ca.crt");
    // Verbatim from the seed, with the path of the sim's CA.
    let pipeline = format!(
        "openssl x509 -pubkey -in {} | openssl rsa -pubin -outform der 2>/dev/null | openssl dgst -sha256 -hex | sed 's/^.* //'",
        ca.display()
    );
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", &pipeline])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "the pipeline failed (is openssl installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hex = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(hex.len(), 64, "{hex:?}");
    assert_eq!(format!("sha256:{hex}"), sim.sim.ca.public_key_pin);
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&ca)
        .output()
        .expect("openssl runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    assert!(text.contains("rsaEncryption"), "{text}");
}
