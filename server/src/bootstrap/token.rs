//! kubeadm's bootstrap tokens without the cluster: the format, the generator, the validation of a
//! request (kubeadm's rules and words) and reading a token's Secret as `kubeadm token list` does.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use frontend::contract::join::{
    JoinToken, MAX_DESCRIPTION_CHARS, MAX_GROUPS, NewJoinToken, Signing, TokenStatus, TokenUsage,
};
use frontend::contract::{FieldError, Refusal};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use rand::RngCore;

use crate::retries;

/// Where bootstrap-token Secrets live (the authenticator and signer look nowhere else).
pub const NAMESPACE: &str = "kube-system";
/// `bootstrap-token-<id>`.
pub const SECRET_PREFIX: &str = "bootstrap-token-";
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// `kube-public/cluster-info` keys carrying a token's signature: `jws-kubeconfig-<id>`.
pub const SIGNATURE_PREFIX: &str = "jws-kubeconfig-";
const USAGE_PREFIX: &str = "usage-bootstrap-";
/// kubeadm's alphabet for IDs and secrets.
const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// The longest lifetime accepted: ten years (a token that should outlive that should never expire).
pub const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// `len` characters of kubeadm's alphabet from the OS-seeded CSPRNG; bytes of 252 and above are
/// dropped, as kubeadm drops them, so every character is equally likely (256 = 7 * 36 + 4).
pub fn random_part(len: usize, rng: &mut impl RngCore) -> String {
    let blocks = std::iter::repeat_with(|| {
        let mut block = [0u8; 32];
        rng.fill_bytes(&mut block);
        block
    });
    blocks
        .flatten()
        .filter(|&b| b < 252)
        .take(len)
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect()
}

/// Names one create request (who sent it, its request ID, what it asked for); None without a
/// request ID.
pub fn request_digest(username: &str, token: &ValidToken) -> Option<String> {
    let request_id = token.request_id.as_deref()?;
    Some(retries::digest(
        "create join token",
        username,
        request_id,
        token,
    ))
}

/// The token ID the `attempt`th try of the request `digest` uses (hex is of kubeadm's alphabet).
pub fn derived_id(digest: &str, attempt: usize) -> String {
    retries::derived(digest, attempt, 6)
}

/// A fresh `(id, secret)`.
pub fn generate() -> (String, String) {
    let mut rng = rand::rng();
    (random_part(6, &mut rng), random_part(16, &mut rng))
}

fn of_alphabet(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// Whether `s` is a token ID (`[a-z0-9]{6}`).
pub fn is_id(s: &str) -> bool {
    of_alphabet(s, 6)
}

/// Whether `s` is a token secret (`[a-z0-9]{16}`).
pub fn is_secret(s: &str) -> bool {
    of_alphabet(s, 16)
}

/// Whether `group` matches kubeadm's `\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z`.
pub fn is_group(group: &str) -> bool {
    let Some(rest) = group.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    let body_ok = rest
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-');
    let last_ok = rest
        .bytes()
        .last()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (1..=256).contains(&rest.len()) && body_ok && last_ok
}

/// A request that passed every rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ValidToken {
    /// None: never expires.
    pub ttl_seconds: Option<u64>,
    pub description: String,
    pub usages: BTreeSet<TokenUsage>,
    pub groups: Vec<String>,
    pub request_id: Option<String>,
}

