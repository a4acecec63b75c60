//! `/api/v1/nodes/{name}/doctor`: a node's checks, each `pass`, `warn` or `fail`, with what was
//! seen and, in English, what the check is and what to do.

use axum::extract::State;
use axum::http::StatusCode;
use frontend::backend::SignedInUser;
use frontend::contract::PageError;
use frontend::contract::doctor::{CheckKind, CheckStatus};
use frontend::i18n::Lang;
use frontend::pages::doctor::{advice, title};
use serde::Serialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiPath, ApiResult, Refusals};
use crate::app::AppState;

/// The doctor's operation, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(diagnose))
}

/// One check of the node.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CheckOut {
    check: CheckKind,
    status: CheckStatus,
    /// What the cluster says (versions, counts, condition messages).
    seen: String,
    /// What the check is, in English.
    #[schema(value_type = String)]
    title: &'static str,
    /// What to do; null when the check passes.
    #[schema(value_type = Option<String>)]
    advice: Option<&'static str>,
}

/// The node's checks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DiagnosisOut {
    node: String,
    /// Whether the GPU checks apply.
    gpu_node: bool,
    /// The worst status of the checks.
    worst: CheckStatus,
    checks: Vec<CheckOut>,
}

/// The GPU-node doctor: the node's checks, each `pass`, `warn` or `fail`, with what was seen
/// and what to do.
#[utoipa::path(get, path = "/nodes/{name}/doctor", tag = "doctor",
    params(("name" = String, Path, description = "The node's name")),
    responses((status = 200, body = DiagnosisOut), Refusals))]
async fn diagnose(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<DiagnosisOut> {
    let diagnosis = state
        .backend
        .doctor(&user, &name)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("nodes {name:?} not found")))?;
    let worst = diagnosis.worst();
    let checks = diagnosis
        .checks
        .into_iter()
        .map(|c| CheckOut {
            title: title(Lang::En, c.check),
            advice: (c.status != CheckStatus::Pass).then(|| advice(Lang::En, c.check)),
            check: c.check,
            status: c.status,
            seen: c.seen.english(),
        })
        .collect();
    Ok((
        StatusCode::OK,
        axum::Json(DiagnosisOut {
            node: diagnosis.node,
            gpu_node: diagnosis.gpu_node,
            worst,
            checks,
        }),
    ))
}
