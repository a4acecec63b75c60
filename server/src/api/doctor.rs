//! `/api/v1/nodes/{name}/doctor`: a node's checks, each `pass`, `warn` or `fail`, with what was
//! seen and, in English, what the check is and what to do.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use frontend::backend::SignedInUser;
use frontend::contract::PageError;
use frontend::contract::doctor::{CheckKind, CheckStatus};
use frontend::i18n::Lang;
use frontend::pages::doctor::{advice, title};
use serde::Serialize;

use super::{ApiResult, Endpoint};
use crate::app::AppState;

/// The endpoints of the doctor, under `/api/v1`.
pub fn endpoints() -> Vec<Endpoint> {
    vec![("/nodes/{name}/doctor", get(diagnose))]
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckOut {
    check: CheckKind,
    status: CheckStatus,
    seen: String,
    title: &'static str,
    /// What to do; None when the check passes.
    advice: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DiagnosisOut {
    node: String,
    gpu_node: bool,
    worst: CheckStatus,
    checks: Vec<CheckOut>,
}

async fn diagnose(
    State(state): State<AppState>,
    user: SignedInUser,
    Path(name): Path<String>,
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