/// Checks `request` as `kubeadm token create` checks its flags, in kubeadm's words.
pub fn validate(request: &NewJoinToken) -> Result<ValidToken, FieldError> {
    let mut usages = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    for usage in request.usages.iter().map(|u| u.trim()) {
        match TokenUsage::from_str(usage) {
            Ok(known) => {
                usages.insert(known);
            }
            Err(_) => {
                unknown.insert(usage.to_string());
            }
        }
    }
    if !unknown.is_empty() {
        // Quoted back, so bounded: a few, each cut short.
        let usages = unknown
            .into_iter()
            .take(8)
            .map(|u| u.chars().take(64).collect::<String>())
            .collect::<Vec<_>>()
            .join(",");
        return Err(FieldError::new("usages", Refusal::UnknownUsages { usages }));
    }
    let groups: Vec<String> = request
        .groups
        .iter()
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect();
    if groups.len() > MAX_GROUPS {
        return Err(FieldError::new(
            "groups",
            Refusal::TooMany { max: MAX_GROUPS },
        ));
    }
    if !groups.is_empty() && !usages.contains(&TokenUsage::Authentication) {
        return Err(FieldError::new("groups", Refusal::GroupsNeedAuthentication));
    }
    if let Some(group) = groups.iter().find(|g| !is_group(g)) {
        return Err(FieldError::new(
            "groups",
            Refusal::InvalidGroup {
                group: group.clone(),
            },
        ));
    }
    let description = request.description.trim().to_string();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(FieldError::new(
            "description",
            Refusal::TooLong {
                max: MAX_DESCRIPTION_CHARS,
            },
        ));
    }
    if request.ttl_seconds > MAX_TTL_SECONDS {
        return Err(FieldError::new(
            "ttlSeconds",
            Refusal::TooLarge {
                max: MAX_TTL_SECONDS,
            },
        ));
    }
    retries::check(request.request_id.as_deref())?;
    Ok(ValidToken {
        ttl_seconds: (request.ttl_seconds > 0).then_some(request.ttl_seconds),
        description,
        usages,
        groups,
        request_id: request.request_id.clone(),
    })
}

/// When a token made at `now` with `ttl_seconds` expires, as kubeadm writes it (RFC 3339, UTC,
/// whole seconds).
pub fn expiration(now: jiff::Timestamp, ttl_seconds: u64) -> String {
    let seconds = i64::try_from(ttl_seconds).unwrap_or(i64::MAX);
    let at = now
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap_or(jiff::Timestamp::MAX);
    jiff::Timestamp::from_second(at.as_second())
        .unwrap_or(at)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The Secret that makes `id.secret` a token with `token`'s settings, as kubeadm writes it, with
/// the digest of the request that makes it (when it has an ID) as an annotation.
pub fn secret_for(
    id: &str,
    secret: &str,
    token: &ValidToken,
    request: Option<&str>,
    now: jiff::Timestamp,
) -> Secret {
    let mut data = BTreeMap::new();
    let mut put = |key: String, value: &str| {
        data.insert(key, ByteString(value.as_bytes().to_vec()));
    };
    put("token-id".into(), id);
    put("token-secret".into(), secret);
    if let Some(ttl) = token.ttl_seconds {
        put("expiration".into(), &expiration(now, ttl));
    }
    for usage in &token.usages {
        put(format!("{USAGE_PREFIX}{}", usage.word()), "true");
    }
    if !token.groups.is_empty() {
        put("auth-extra-groups".into(), &token.groups.join(","));
    }
    if !token.description.is_empty() {
        put("description".into(), &token.description);
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("{SECRET_PREFIX}{id}")),
            namespace: Some(NAMESPACE.into()),
            annotations: request.map(retries::annotations),
            ..Default::default()
        },
        type_: Some(SECRET_TYPE.into()),
        data: Some(data),
        ..Default::default()
    }
}

/// A value of the Secret's data, as text.
fn value<'a>(secret: &'a Secret, key: &str) -> Option<&'a str> {
    let bytes = secret.data.as_ref()?.get(key)?;
    std::str::from_utf8(&bytes.0).ok()
}

/// The ID a token Secret's name carries.
pub fn id_of_name(name: &str) -> Option<&str> {
    name.strip_prefix(SECRET_PREFIX).filter(|id| is_id(id))
}

/// The token's `id.secret`, when the Secret holds a well-formed one.
pub fn full_token(secret: &Secret) -> Option<String> {
    let id = value(secret, "token-id").filter(|id| is_id(id))?;
    let token_secret = value(secret, "token-secret").filter(|s| is_secret(s))?;
    Some(format!("{id}.{token_secret}"))
}

