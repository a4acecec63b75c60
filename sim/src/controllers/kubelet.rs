//! The kubelets of every simulated node: take bound pods through ContainerCreating to Running, run
//! each container's program (its logs, its exit), restart by restartPolicy with the CrashLoopBackOff
//! back-off (10 s doubling to 300 s) and the `BackOff` event, and set the pod phase. GPUs are handed
//! out by the node's device plugin (`Sim::devices`) and freed when the pod ends.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::events;
use crate::Sim;
use crate::exporters::is_sim_managed;
use crate::programs::{Program, VisibleGpu, program_for};
use crate::resources::by_kind;
use crate::store::{meta_str, now_rfc3339, resource_version};

const CREATE_DELAY: Duration = Duration::from_millis(400);

#[derive(Debug, Clone, PartialEq)]
enum State {
    Creating,
    Running {
        since: Instant,
        started_at: String,
    },
    Terminated {
        code: i32,
        started_at: String,
        finished_at: String,
    },
    BackOff {
        until: Instant,
    },
}

struct ContainerRun {
    name: String,
    image: String,
    program: Program,
    state: State,
    restarts: u32,
    last_terminated: Option<Value>,
    printed: usize,
}

struct PodRun {
    bound_at: Instant,
    containers: Vec<ContainerRun>,
    pod_ip: std::net::Ipv4Addr,
    /// The pod's resourceVersion when its status last matched the containers' states: while
    /// neither changes, the pod is skipped (no status to rebuild for thousands of steady pods).
    settled_at: u64,
}

/// Per-pod runtime state of all kubelets, keyed by pod uid.
#[derive(Default)]
pub struct Kubelets {
    pods: HashMap<String, PodRun>,
}

fn backoff(restarts: u32) -> Duration {
    if restarts == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs((10u64 << (restarts - 1).min(5)).min(300))
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

impl Kubelets {
    /// An address of the node's pod subnet (on loopback) that no running pod has.
    fn free_pod_ip(&self, sim: &Sim, node: &str) -> std::net::Ipv4Addr {
        let subnet = sim
            .hardware_of(node)
            .map_or(crate::seed::pod_subnet(0), |h| h.pod_subnet);
        let used: std::collections::HashSet<std::net::Ipv4Addr> =
            self.pods.values().map(|p| p.pod_ip).collect();
        (2..=254)
            .map(|host| crate::seed::pod_ip(subnet, host))
            .find(|ip| !used.contains(ip))
            .unwrap_or(crate::seed::pod_ip(subnet, 255))
    }

    pub fn run(&mut self, sim: &Sim) {
        let mut store = sim.lock_store();
        let pods = store.list(by_kind("Pod"), None);
        let live: std::collections::HashSet<String> = pods
            .iter()
            .map(|p| meta_str(p, "uid").to_string())
            .collect();
        // Pods deleted from the API: stop them and give their GPUs back.
        let gone: Vec<String> = self
            .pods
            .keys()
            .filter(|u| !live.contains(*u))
            .cloned()
            .collect();
        for uid in gone {
            self.pods.remove(&uid);
            sim.release_gpus(&uid);
            sim.end_logs(&uid);
        }
        for pod in pods {
            let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
            let phase = pod["status"]["phase"].as_str().unwrap_or("");
            if node.is_empty() || phase == "Succeeded" || phase == "Failed" || is_sim_managed(&pod)
            {
                continue;
            }
            let uid = meta_str(&pod, "uid").to_string();
            let node = node.to_string();
            if !self.pods.contains_key(&uid) {
                let gpus = sim.allocate_gpus(&node, &uid, &pod);
                let pod_ip = self.free_pod_ip(sim, &node);
                let containers = pod["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let name = c["name"].as_str().unwrap_or("").to_string();
                        let visible: Vec<VisibleGpu> = gpus.get(&name).cloned().unwrap_or_default();
                        ContainerRun {
                            image: c["image"].as_str().unwrap_or("").to_string(),
                            program: program_for(
                                c["image"].as_str().unwrap_or(""),
                                &strs(&c["command"]),
                                &strs(&c["args"]),
                                &visible,
                            ),
                            name,
                            state: State::Creating,
                            restarts: 0,
                            last_terminated: None,
                            printed: 0,
                        }
                    })
                    .collect();
                self.pods.insert(
                    uid.clone(),
                    PodRun {
                        bound_at: Instant::now(),
                        containers,
                        pod_ip,
                        settled_at: 0,
                    },
                );
                for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
                    let msg = format!("Pulling image {:?}", c["image"].as_str().unwrap_or(""));
                    events::record(
                        &mut store,
                        &pod,
                        "Normal",
                        "Pulling",
                        &msg,
                        "kubelet",
                        Some(&node),
                    );
                }
            }
            let Some(run) = self.pods.get_mut(&uid) else {
                continue;
            };
            let restart_policy = pod["spec"]["restartPolicy"]
                .as_str()
                .unwrap_or("Always")
                .to_string();
            let mut new_events: Vec<(&str, String, String)> = Vec::new();
            let mut changed = false;
            for c in run.containers.iter_mut() {
                changed |= step_container(
                    sim,
                    &uid,
                    &pod,
                    c,
                    run.bound_at,
                    &restart_policy,
                    &mut new_events,
                );
            }
            if !changed && resource_version(&pod) == run.settled_at {
                continue;
            }
            for c in &run.containers {
                let load = match c.state {
                    State::Running { .. } => c.program.gpu_load,
                    _ => 0.0,
                };
                sim.set_gpu_load(&node, &uid, &c.name, load);
            }
            let status = pod_status(&pod, run, &node, sim);
            for (ty, reason, msg) in new_events {
                events::record(&mut store, &pod, ty, &reason, &msg, "kubelet", Some(&node));
            }
            if status == pod["status"] {
                run.settled_at = resource_version(&pod);
            } else {
                let mut p = (*pod).clone();
                p["status"] = status;
                if let Ok(updated) = store.update(by_kind("Pod"), p, None) {
                    run.settled_at = resource_version(&updated);
                }
            }
            let finished = run
                .containers
                .iter()
                .all(|c| matches!(c.state, State::Terminated { .. }))
                && !run
                    .containers
                    .iter()
                    .any(|c| will_restart(&restart_policy, &c.state));
            if finished {
                sim.release_gpus(&uid);
            }
        }
    }
}

