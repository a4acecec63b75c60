//! Kubernetes' naming rules (apimachinery's `IsDNS1123Label` and `IsDNS1123Subdomain`), checked
//! before a request is sent so the refusal can name the field.

fn is_alphanumeric(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters: namespaces.
pub fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes.iter().all(|&b| is_alphanumeric(b) || b == b'-')
        && bytes.first().is_some_and(|&b| is_alphanumeric(b))
        && bytes.last().is_some_and(|&b| is_alphanumeric(b))
}

/// Dot-separated labels, at most 253 characters: most object names (service accounts).
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let bytes = part.as_bytes();
            !bytes.is_empty()
                && bytes.iter().all(|&b| is_alphanumeric(b) || b == b'-')
                && is_alphanumeric(bytes[0])
                && is_alphanumeric(bytes[bytes.len() - 1])
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains_follow_apimachinery() {
        for good in ["a", "team-a", "0", "a1-b2"] {
            assert!(is_dns_label(good), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        for good in ["a", "a.b", "dashboard-admin", "x.y-z.0"] {
            assert!(is_dns_subdomain(good), "{good}");
        }
        for bad in ["", ".a", "a.", "a..b", "A", "a_b", &"a".repeat(254)] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
    }
}