/// Why kubeadm would not parse this Secret as a token (`BootstrapTokenFromSecret`), if it would not.
fn problem(name: &str, secret: &Secret) -> Option<String> {
    let Some(id) = value(secret, "token-id") else {
        return Some(format!(
            "bootstrap Token Secret has no token-id data: {name}"
        ));
    };
    if name != format!("{SECRET_PREFIX}{id}") || !is_id(id) {
        return Some(format!(
            "bootstrap token name is not of the form '{SECRET_PREFIX}(token-id)'. Actual: {name:?}. Expected: \"{SECRET_PREFIX}{id}\""
        ));
    }
    match value(secret, "token-secret") {
        None => Some(format!(
            "bootstrap Token Secret has no token-secret data: {name}"
        )),
        Some(s) if !is_secret(s) => Some(format!(
            "bootstrap Token Secret {name} has a token-secret that is not 16 characters of [a-z0-9]"
        )),
        Some(_) => None,
    }
}

/// One token Secret as the list shows it, at `now`; `signed` says whether cluster-info carries
/// its signature.
pub fn read(secret: &Secret, now: jiff::Timestamp, signed: bool) -> JoinToken {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let id = id_of_name(&name)
        .map(str::to_string)
        .unwrap_or_else(|| name.trim_start_matches(SECRET_PREFIX).to_string());
    let expiration = value(secret, "expiration");
    let expires_at = expiration.map(|e| e.parse::<jiff::Timestamp>());
    let mut problem = problem(&name, secret);
    if let (Some(text), Some(Err(_))) = (expiration, &expires_at) {
        problem
            .get_or_insert_with(|| format!("bootstrap token expiration {text:?} is not RFC 3339"));
    }
    let ttl_seconds = match &expires_at {
        Some(Ok(at)) => Some(at.as_second() - now.as_second()),
        // An unparseable expiration counts as expired, as the authenticator counts it.
        Some(Err(_)) => Some(0),
        None => None,
    };
    let status = if problem.is_some() {
        TokenStatus::Invalid
    } else if ttl_seconds.is_some_and(|left| left <= 0) {
        TokenStatus::Expired
    } else {
        TokenStatus::Valid
    };
    let mut usages: Vec<TokenUsage> = secret
        .data
        .iter()
        .flatten()
        .filter(|(_, v)| v.0 == b"true")
        .filter_map(|(k, _)| TokenUsage::from_str(k.strip_prefix(USAGE_PREFIX)?).ok())
        .collect();
    usages.sort();
    let signing = if status == TokenStatus::Valid && usages.contains(&TokenUsage::Signing) {
        if signed {
            Signing::Signed
        } else {
            Signing::Pending
        }
    } else {
        Signing::NotRequested
    };
    JoinToken {
        id,
        expires: expiration.map(str::to_string),
        ttl_seconds,
        usages,
        description: value(secret, "description").unwrap_or_default().to_string(),
        extra_groups: value(secret, "auth-extra-groups")
            .map(|g| {
                g.split(',')
                    .map(|g| g.trim().to_string())
                    .filter(|g| !g.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        status,
        problem,
        signing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontend::contract::join::KUBEADM_NODE_GROUP;

    fn request(usages: &[&str], groups: &[&str]) -> NewJoinToken {
        NewJoinToken {
            usages: usages.iter().map(|u| u.to_string()).collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }

    fn refusal(request: &NewJoinToken) -> (String, String) {
        let e = validate(request).unwrap_err();
        (e.field, e.message)
    }

    #[test]
    fn generated_parts_use_kubeadms_alphabet_and_lengths_and_differ() {
        let (id, secret) = generate();
        assert!(is_id(&id) && is_secret(&secret), "{id}.{secret}");
        let ids: BTreeSet<String> = (0..200).map(|_| generate().0).collect();
        assert!(ids.len() > 190, "IDs repeat: {}", ids.len());
    }

    #[test]
    fn bytes_of_252_and_above_are_dropped_not_folded() {
        // A source that gives 252..=255 then 0, 35, 36: only the last three count.
        struct Fixed(Vec<u8>);
        impl RngCore for Fixed {
            fn next_u32(&mut self) -> u32 {
                unreachable!()
            }
            fn next_u64(&mut self) -> u64 {
                unreachable!()
            }
            fn fill_bytes(&mut self, dst: &mut [u8]) {
                for (d, s) in dst.iter_mut().zip(self.0.iter().cycle()) {
                    *d = *s;
                }
            }
        }
        let mut rng = Fixed(vec![252, 253, 254, 255, 0, 35, 36]);
        assert_eq!(random_part(3, &mut rng), "0z0");
    }

    #[test]
    fn a_request_id_gives_the_same_token_ids_for_the_same_request_only() {
        let asked = |id: &str, description: &str| NewJoinToken {
            request_id: Some(id.into()),
            description: description.into(),
            ..Default::default()
        };
        let digest = |user: &str, request: &NewJoinToken| {
            request_digest(user, &validate(request).expect("valid")).expect("a digest")
        };
        let first = digest("alice", &asked("0123456789abcdef", ""));
        assert_eq!(first, digest("alice", &asked("0123456789abcdef", "")));
        for other in [
            digest("bob", &asked("0123456789abcdef", "")),
            digest("alice", &asked("0123456789abcdeF", "")),
            digest("alice", &asked("0123456789abcdef", "rack 3")),
        ] {
            assert_ne!(first, other);
        }
        assert_eq!(
            request_digest("alice", &validate(&NewJoinToken::default()).unwrap()),
            None
        );
        let ids: BTreeSet<String> = (0..5).map(|attempt| derived_id(&first, attempt)).collect();
        assert_eq!(ids.len(), 5, "each attempt its own ID: {ids:?}");
        assert!(ids.iter().all(|id| is_id(id)), "{ids:?}");
        assert_eq!(derived_id(&first, 3), derived_id(&first, 3));
    }

    #[test]
    fn ids_secrets_and_groups_follow_kubeadms_patterns() {
        assert!(is_id("abcdef") && is_id("0a1b2c"));
        assert!(!is_id("ABCDEF") && !is_id("abcde") && !is_id("abcdefg") && !is_id("abc-ef"));
        assert!(is_secret("0123456789abcdef") && !is_secret("0123456789abcde"));
        assert!(is_group(KUBEADM_NODE_GROUP));
        assert!(is_group("system:bootstrappers:a"));
        assert!(!is_group("system:bootstrappers:"));
        assert!(!is_group("system:bootstrappers:team-"));
        assert!(!is_group("system:bootstrappers:Team"));
        assert!(!is_group("system:masters"));
        assert!(is_group(&format!(
            "system:bootstrappers:{}",
            "a".repeat(256)
        )));
        assert!(!is_group(&format!(
            "system:bootstrappers:{}",
            "a".repeat(257)
        )));
    }

    #[test]
    fn an_empty_request_is_kubeadms_default_token() {
        let token = validate(&NewJoinToken::default()).unwrap();
        assert_eq!(token.ttl_seconds, Some(86_400));
        assert_eq!(
            token.usages,
            BTreeSet::from([TokenUsage::Authentication, TokenUsage::Signing])
        );
        assert_eq!(token.groups, vec![KUBEADM_NODE_GROUP.to_string()]);
        let forever = NewJoinToken {
            ttl_seconds: 0,
            ..Default::default()
        };
        assert_eq!(validate(&forever).unwrap().ttl_seconds, None);
    }

    #[test]
    fn each_rule_refuses_with_kubeadms_words_and_names_the_field() {
        assert_eq!(
            refusal(&request(&["signing", "bogus", "alpha"], &[])),
            (
                "usages".into(),
                "invalid bootstrap token usage string: alpha,bogus, valid usage options: signing,authentication".into()
            )
        );
        assert_eq!(
            refusal(&request(&["signing"], &[KUBEADM_NODE_GROUP])),
            (
                "groups".into(),
                "token groups cannot be specified unless --usages includes \"authentication\""
                    .into()
            )
        );
        assert_eq!(
            refusal(&request(&["authentication"], &["system:masters"])),
            (
                "groups".into(),
                r#"bootstrap group "system:masters" is invalid (must match \Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z)"#.into()
            )
        );
        let long = NewJoinToken {
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            ..Default::default()
        };
        assert_eq!(refusal(&long).0, "description");
        let many = request(&["authentication"], &[KUBEADM_NODE_GROUP; MAX_GROUPS + 1]);
        assert_eq!(refusal(&many).0, "groups");
        let ages = NewJoinToken {
            ttl_seconds: MAX_TTL_SECONDS + 1,
            ..Default::default()
        };
        assert_eq!(refusal(&ages).0, "ttlSeconds");
    }

    #[test]
    fn a_created_secret_reads_back_as_the_token_it_was_made_from() {
        let now: jiff::Timestamp = "2026-11-24T10:00:00.5Z".parse().unwrap();
        let token = validate(&NewJoinToken {
            description: "rack 3".into(),
            ..Default::default()
        })
        .unwrap();
        let secret = secret_for("abcdef", "0123456789abcdef", &token, None, now);
        assert_eq!(
            secret.metadata.name.as_deref(),
            Some("bootstrap-token-abcdef")
        );
        assert_eq!(value(&secret, "expiration"), Some("2026-11-25T10:00:00Z"));
        assert_eq!(
            full_token(&secret).as_deref(),
            Some("abcdef.0123456789abcdef")
        );
        let read_back = read(&secret, now, false);
        assert_eq!(read_back.id, "abcdef");
        assert_eq!(read_back.ttl_seconds, Some(86_400));
        assert_eq!(read_back.status, TokenStatus::Valid);
        assert_eq!(read_back.signing, Signing::Pending);
        assert_eq!(read_back.description, "rack 3");
        assert_eq!(read_back.extra_groups, vec![KUBEADM_NODE_GROUP.to_string()]);
        assert_eq!(
            read_back.usages,
            vec![TokenUsage::Authentication, TokenUsage::Signing]
        );
        assert_eq!(read(&secret, now, true).signing, Signing::Signed);
        let later: jiff::Timestamp = "2026-11-26T00:00:00Z".parse().unwrap();
        let expired = read(&secret, later, true);
        assert_eq!(expired.status, TokenStatus::Expired);
        assert_eq!(expired.signing, Signing::NotRequested);
    }

    #[test]
    fn malformed_secrets_are_flagged_with_why() {
        let now = jiff::Timestamp::now();
        let token = validate(&NewJoinToken::default()).unwrap();
        let mut wrong_name = secret_for("abcdef", "0123456789abcdef", &token, None, now);
        wrong_name.metadata.name = Some("bootstrap-token-zzzzzz".into());
        let read_back = read(&wrong_name, now, false);
        assert_eq!(read_back.status, TokenStatus::Invalid);
        assert!(read_back.problem.unwrap().contains("not of the form"));

        let mut bad_expiry = secret_for("abcdef", "0123456789abcdef", &token, None, now);
        bad_expiry
            .data
            .as_mut()
            .unwrap()
            .insert("expiration".into(), ByteString(b"tomorrow".to_vec()));
        let read_back = read(&bad_expiry, now, false);
        assert_eq!(read_back.status, TokenStatus::Invalid);
        assert!(read_back.problem.unwrap().contains("RFC 3339"));

        let mut no_secret = secret_for("abcdef", "0123456789abcdef", &token, None, now);
        no_secret.data.as_mut().unwrap().remove("token-secret");
        assert_eq!(read(&no_secret, now, false).status, TokenStatus::Invalid);
        assert_eq!(full_token(&no_secret), None);
    }
}
