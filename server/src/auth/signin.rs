//! Checking a bearer token the way the Kubernetes Dashboard should have: a SelfSubjectReview made
//! *with that token*, refused on 401, for `system:anonymous` and `system:unauthenticated`, and when
//! empty; each refusal a message that says what to do. Also the per-user client, carrying the
//! user's token to the same cluster URL and CA as the server's own config.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, PostParams};

/// Who a token belongs to, as the cluster says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub groups: Vec<String>,
}

/// Why a sign-in was refused. The code goes into the redirect to `/login?error=<code>`; the page
/// turns it into words, so no user input is ever echoed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("no token was given")]
    Empty,
    #[error("the cluster does not accept this token")]
    Rejected,
    #[error("the token is anonymous")]
    Anonymous,
    #[error("too many sign-in attempts")]
    RateLimited,
    #[error("the cluster could not be reached: {0}")]
    Unreachable(String),
}

impl SignInError {
    /// A short code for the sign-in page.
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::Empty => "empty",
            SignInError::Rejected => "rejected",
            SignInError::Anonymous => "anonymous",
            SignInError::RateLimited => "rate-limited",
            SignInError::Unreachable(_) => "unreachable",
        }
    }
}

/// A client that acts as the holder of `token` against the cluster of `base`.
pub fn client_for_token(base: &kube::Config, token: &str) -> Result<kube::Client, kube::Error> {
    let mut config = base.clone();
    // Only the token: the server's own client certificate, exec plugin or token must not leak into it.
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.to_string().into()),
        ..Default::default()
    };
    kube::Client::try_from(config)
}

/// Decides a sign-in from what the cluster answered to a SelfSubjectReview.
pub fn decide(answer: Result<SelfSubjectReview, kube::Error>) -> Result<Identity, SignInError> {
    let review = match answer {
        Ok(review) => review,
        Err(kube::Error::Api(status)) if status.code == 401 => return Err(SignInError::Rejected),
        Err(kube::Error::Api(status)) if status.code == 403 => {
            // Every authenticated user may create a SelfSubjectReview; a 403 means the cluster saw no user.
            return Err(SignInError::Anonymous);
        }
        Err(e) => return Err(SignInError::Unreachable(e.to_string())),
    };
    let user = review.status.and_then(|s| s.user_info).unwrap_or_default();
    let username = user.username.unwrap_or_default();
    let groups = user.groups.unwrap_or_default();
    if username.is_empty()
        || username == "system:anonymous"
        || groups.iter().any(|g| g == "system:unauthenticated")
    {
        return Err(SignInError::Anonymous);
    }
    Ok(Identity { username, groups })
}

/// Checks `token` against the cluster of `base`.
pub async fn check_token(base: &kube::Config, token: &str) -> Result<Identity, SignInError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(SignInError::Empty);
    }
    // A token never contains whitespace or control characters; refuse before it reaches a header.
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) || token.len() > 16 * 1024 {
        return Err(SignInError::Rejected);
    }
    let client =
        client_for_token(base, token).map_err(|e| SignInError::Unreachable(e.to_string()))?;
    let reviews: Api<SelfSubjectReview> = Api::all(client);
    decide(
        reviews
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await,
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::authentication::v1::{SelfSubjectReviewStatus, UserInfo};

    use super::*;

    fn review(username: &str, groups: &[&str]) -> SelfSubjectReview {
        SelfSubjectReview {
            status: Some(SelfSubjectReviewStatus {
                user_info: Some(UserInfo {
                    username: Some(username.into()),
                    groups: Some(groups.iter().map(|g| g.to_string()).collect()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }
    }

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            serde_json::from_value(serde_json::json!({"status": "Failure", "message": "m", "reason": "r", "code": code}))
                .expect("status"),
        ))
    }

    #[test]
    fn a_named_user_signs_in() {
        let who = decide(Ok(review(
            "system:serviceaccount:kube-system:dashboard-admin",
            &["system:serviceaccounts", "system:authenticated"],
        )));
        assert_eq!(
            who.unwrap().username,
            "system:serviceaccount:kube-system:dashboard-admin"
        );
    }

    #[test]
    fn anonymous_unauthenticated_and_refused_tokens_do_not() {
        assert_eq!(
            decide(Ok(review("system:anonymous", &["system:unauthenticated"]))),
            Err(SignInError::Anonymous)
        );
        assert_eq!(
            decide(Ok(review("someone", &["system:unauthenticated"]))),
            Err(SignInError::Anonymous)
        );
        assert_eq!(decide(Ok(review("", &[]))), Err(SignInError::Anonymous));
        assert_eq!(
            decide(Ok(SelfSubjectReview::default())),
            Err(SignInError::Anonymous)
        );
        assert_eq!(decide(Err(api_error(401))), Err(SignInError::Rejected));
        assert_eq!(decide(Err(api_error(403))), Err(SignInError::Anonymous));
        assert!(matches!(
            decide(Err(api_error(500))),
            Err(SignInError::Unreachable(_))
        ));
    }

    #[tokio::test]
    async fn blank_and_malformed_tokens_are_refused_before_the_cluster_is_asked() {
        let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        assert_eq!(check_token(&config, "  \n ").await, Err(SignInError::Empty));
        assert_eq!(
            check_token(&config, "abc def").await,
            Err(SignInError::Rejected)
        );
    }
}
