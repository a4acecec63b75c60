//! Kube clients that act as a user: the server's cluster URL and CA with the user's bearer token
//! and nothing else of the server's identity. One client per token, kept while it is used (a
//! client is a connection pool: reusing it saves a TLS handshake per call), keyed by the token's
//! SHA-256 so the cache holds no token in the clear as a key.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// A client unused this long is dropped (its connections with it).
const IDLE_FOR: Duration = Duration::from_secs(10 * 60);
const MAX_CLIENTS: u64 = 10_000;

/// The SHA-256 of a token: how caches key what they know of it.
pub fn token_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The kept clients, one per token.
pub struct UserClients {
    base: kube::Config,
    clients: moka::sync::Cache<[u8; 32], kube::Client>,
}

impl UserClients {
    /// `base` is the server's own config: user clients use its URL, CA and timeouts.
    pub fn new(base: kube::Config) -> Self {
        UserClients {
            base,
            clients: moka::sync::Cache::builder()
                .max_capacity(MAX_CLIENTS)
                .time_to_idle(IDLE_FOR)
                .build(),
        }
    }

    /// The client that acts as the holder of `token`, a signed-in user's: kept for reuse.
    pub fn for_token(&self, token: &str) -> Result<kube::Client, kube::Error> {
        let key = token_key(token);
        if let Some(client) = self.clients.get(&key) {
            return Ok(client);
        }
        let client = self.build(token)?;
        self.clients.insert(key, client.clone());
        Ok(client)
    }

    /// The client that acts as the signed-in `user` (their own token, so RBAC decides).
    pub fn for_user(
        &self,
        user: &frontend::backend::SignedInUser,
    ) -> Result<kube::Client, frontend::contract::PageError> {
        self.for_token(user.token())
            .map_err(|e| frontend::contract::PageError::Unreachable(e.to_string()))
    }

    /// A client for a token not yet known to be good (a sign-in): the kept one if there is one,
    /// else a new one that is not kept, so guessed tokens do not fill the cache. [`Self::keep`]
    /// it once the cluster accepts the token.
    pub fn probe(&self, token: &str) -> Result<kube::Client, kube::Error> {
        match self.clients.get(&token_key(token)) {
            Some(client) => Ok(client),
            None => self.build(token),
        }
    }

    /// Keeps the client of a token the cluster accepted.
    pub fn keep(&self, token: &str, client: kube::Client) {
        self.clients.insert(token_key(token), client);
    }

    fn build(&self, token: &str) -> Result<kube::Client, kube::Error> {
        let mut config = self.base.clone();
        // Only the token: the server's own client certificate, exec plugin or token must not leak into it.
        config.auth_info = kube::config::AuthInfo {
            token: Some(token.to_string().into()),
            ..Default::default()
        };
        kube::Client::try_from(config)
    }
}
