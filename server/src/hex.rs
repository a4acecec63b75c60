//! Lowercase hex, the one way the server writes bytes as text: digests, CA pins, CSRF tokens and
//! request IDs.

/// `bytes` as lowercase hex, two characters a byte.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` random bytes (from the thread's CSPRNG) as lowercase hex.
pub fn random<const N: usize>() -> String {
    use rand::Rng;
    let bytes: [u8; N] = rand::rng().random();
    encode(&bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_lowercase_characters_a_byte_and_random_differs() {
        assert_eq!(super::encode(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(super::random::<16>().len(), 32);
        assert_ne!(super::random::<16>(), super::random::<16>());
    }
}
