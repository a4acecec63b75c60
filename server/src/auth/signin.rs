//! Checking a bearer token the way the Kubernetes Dashboard should have: a SelfSubjectReview made
//! *with that token*, refused on 401, for `system:anonymous` and `system:unauthenticated`, and when
//! empty; each refusal a [`SignInRefusal`] the sign-in page says in words.

use frontend::contract::SignInRefusal;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, PostParams};

use crate::cluster::clients::UserClients;

/// Who a token belongs to, as the cluster says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub groups: Vec<String>,
}

/// Why a sign-in was refused. Its [`SignInRefusal`] goes into the redirect to
/// `/login?error=<word>`; the page turns it into words, so no user input is ever echoed back.
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
    /// What the sign-in page is told.
    pub fn refusal(&self) -> SignInRefusal {
        match self {
            SignInError::Empty => SignInRefusal::Empty,
            SignInError::Rejected => SignInRefusal::Rejected,
            SignInError::Anonymous => SignInRefusal::Anonymous,
            SignInError::RateLimited => SignInRefusal::RateLimited,
            SignInError::Unreachable(_) => SignInRefusal::Unreachable,
        }
    }
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

/// Checks `token` with the cluster, as its holder; keeps the token's client when the cluster
/// accepts it.
pub async fn check_token(clients: &UserClients, token: &str) -> Result<Identity, SignInError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(SignInError::Empty);
    }
    // A token never contains whitespace or control characters; refuse before it reaches a header.
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) || token.len() > 16 * 1024 {
        return Err(SignInError::Rejected);
    }
    let client = clients
        .probe(token)
        .map_err(|e| SignInError::Unreachable(e.to_string()))?;
    let reviews: Api<SelfSubjectReview> = Api::all(client.clone());
    let identity = decide(
        reviews
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await,
    )?;
    clients.keep(token, client);
    Ok(identity)
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
        let clients = UserClients::new(kube::Config::new(
            "https://127.0.0.1:1".parse().expect("a URL"),
        ));
        assert_eq!(
            check_token(&clients, "  \n ").await,
            Err(SignInError::Empty)
        );
        assert_eq!(
            check_token(&clients, "abc def").await,
            Err(SignInError::Rejected)
        );
    }
}
