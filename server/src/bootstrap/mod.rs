//! Adding nodes: kubeadm's bootstrap tokens (their format and rules in [`token`], the endpoint and
//! CA pins of the join command in [`discovery`]) listed, created, revealed and revoked with the
//! user's own token ([`service`]).

pub mod discovery;
pub mod service;
pub mod token;

pub use service::JoinTokenService;