fn will_restart(policy: &str, state: &State) -> bool {
    match state {
        State::Terminated { code, .. } => {
            policy == "Always" || (policy == "OnFailure" && *code != 0)
        }
        _ => false,
    }
}

/// Moves one container on by the clock; true when its state changed (and so the pod's status may).
fn step_container(
    sim: &Sim,
    uid: &str,
    pod: &Value,
    c: &mut ContainerRun,
    bound_at: Instant,
    policy: &str,
    out: &mut Vec<(&'static str, String, String)>,
) -> bool {
    let pod_ref = format!(
        "{}_{}({uid})",
        meta_str(pod, "name"),
        meta_str(pod, "namespace")
    );
    match c.state.clone() {
        State::Creating if bound_at.elapsed() >= CREATE_DELAY => {
            if c.restarts == 0 {
                out.push(("Normal", "Pulled".into(), format!("Successfully pulled image {:?} in 1.2s (1.2s including waiting). Image size: 2147483648 bytes.", c.image)));
            } else {
                out.push((
                    "Normal",
                    "Pulled".into(),
                    format!("Container image {:?} already present on machine", c.image),
                ));
            }
            out.push((
                "Normal",
                "Created".into(),
                format!("Created container: {}", c.name),
            ));
            out.push((
                "Normal",
                "Started".into(),
                format!("Started container {}", c.name),
            ));
            sim.start_logs(uid, &c.name);
            c.printed = 0;
            c.state = State::Running {
                since: Instant::now(),
                started_at: now_rfc3339(),
            };
            true
        }
        State::Running { since, started_at } => {
            let elapsed = since.elapsed();
            let due: Vec<String> = c
                .program
                .lines
                .iter()
                .skip(c.printed)
                .take_while(|(at, _)| *at <= elapsed)
                .map(|(_, l)| l.clone())
                .collect();
            if !due.is_empty() {
                c.printed += due.len();
                sim.append_logs(uid, &c.name, due);
            }
            if let Some((after, code)) = c.program.exit
                && elapsed >= after
            {
                let rest: Vec<String> = c
                    .program
                    .lines
                    .iter()
                    .skip(c.printed)
                    .map(|(_, l)| l.clone())
                    .collect();
                c.printed += rest.len();
                sim.append_logs(uid, &c.name, rest);
                sim.finish_logs(uid, &c.name);
                c.state = State::Terminated {
                    code,
                    started_at,
                    finished_at: now_rfc3339(),
                };
                return true;
            }
            false
        }
        State::Terminated {
            code,
            started_at,
            finished_at,
        } if will_restart(policy, &c.state) => {
            c.last_terminated = Some(terminated_json(code, &started_at, &finished_at));
            let delay = backoff(c.restarts);
            c.restarts += 1;
            if delay.is_zero() {
                c.state = State::Creating;
            } else {
                out.push((
                    "Warning",
                    "BackOff".into(),
                    format!(
                        "Back-off restarting failed container {} in pod {pod_ref}",
                        c.name
                    ),
                ));
                c.state = State::BackOff {
                    until: Instant::now() + delay,
                };
            }
            true
        }
        State::BackOff { until } if Instant::now() >= until => {
            c.state = State::Creating;
            true
        }
        _ => false,
    }
}

fn terminated_json(code: i32, started: &str, finished: &str) -> Value {
    json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
                          "startedAt": started, "finishedAt": finished, "containerID": "docker://0f3c"}})
}

