//! Session records sealed for a shared store, with two keys derived from the one the replicas
//! share (`--session-key-file`). A record is stored under a keyed hash of its session id, not the
//! id itself, so reading the store gives no cookie to sign in with; and its data is sealed with
//! AES-256-GCM (ring) bound to the session id, so the store never holds a token in the clear and
//! a record cannot be moved to another id or altered unseen.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

/// The one field of a sealed record's data: nonce then ciphertext, in base64.
const SEALED: &str = "sealed";

/// The key the replicas seal session records with: 32 bytes.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

/// Why a sealing key was refused.
#[derive(Debug, thiserror::Error)]
#[error("the session key must be 32 random bytes in base64 (openssl rand -base64 32): {0}")]
pub struct KeyError(String);

impl SealingKey {
    /// The key written in base64 (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| KeyError(e.to_string()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError(format!("this one has {} bytes", b.len())))?;
        Ok(SealingKey(bytes))
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

/// Seals and opens records, and names where they are stored.
pub struct Sealer {
    seal: LessSafeKey,
    name: hmac::Key,
}

impl Sealer {
    /// Derives the sealing and the naming key from `key` (HMAC-SHA256 of a label for each).
    pub fn new(key: &SealingKey) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, &key.0);
        let derive = |label: &[u8]| hmac::sign(&root, label);
        let seal = UnboundKey::new(&AES_256_GCM, derive(b"gpuboard session seal").as_ref())
            .expect("32 bytes are an AES-256 key");
        Sealer {
            seal: LessSafeKey::new(seal),
            name: hmac::Key::new(hmac::HMAC_SHA256, derive(b"gpuboard session name").as_ref()),
        }
    }

    /// Where the session `id` is stored: the first 128 bits of its keyed hash.
    pub fn stored_id(&self, id: Id) -> Id {
        let tag = hmac::sign(&self.name, &id.0.to_le_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&tag.as_ref()[..16]);
        Id(i128::from_le_bytes(first))
    }

    /// A name for `text` (a username) that only the key's holders can tell: its keyed hash, hex.
    pub fn stored_name(&self, text: &str) -> String {
        crate::hex::encode(&hmac::sign(&self.name, text.as_bytes()).as_ref()[..16])
    }

    /// `record` as stored: under its [`Self::stored_id`], its data sealed to its id.
    pub fn seal(&self, record: &Record) -> Result<Record, session_store::Error> {
        let mut data = serde_json::to_vec(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let nonce: [u8; NONCE_LEN] = rand::random();
        self.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(record.id.0.to_le_bytes()),
                &mut data,
            )
            .map_err(|_| session_store::Error::Encode("sealing the session failed".into()))?;
        let sealed = BASE64.encode([nonce.as_slice(), &data].concat());
        Ok(Record {
            id: self.stored_id(record.id),
            data: HashMap::from([(SEALED.to_string(), serde_json::Value::String(sealed))]),
            expiry_date: record.expiry_date,
        })
    }

    /// Session `id`'s record from what is stored for it; None when it was sealed with another key
    /// or for another id, or altered.
    pub fn open(&self, id: Id, stored: Record) -> Option<Record> {
        let mut bytes = BASE64.decode(stored.data.get(SEALED)?.as_str()?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut body = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self
            .seal
            .open_in_place(nonce, Aad::from(id.0.to_le_bytes()), &mut body)
            .ok()?;
        Some(Record {
            id,
            data: serde_json::from_slice(plain).ok()?,
            expiry_date: stored.expiry_date,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::cookie::time::OffsetDateTime;

    fn key(byte: u8) -> SealingKey {
        SealingKey::from_base64(&BASE64.encode([byte; 32])).expect("a key")
    }

    fn record() -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([(
                "user".to_string(),
                serde_json::json!({"username": "alice", "token": "secret-token-value"}),
            )]),
            expiry_date: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn a_sealed_record_opens_with_its_key_and_id_only_and_shows_neither_token_nor_id() {
        let sealer = Sealer::new(&key(1));
        let record = record();
        let sealed = sealer.seal(&record).expect("seals");
        assert!(!format!("{:?}", sealed.data).contains("secret-token-value"));
        assert_ne!(
            sealed.id, record.id,
            "stored under another name than the cookie's"
        );
        assert_eq!(sealed.id, sealer.stored_id(record.id));
        let other = Sealer::new(&key(2));
        assert_ne!(sealed.id, other.stored_id(record.id), "named by the key");
        assert_eq!(sealer.open(record.id, sealed.clone()), Some(record.clone()));
        assert_eq!(other.open(record.id, sealed.clone()), None, "another key");
        assert_eq!(
            sealer.open(Id::default(), sealed.clone()),
            None,
            "another id"
        );
        let mut bytes = BASE64
            .decode(sealed.data[SEALED].as_str().expect("text"))
            .expect("base64");
        bytes[NONCE_LEN + 1] ^= 1;
        let mut altered = sealed;
        altered
            .data
            .insert(SEALED.into(), BASE64.encode(bytes).into());
        assert_eq!(sealer.open(record.id, altered), None, "altered");
    }

    #[test]
    fn a_key_must_be_32_bytes_of_base64() {
        assert!(SealingKey::from_base64(&format!(" {}\n", BASE64.encode([7u8; 32]))).is_ok());
        let short = SealingKey::from_base64(&BASE64.encode([7u8; 16])).unwrap_err();
        assert!(short.to_string().contains("16 bytes"), "{short}");
        assert!(SealingKey::from_base64("not base64!").is_err());
        assert_eq!(format!("{:?}", key(9)), "SealingKey(..)");
    }
}
