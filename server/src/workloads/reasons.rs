//! "Why Pending" in plain terms: the default scheduler's `FailedScheduling` text
//! (`0/N nodes are available: <count> <reason>, ... preemption: ...`) parsed into a histogram.
//! Tolerates both taint wordings (before and after kubernetes#134740), the DRA fragment
//! `no new claims to deallocate`, and `.` or `..` at the end; anything unknown is kept as written.

use frontend::contract::workloads::{MisfitCount, NodeMisfit, PendingReason};

fn misfit(reason: &str) -> NodeMisfit {
    let reason = reason.trim();
    if let Some(resource) = reason.strip_prefix("Insufficient ") {
        return NodeMisfit::NotEnough {
            resource: resource.trim().to_string(),
        };
    }
    if reason.contains("untolerated taint") {
        NodeMisfit::UntoleratedTaint
    } else if reason.contains("didn't match Pod's node affinity/selector") {
        NodeMisfit::SelectorMismatch
    } else if reason.contains("were unschedulable") {
        NodeMisfit::Cordoned
    } else if reason == "Too many pods" {
        NodeMisfit::TooManyPods
    } else {
        NodeMisfit::Other {
            text: reason.to_string(),
        }
    }
}

/// Splits the histogram at `, ` between entries, not inside a taint's `{key: value}`.
fn entries(histogram: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let bytes = histogram.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 && bytes.get(i + 1) == Some(&b' ') => {
                out.push(&histogram[start..i]);
                start = i + 2;
            }
            _ => {}
        }
    }
    out.push(&histogram[start..]);
    out
}

/// The reason in `message` (a PodScheduled condition's or a FailedScheduling event's).
pub fn parse(message: &str) -> PendingReason {
    let raw = message.to_string();
    let Some((_, rest)) = message.split_once(" nodes are available: ") else {
        return PendingReason {
            counts: vec![MisfitCount {
                nodes: 0,
                misfit: misfit(message),
            }],
            raw,
        };
    };
    // The filter part ends where the post-filter (preemption) or DRA part begins.
    let end = ["preemption:", "no new claims to deallocate"]
        .iter()
        .filter_map(|marker| rest.find(marker))
        .min()
        .unwrap_or(rest.len());
    let histogram = rest[..end]
        .trim()
        .trim_end_matches(',')
        .trim_end_matches('.')
        .trim();
    let counts = entries(histogram)
        .into_iter()
        .filter(|e| !e.trim().is_empty())
        .map(|entry| {
            let entry = entry.trim();
            let (count, reason) = entry.split_once(' ').unwrap_or(("0", entry));
            match count.parse::<u32>() {
                Ok(nodes) => MisfitCount {
                    nodes,
                    misfit: misfit(reason),
                },
                Err(_) => MisfitCount {
                    nodes: 0,
                    misfit: misfit(entry),
                },
            }
        })
        .collect();
    PendingReason { counts, raw }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(message: &str) -> Vec<(u32, NodeMisfit)> {
        parse(message)
            .counts
            .into_iter()
            .map(|c| (c.nodes, c.misfit))
            .collect()
    }

    #[test]
    fn the_seeds_two_gpu_pod_and_the_old_taint_wording() {
        let m = "0/6 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 5 Insufficient nvidia.com/gpu. preemption: 0/6 nodes are available: 1 Preemption is not helpful for scheduling, 5 No preemption victims found for incoming pod.";
        assert_eq!(
            counts(m),
            vec![
                (1, NodeMisfit::UntoleratedTaint),
                (
                    5,
                    NodeMisfit::NotEnough {
                        resource: "nvidia.com/gpu".into()
                    }
                ),
            ]
        );
        assert_eq!(parse(m).raw, m);
    }

    #[test]
    fn new_wordings_dra_fragment_and_double_dots() {
        let m = "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
        assert_eq!(
            counts(m),
            vec![
                (1, NodeMisfit::UntoleratedTaint),
                (
                    2,
                    NodeMisfit::NotEnough {
                        resource: "cpu".into()
                    }
                )
            ]
        );
        let m = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..";
        assert_eq!(
            counts(m),
            vec![(
                1,
                NodeMisfit::NotEnough {
                    resource: "nvidia.com/gpu".into()
                }
            )]
        );
        let m = "0/9 nodes are available: 9 node(s) didn't match Pod's node affinity/selector. preemption: 0/9 nodes are available: 9 Preemption is not helpful for scheduling.";
        assert_eq!(counts(m), vec![(9, NodeMisfit::SelectorMismatch)]);
        let m = "0/2 nodes are available: 1 node(s) were unschedulable, 1 Too many pods.";
        assert_eq!(
            counts(m),
            vec![(1, NodeMisfit::Cordoned), (1, NodeMisfit::TooManyPods)]
        );
    }

    #[test]
    fn free_form_text_is_kept() {
        assert_eq!(
            counts("persistentvolumeclaim \"x\" not found"),
            vec![(
                0,
                NodeMisfit::Other {
                    text: "persistentvolumeclaim \"x\" not found".into()
                }
            )]
        );
    }
}