fn container_status(c: &ContainerRun, pod_ref: &str) -> Value {
    let state = match &c.state {
        State::Creating if c.restarts == 0 => json!({"waiting": {"reason": "ContainerCreating"}}),
        State::Creating => json!({"waiting": {"reason": "ContainerCreating"}}),
        State::Running { started_at, .. } => json!({"running": {"startedAt": started_at}}),
        State::Terminated {
            code,
            started_at,
            finished_at,
        } => terminated_json(*code, started_at, finished_at),
        State::BackOff { until } => {
            let secs = until.saturating_duration_since(Instant::now()).as_secs();
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {}s restarting failed container={} pod={pod_ref}", backoff(c.restarts).as_secs().max(secs), c.name)}})
        }
    };
    let running = matches!(c.state, State::Running { .. });
    json!({
        "name": c.name, "image": c.image, "imageID": format!("docker-pullable://{}@sha256:5b1f", c.image),
        "containerID": if matches!(c.state, State::Creating) && c.restarts == 0 { Value::Null } else { json!("docker://0f3c") },
        "ready": running, "started": running, "restartCount": c.restarts,
        "state": state, "lastState": c.last_terminated.clone().unwrap_or(json!({})),
    })
}

fn pod_status(pod: &Value, run: &PodRun, node: &str, sim: &Sim) -> Value {
    let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
    let pod_ref = format!(
        "{}_{}({})",
        meta_str(pod, "name"),
        meta_str(pod, "namespace"),
        meta_str(pod, "uid")
    );
    let statuses: Vec<Value> = run
        .containers
        .iter()
        .map(|c| container_status(c, &pod_ref))
        .collect();
    let ever_started = run
        .containers
        .iter()
        .all(|c| !matches!(c.state, State::Creating) || c.restarts > 0);
    let all_done = run
        .containers
        .iter()
        .all(|c| matches!(c.state, State::Terminated { .. }) && !will_restart(policy, &c.state));
    let phase = if all_done {
        let failed = run
            .containers
            .iter()
            .any(|c| matches!(c.state, State::Terminated { code, .. } if code != 0));
        if failed { "Failed" } else { "Succeeded" }
    } else if ever_started {
        "Running"
    } else {
        "Pending"
    };
    let ready = run
        .containers
        .iter()
        .all(|c| matches!(c.state, State::Running { .. }));
    let old_conds = pod["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let cond = |t: &str, ok: bool| {
        let status = if ok { "True" } else { "False" };
        let previous = old_conds
            .iter()
            .find(|c| c["type"] == t && c["status"] == status);
        let since = previous
            .and_then(|c| c["lastTransitionTime"].as_str())
            .map(String::from)
            .unwrap_or_else(now_rfc3339);
        let mut c = json!({"type": t, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
        if !ok && (t == "Ready" || t == "ContainersReady") {
            let names: Vec<&str> = run
                .containers
                .iter()
                .filter(|c| !matches!(c.state, State::Running { .. }))
                .map(|c| c.name.as_str())
                .collect();
            c["reason"] = json!(if all_done {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            });
            c["message"] = json!(format!(
                "containers with unready status: [{}]",
                names.join(" ")
            ));
        }
        c
    };
    let host_ip = sim.node_ip(node);
    let mut status = json!({
        "phase": phase,
        "conditions": [cond("PodReadyToStartContainers", ever_started), cond("Initialized", true), cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", true)],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": run.pod_ip.to_string(), "podIPs": [{"ip": run.pod_ip.to_string()}],
        "startTime": pod["status"]["startTime"].as_str().map(String::from).unwrap_or_else(now_rfc3339),
        "containerStatuses": statuses,
        "qosClass": pod["status"]["qosClass"],
    });
    if all_done {
        status["conditions"][0]["status"] = json!("False");
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_to_five_minutes() {
        let secs: Vec<u64> = (0..8).map(|r| backoff(r).as_secs()).collect();
        assert_eq!(secs, vec![0, 10, 20, 40, 80, 160, 300, 300]);
    }
}
