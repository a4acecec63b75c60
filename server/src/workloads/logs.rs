//! A workload's logs, read with the user's token (`pods/log`, so RBAC decides): which pod and
//! container (only the workload's own), the tail (bounded), the previous run, timestamps; read at
//! once, or followed as the kubelet streams them (no polling). Programs write what they like:
//! bytes that are not UTF-8 are replaced, a `\r` (a progress bar's redraw) ends a line as `\n`
//! does, and a line longer than [`MAX_LINE_BYTES`] is cut into pieces. Followed streams are
//! bounded by a semaphore, each holding a permit until it ends or its reader goes.

use std::sync::Arc;

use frontend::backend::LogStream;
use frontend::contract::PageError;
use frontend::contract::workload_detail::{LogQuery, Logs, MAX_TAIL_LINES};
use frontend::contract::{FieldError, Refusal};
use futures::{AsyncBufRead, AsyncBufReadExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use tokio::sync::Semaphore;

use crate::cluster::refusal::page_error;

/// The most bytes one read returns (the kubelet cuts there).
const MAX_LOG_BYTES: i64 = 8 * 1024 * 1024;

/// Logs followed at once, over all users.
pub const MAX_FOLLOWED: usize = 64;

/// The longest line kept whole; longer ones come in pieces of this size.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Splits `bytes` into finished lines (at `\n` or `\r`, empty ones from `\r\n` dropped, long
/// ones cut), appending them to `out`; returns how many bytes it consumed (the rest is an
/// unfinished line).
fn split_lines(bytes: &[u8], out: &mut Vec<String>) -> usize {
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' || *b == b'\r' {
            if i > start {
                out.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
            }
            start = i + 1;
        } else if i + 1 - start >= MAX_LINE_BYTES {
            out.push(String::from_utf8_lossy(&bytes[start..=i]).into_owned());
            start = i + 1;
        }
    }
    start
}

/// The lines of `reader` as they come, the last one when the reader ends.
fn lines_of(
    reader: impl AsyncBufRead + Send + Unpin + 'static,
) -> impl Stream<Item = Result<String, std::io::Error>> + Send {
    futures::stream::unfold(
        (reader, Vec::new(), std::collections::VecDeque::new(), false),
        |(mut reader, mut pending, mut ready, mut ended)| async move {
            loop {
                if let Some(line) = ready.pop_front() {
                    return Some((Ok(line), (reader, pending, ready, ended)));
                }
                if ended {
                    return None;
                }
                let chunk = match reader.fill_buf().await {
                    Ok(chunk) => chunk.to_vec(),
                    Err(e) => return Some((Err(e), (reader, pending, ready, true))),
                };
                reader.consume_unpin(chunk.len());
                if chunk.is_empty() {
                    ended = true;
                    if !pending.is_empty() {
                        ready.push_back(String::from_utf8_lossy(&pending).into_owned());
                        pending.clear();
                    }
                    continue;
                }
                pending.extend_from_slice(&chunk);
                let mut lines = Vec::new();
                let used = split_lines(&pending, &mut lines);
                pending.drain(..used);
                ready.extend(lines);
            }
        },
    )
}

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

/// The logs at once (the newest [`MAX_TAIL_LINES`] at most).
pub async fn read(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    query: &LogQuery,
) -> Result<Logs, PageError> {
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let reader = pods
        .log_stream(pod, &params(query, container, false))
        .await
        .map_err(page_error)?;
    let mut lines: Vec<String> = lines_of(reader)
        .map(|line| {
            line.map_err(|e| PageError::Unreachable(format!("reading the logs failed: {e}")))
        })
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
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
    let lines = lines_of(reader)
        // The permit goes when the stream does.
        .map(move |line| {
            let _held = &permit;
            line.map_err(|e| PageError::Unreachable(format!("the log stream broke: {e}")))
        });
    Ok(lines.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn any_bytes_become_lines_progress_bars_break_and_long_lines_are_cut() {
        let mut bytes = b"epoch 1\r\n10%\r50%\r100%\nbad \xff byte\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        let reader = futures::io::Cursor::new(bytes);
        let lines: Vec<String> = lines_of(reader)
            .map(|l| l.unwrap())
            .collect::<Vec<_>>()
            .await;
        assert_eq!(
            &lines[..5],
            ["epoch 1", "10%", "50%", "100%", "bad \u{fffd} byte"]
        );
        assert_eq!(lines[5].len(), MAX_LINE_BYTES);
        assert_eq!(lines[6], "x".repeat(10));
        assert_eq!(lines.len(), 7);
    }

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
