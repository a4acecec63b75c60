//! A workload's logs, read with the user's token (`pods/log`, so RBAC decides): which pod and
//! container (only the workload's own), the tail (bounded), the previous run, timestamps; read at
//! once, or followed as the kubelet streams them (no polling). Followed streams are bounded by a
//! semaphore, each holding a permit until it ends or its reader goes.

use std::sync::Arc;

use frontend::backend::LogStream;
use frontend::contract::PageError;
use frontend::contract::workload_detail::{LogQuery, Logs, MAX_TAIL_LINES};
use frontend::contract::{FieldError, Refusal};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use tokio::sync::Semaphore;

use crate::cluster::refusal::page_error;

/// The most bytes one read returns (the kubelet cuts there).
const MAX_LOG_BYTES: i64 = 8 * 1024 * 1024;

/// Logs followed at once, over all users.
pub const MAX_FOLLOWED: usize = 64;

fn invalid(field: &str, refusal: Refusal) -> PageError {
    PageError::Invalid(FieldError::new(field, refusal))
}

/// The pod and container `query` names, checked against the workload's `pods` (newest first).
pub fn target(pods: &[Pod], query: &LogQuery) -> Result<(String, String), PageError> {
    if query.tail_lines.is_some_and(|n| n > MAX_TAIL_LINES) {
        return Err(invalid(
            "tailLines",
            Refusal::TooLarge {
                max: u64::from(MAX_TAIL_LINES),
            },
        ));
    }
    let pod = if query.pod.is_empty() {
        pods.first()
            .ok_or_else(|| PageError::NotFound("it has no pods yet".into()))?
    } else {
        pods.iter()
            .find(|p| p.metadata.name.as_deref() == Some(query.pod.as_str()))
            .ok_or_else(|| {
                invalid(
                    "pod",
                    Refusal::NotOneOf {
                        choices: pods
                            .iter()
                            .filter_map(|p| p.metadata.name.clone())
                            .collect(),
                    },
                )
            })?
    };
    let containers: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| c.name.clone())
        .collect();
    let container = if query.container.is_empty() {
        containers.first().cloned().unwrap_or_default()
    } else if containers.contains(&query.container) {
        query.container.clone()
    } else {
        return Err(invalid(
            "container",
            Refusal::NotOneOf {
                choices: containers,
            },
        ));
    };
    Ok((pod.metadata.name.clone().unwrap_or_default(), container))
}

fn params(query: &LogQuery, container: &str, follow: bool) -> LogParams {
    LogParams {
        container: Some(container.to_string()),
        follow,
        tail_lines: Some(i64::from(query.tail_lines.unwrap_or(MAX_TAIL_LINES))),
        previous: query.previous,
        timestamps: query.timestamps,
        limit_bytes: (!follow).then_some(MAX_LOG_BYTES),
        ..Default::default()
    }
}

/// The logs at once.
pub async fn read(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    query: &LogQuery,
) -> Result<Logs, PageError> {
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let text = pods
        .logs(pod, &params(query, container, false))
        .await
        .map_err(page_error)?;
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let keep_from = lines.len().saturating_sub(MAX_TAIL_LINES as usize);
    Ok(Logs {
        pod: pod.to_string(),
        container: container.to_string(),
        lines: lines.split_off(keep_from),
    })
}

/// The logs as they come, line by line, until the container ends or the reader goes.
pub async fn follow(
    client: &kube::Client,
    limit: &Arc<Semaphore>,
    namespace: &str,
    pod: &str,
    container: &str,
    query: &LogQuery,
) -> Result<LogStream, PageError> {
    let permit = limit.clone().try_acquire_owned().map_err(|_| {
        PageError::Unreachable(format!(
            "the dashboard is following {MAX_FOLLOWED} logs already; read them without following, or try again later"
        ))
    })?;
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let reader = pods
        .log_stream(pod, &params(query, container, true))
        .await
        .map_err(page_error)?;
    let lines = reader
        .lines()
        .map_err(|e| PageError::Unreachable(format!("the log stream broke: {e}")))
        // The permit goes when the stream does.
        .map(move |line| {
            let _held = &permit;
            line
        });
    Ok(lines.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"containers": [{"name": "main"}, {"name": "sidecar"}]}}))
        .unwrap()
    }

    fn refused_field(e: PageError) -> String {
        match e {
            PageError::Invalid(f) => f.field,
            other => panic!("not a field refusal: {other:?}"),
        }
    }

    #[test]
    fn only_the_workloads_pods_and_their_containers_are_read() {
        let pods = [pod("tf-new"), pod("tf-old")];
        let any = LogQuery::default();
        assert_eq!(
            target(&pods, &any).unwrap(),
            ("tf-new".into(), "main".into())
        );
        let older = LogQuery {
            pod: "tf-old".into(),
            container: "sidecar".into(),
            ..Default::default()
        };
        assert_eq!(
            target(&pods, &older).unwrap(),
            ("tf-old".into(), "sidecar".into())
        );
        let stranger = LogQuery {
            pod: "kube-apiserver".into(),
            ..Default::default()
        };
        assert_eq!(refused_field(target(&pods, &stranger).unwrap_err()), "pod");
        let no_such = LogQuery {
            container: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            refused_field(target(&pods, &no_such).unwrap_err()),
            "container"
        );
        let huge = LogQuery {
            tail_lines: Some(MAX_TAIL_LINES + 1),
            ..Default::default()
        };
        assert_eq!(
            refused_field(target(&pods, &huge).unwrap_err()),
            "tailLines"
        );
        assert!(matches!(
            target(&[], &any).unwrap_err(),
            PageError::NotFound(_)
        ));
    }
}
