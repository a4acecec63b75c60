//! The cluster's answers to a user's request, as a page or script is told them: RBAC denials,
//! missing objects and other refusals keep the API server's own message; a cluster that cannot
//! be reached says so. Tokens never appear in these messages (the API server does not echo them).

use frontend::contract::PageError;

/// `e`, from a call made with the user's token, as a [`PageError`].
pub fn page_error(e: kube::Error) -> PageError {
    match e {
        kube::Error::Api(status) => match status.code {
            401 => PageError::SignedOut,
            403 => PageError::Forbidden(status.message),
            404 => PageError::NotFound(status.message),
            400 | 422 => PageError::Rejected(status.message),
            // Overloaded, timing out or failing: the cluster could not answer, it did not refuse.
            429 | 500.. => PageError::Unreachable(status.message),
            _ => PageError::Refused(status.message),
        },
        other => PageError::Unreachable(other.to_string()),
    }
}
