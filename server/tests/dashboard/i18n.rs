//! Every page, rendered in Chinese by the real router from a backend whose data is Chinese or
//! numbers, shows no English word that the Chinese translations themselves do not use (the
//! product names and commands they keep, such as GPU, Pod or kubectl). A string left in English
//! anywhere on a page, data or error state, fails here.

use std::collections::BTreeSet;
use std::sync::Arc;

use frontend::backend::LogStream;
use frontend::backend::{Backend, SharedBackend, SignedInUser};
use frontend::contract::access::{
    IssuedToken, LegacyToken, NewAccess, NewToken, RegenerateToken, ServiceAccountRow,
    ServiceAccounts,
};
use frontend::contract::doctor::{Check, CheckKind, CheckStatus, Diagnosis, Seen};
use frontend::contract::join::{
    Discovery, DiscoverySource, JoinToken, JoinTokens, NewJoinToken, RevealedJoinToken, Signing,
    TokenStatus, TokenUsage,
};
use frontend::contract::workload_detail::{
    Condition, ContainerRow, ContainerState, EventRow, EventType, Explanation, Exposed, LogQuery,
    Logs, PodRow, Termination, WorkloadDetail,
};
use frontend::contract::workloads::{
    Deleted, Fit, FitCheck, MisfitCount, NeverReason, NewWorkload, NodeMisfit, NodePort,
    PendingReason, Preview, Queue, QueueQuery, QueueRow, QuotaHold, SubmitOptions, Submitted,
    WorkloadKind, WorkloadState,
};
use frontend::contract::{
    Alert, ClusterLink, ExporterError, GpuCard, GpuPage, GpuQuery, GpuRow, HeatCells, HeatMap,
    HeatModel, HeatNode, HeatNodeCell, HistoryPoint, HistoryRange, NodeCondition, NodeDetail,
    NodePod, NodeSummary, Overview, PageError, Skew, StaleReason,
};
use frontend::i18n::ZH;
use gpuboard::app::AppState;
use gpuboard::auth::{Auth, AuthSettings};
use gpuboard::cluster::clients::UserClients;
use gpuboard::telemetry::Telemetry;
use gpuboard_testkit::http::{Reply, request};

use super::{leptos_options, serve_state, sim_config, start_sim};

const NODE: &str = "节点甲";

fn gpu(node: &str, index: u32, stale: bool, pods: &[&str], hidden: usize) -> GpuRow {
    GpuRow {
        node: node.into(),
        index,
        model: "英伟达 显卡 甲型".into(),
        uuid: format!("GPU-0000000{index}-1111-2222-3333-444444444444"),
        memory_total_bytes: 11 << 30,
        memory_used_bytes: (index > 0).then_some(1 << 30),
        utilization_percent: (index > 0).then_some(97.0),
        temperature_celsius: Some(61.0),
        power_watts: Some(250.0),
        power_limit_watts: Some(300.0),
        in_use: !pods.is_empty() || hidden > 0,
        pods: pods.iter().map(|p| p.to_string()).collect(),
        hidden_pods: hidden,
        stale,
        sampled_at_ms: 1_700_000_000_000,
        failure: (index == 0).then(|| "显卡已丢失".to_string()),
    }
}

fn rows() -> Vec<GpuRow> {
    vec![
        gpu(NODE, 0, false, &[], 0),
        gpu(NODE, 1, false, &["团队/训练"], 2),
        gpu("节点乙", 0, true, &[], 1),
    ]
}

fn node(name: &str, ready: bool, unschedulable: bool, skew: Vec<Skew>) -> NodeSummary {
    NodeSummary {
        name: name.into(),
        ready,
        unschedulable,
        roles: if ready { vec!["工作".into()] } else { vec![] },
        internal_ip: "192.168.0.110".into(),
        gpu_model: ready.then(|| "英伟达 T4".into()),
        gpus_allocatable: 2,
        os_image: "中文系统 7".into(),
        kernel: "4.4.222".into(),
        container_runtime: "容器://19.3.8".into(),
        kubelet_version: "v1.34.1".into(),
        age_seconds: 3 * 86_400,
        gpus_allocated: 1,
        gpus_busy: ready.then_some(1),
        driver: Some("440.64".into()),
        skew,
    }
}

/// Every check, in every outcome.
fn every_check() -> Diagnosis {
    use strum::VariantArray;
    let statuses = [CheckStatus::Pass, CheckStatus::Warn, CheckStatus::Fail];
    Diagnosis {
        node: NODE.into(),
        gpu_node: true,
        checks: CheckKind::VARIANTS
            .iter()
            .enumerate()
            .map(|(i, kind)| Check {
                check: *kind,
                status: statuses[i % 3],
                seen: match i % 4 {
                    0 => Seen::Nothing,
                    1 => Seen::NoDevicePlugin,
                    2 => Seen::Ahead { seconds: 95 },
                    _ => Seen::Allocatable {
                        allocatable: 1,
                        seen: None,
                    },
                },
            })
            .collect(),
    }
}

/// A cluster described in Chinese and numbers, with every state a page can show.
struct ChineseCluster {
    /// The overview's heat map has a cell per node, as a large cluster's does.
    heat_by_node: bool,
}

#[async_trait::async_trait]
impl Backend for ChineseCluster {
    async fn nodes(&self, _: &SignedInUser) -> Result<Vec<NodeSummary>, PageError> {
        Ok(vec![
            node(NODE, true, false, vec![]),
            node(
                "节点乙",
                false,
                false,
                vec![Skew::Kernel, Skew::Driver, Skew::Runtime],
            ),
            node("节点丙", true, true, vec![]),
        ])
    }

    async fn gpus(&self, _: &SignedInUser, _: &GpuQuery) -> Result<GpuPage, PageError> {
        let rows = rows();
        Ok(GpuPage {
            matching: rows.len(),
            page: 0,
            page_size: 2,
            total: 3,
            in_use: 2,
            average_utilization_percent: Some(48.5),
            rows,
        })
    }

    async fn gpu_rows(&self, _: &SignedInUser) -> Result<Vec<GpuRow>, PageError> {
        Ok(rows())
    }

    async fn cluster_link(&self, _: &SignedInUser) -> Result<ClusterLink, PageError> {
        Ok(ClusterLink::Stale {
            since_utc: "2026-11-24 09:30:05".into(),
            for_seconds: 65,
            reason: StaleReason::Refused {
                resource: "节点".into(),
                code: 403,
            },
        })
    }

    async fn node(
        &self,
        _: &SignedInUser,
        name: &str,
        _: HistoryRange,
    ) -> Result<Option<NodeDetail>, PageError> {
        if name != NODE {
            return Ok(None);
        }
        let history = (0..5)
            .map(|i| HistoryPoint {
                at_s: 1_700_000_000 + i * 60,
                utilization_percent: Some(10.0 * i as f64),
                memory_used_mib: Some(1024.0),
                temperature_celsius: Some(50.0),
                power_watts: None,
            })
            .collect::<Vec<_>>();
        Ok(Some(NodeDetail {
            summary: node(NODE, true, false, vec![]),
            conditions: vec![NodeCondition {
                kind: "就绪".into(),
                status: "是".into(),
                reason: "心跳正常".into(),
                message: "一切正常".into(),
            }],
            taints: vec!["污点=是:禁止".into()],
            labels: vec![("标签".into(), "值".into())],
            gpus: rows()
                .into_iter()
                .take(2)
                .map(|gpu| GpuCard {
                    gpu,
                    history: history.clone(),
                })
                .collect(),
            pods: vec![NodePod {
                namespace: "团队".into(),
                name: "训练".into(),
                phase: "运行中".into(),
                gpus: 1,
            }],
            hidden_pods: 2,
            telemetry_error: Some(ExporterError::Timeout { ms: 2000 }),
            doctor: every_check(),
            // Every text the range selector and its notes have: the longer ranges refused (kept
            // in memory only) and Prometheus's failure.
            history_range: HistoryRange::Hour,
            history_ranges: vec![HistoryRange::Hour],
            history_error: Some(ExporterError::Prometheus("连接被拒绝".into())),
        }))
    }

    async fn overview(&self, _: &SignedInUser) -> Result<Overview, PageError> {
        let rows = rows();
        Ok(Overview {
            nodes_ready: 2,
            nodes_total: 3,
            gpus_total: rows.len(),
            gpus_allocatable: 6,
            gpus_allocated: 3,
            gpus_busy: 1,
            busy_threshold_percent: 50.0,
            average_utilization_percent: Some(48.5),
            sampled_at_ms: 1_700_000_000_000,
            heat: if self.heat_by_node {
                HeatMap {
                    nodes: vec![HeatNode {
                        name: NODE.into(),
                        stale: true,
                    }],
                    models: vec![HeatModel {
                        name: "特斯拉 T4".into(),
                        memory_total_bytes: 16 << 30,
                    }],
                    cells: HeatCells::Nodes(vec![HeatNodeCell {
                        gpus: 8,
                        busy: 3,
                        ..Default::default()
                    }]),
                }
            } else {
                HeatMap::from_rows(&rows)
            },
            alerts: vec![
                Alert::NotReady {
                    node: "节点乙".into(),
                },
                Alert::StaleExporter {
                    node: "节点乙".into(),
                    since_ms: Some(1_699_999_880_000),
                    error: ExporterError::Unreachable("连接被拒绝".into()),
                },
                Alert::StaleExporter {
                    node: "节点丁".into(),
                    since_ms: None,
                    error: ExporterError::Status(500),
                },
                Alert::StaleExporter {
                    node: "节点戊".into(),
                    since_ms: None,
                    error: ExporterError::Invalid("格式不对".into()),
                },
                Alert::StaleExporter {
                    node: "节点己".into(),
                    since_ms: None,
                    error: ExporterError::WrongNode("节点庚".into()),
                },
                Alert::GpuFailed {
                    node: NODE.into(),
                    index: 1,
                    error: "显卡已丢失".into(),
                },
                Alert::DeviceMismatch {
                    node: NODE.into(),
                    allocatable: 0,
                    seen: 2,
                },
                Alert::DoctorFails {
                    node: NODE.into(),
                    checks: vec![CheckKind::DevicePlugin, CheckKind::Xid],
                },
            ],
            work: chinese_queue(),
        })
    }

    async fn doctor(&self, _: &SignedInUser, _: &str) -> Result<Option<Diagnosis>, PageError> {
        Ok(Some(every_check()))
    }
    async fn join_tokens(&self, _: &SignedInUser) -> Result<JoinTokens, PageError> {
        let token = |id: &str, ttl: Option<i64>, status: TokenStatus, signing: Signing| JoinToken {
            id: id.into(),
            expires: ttl.map(|_| "2026-11-25T10:00:00Z".into()),
            ttl_seconds: ttl,
            usages: vec![TokenUsage::Authentication, TokenUsage::Signing],
            description: "机房三".into(),
            extra_groups: vec!["system:bootstrappers:kubeadm:default-node-token".into()],
            status,
            problem: (status == TokenStatus::Invalid).then(|| "格式不对".into()),
            signing,
        };
        Ok(JoinTokens {
            tokens: vec![
                token("abcdef", Some(3600), TokenStatus::Valid, Signing::Signed),
                token("bcdefa", Some(60), TokenStatus::Valid, Signing::Pending),
                token(
                    "cdefab",
                    Some(-60),
                    TokenStatus::Expired,
                    Signing::NotRequested,
                ),
                token("defabc", None, TokenStatus::Invalid, Signing::NotRequested),
            ],
            discovery: Some(Discovery {
                endpoint: "192.168.0.113:6443".into(),
                ca_cert_hashes: vec!["sha256:00".into()],
                source: DiscoverySource::DashboardKubeconfig,
            }),
            discovery_problem: Some("无法读取".into()),
            may_list: true,
            may_create: false,
            may_delete: false,
            request_id: "0123456789abcdef0123456789abcdef".into(),
        })
    }
    async fn create_join_token(
        &self,
        _: &SignedInUser,
        _: &NewJoinToken,
    ) -> Result<RevealedJoinToken, PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }
    async fn reveal_join_token(
        &self,
        _: &SignedInUser,
        _: &str,
    ) -> Result<RevealedJoinToken, PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }
    async fn delete_join_token(&self, _: &SignedInUser, _: &str) -> Result<(), PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }
    async fn service_accounts(
        &self,
        _: &SignedInUser,
        _: Option<&str>,
    ) -> Result<ServiceAccounts, PageError> {
        Ok(ServiceAccounts {
            accounts: vec![ServiceAccountRow {
                namespace: "团队".into(),
                name: "机器人".into(),
                age_seconds: 86_400,
                legacy_tokens: vec![LegacyToken {
                    secret: "机器人-令牌".into(),
                    age_seconds: 3600,
                    last_used: Some("2026-11-20".into()),
                    invalid_since: Some("2026-11-21".into()),
                }],
            }],
            may_mint: false,
            may_grant: false,
            may_regenerate: false,
            request_id: "0123456789abcdef0123456789abcdef".into(),
        })
    }
    async fn mint_token(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
        _: NewToken,
    ) -> Result<IssuedToken, PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }
    async fn regenerate_legacy_token(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
        _: &RegenerateToken,
    ) -> Result<IssuedToken, PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }
    async fn grant_access(
        &self,
        _: &SignedInUser,
        _: &NewAccess,
    ) -> Result<IssuedToken, PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }

    async fn submit_options(&self, _: &SignedInUser) -> Result<SubmitOptions, PageError> {
        Ok(SubmitOptions {
            job_namespaces: vec!["实验室".into()],
            workspace_namespaces: vec!["实验室".into()],
            models: vec![("英伟达 显卡 甲型".into(), 3)],
            largest_node_gpus: 1,
            priority_classes: vec![("高优先级".into(), 1000)],
        })
    }

    async fn preview_workload(
        &self,
        _: &SignedInUser,
        _: &NewWorkload,
    ) -> Result<Preview, PageError> {
        Ok(Preview {
            manifest: "kind: Job\n".into(),
            fit: self.fit_workload(&NewWorkload::default()).await?,
        })
    }

    async fn fit_workload(&self, _: &NewWorkload) -> Result<FitCheck, PageError> {
        Ok(FitCheck {
            fit: Fit::Never {
                why: NeverReason::TooManyGpus {
                    wanted: 2,
                    largest: 1,
                },
            },
            largest_node_gpus: 1,
            free_by_model: vec![("英伟达 显卡 甲型".into(), 1)],
        })
    }

    async fn submit_workload(
        &self,
        _: &SignedInUser,
        _: &NewWorkload,
        _: bool,
    ) -> Result<Submitted, PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }

    async fn queue(&self, _: &SignedInUser, _: &QueueQuery) -> Result<Queue, PageError> {
        Ok(chinese_queue())
    }

    async fn delete_workload(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
    ) -> Result<Deleted, PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }

    async fn workload(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
    ) -> Result<WorkloadDetail, PageError> {
        Ok(chinese_workload())
    }

    async fn workload_logs(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
        _: &LogQuery,
    ) -> Result<Logs, PageError> {
        Ok(Logs {
            pod: "训练任务-甲".into(),
            container: "主容器".into(),
            lines: vec!["第 1 轮 损失 0.5".into()],
        })
    }

    async fn follow_workload_logs(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
        _: &LogQuery,
    ) -> Result<LogStream, PageError> {
        Err(PageError::Forbidden("禁止".into()))
    }
}

/// A queue with a waiting, a held and a running row.
fn chinese_queue() -> Queue {
    let row = |state, node: Option<&str>, position| QueueRow {
        namespace: "实验室".into(),
        name: Some("训练任务".into()),
        pod: Some("训练任务-甲".into()),
        kind: Some(WorkloadKind::Job),
        owner: Some("张三".into()),
        gpus: 1,
        model: Some("英伟达 显卡 甲型".into()),
        state,
        node: node.map(String::from),
        created: "2026-11-24T10:00:00Z".into(),
        age_seconds: 300,
        priority: 0,
        position,
        reason: (state == WorkloadState::Pending).then(|| PendingReason {
            counts: vec![
                MisfitCount {
                    nodes: 1,
                    misfit: NodeMisfit::UntoleratedTaint,
                },
                MisfitCount {
                    nodes: 5,
                    misfit: NodeMisfit::NotEnough {
                        resource: "nvidia.com/gpu".into(),
                    },
                },
            ],
            raw: "0/6 个节点可用".into(),
        }),
        utilization: (state == WorkloadState::Running).then_some(97.0),
        mine: true,
        held_by_quota: None,
    };
    Queue {
        rows: vec![
            row(WorkloadState::Pending, None, Some(1)),
            QueueRow {
                held_by_quota: Some(QuotaHold {
                    quota: "配额".into(),
                    used: 2,
                    hard: 2,
                }),
                ..row(WorkloadState::Pending, None, None)
            },
            row(WorkloadState::Running, Some(NODE), None),
        ],
        matching: 3,
        page: 0,
        page_size: 200,
        pending: 1,
        running: 1,
        gpus_running: 1,
        gpus_waiting: 1,
    }
}

/// A workload with every explanation, container state and part the page shows.
fn chinese_workload() -> WorkloadDetail {
    let pod = "训练任务-甲".to_string();
    let container = "主容器".to_string();
    let termination = |exit_code| Termination {
        reason: "错误".into(),
        exit_code,
        message: "出错了".into(),
        finished: "2026-11-24T10:00:00Z".into(),
    };
    let row = |state| ContainerRow {
        name: container.clone(),
        image: "镜像".into(),
        state,
        ready: false,
        restarts: 3,
        last_termination: Some(termination(1)),
    };
    let explanations = vec![
        Explanation::FinishedUnderAlways {
            pod: pod.clone(),
            container: container.clone(),
            exit_code: 0,
        },
        Explanation::CrashLoop {
            pod: pod.clone(),
            container: container.clone(),
            exit_code: Some(2),
            restarts: 4,
        },
        Explanation::CrashLoop {
            pod: pod.clone(),
            container: container.clone(),
            exit_code: None,
            restarts: 4,
        },
        Explanation::ImagePull {
            pod: pod.clone(),
            container: container.clone(),
            image: "镜像".into(),
            message: "拉取失败".into(),
        },
        Explanation::OutOfMemory {
            pod: pod.clone(),
            container: container.clone(),
            memory_limit: Some("1Gi".into()),
        },
        Explanation::OutOfMemory {
            pod: pod.clone(),
            container: container.clone(),
            memory_limit: None,
        },
        Explanation::ExitedWithError {
            pod: pod.clone(),
            container: container.clone(),
            exit_code: 1,
            message: "出错了".into(),
        },
        Explanation::CannotStart {
            pod: pod.clone(),
            container: container.clone(),
            reason: "配置错误".into(),
            message: "缺少配置".into(),
        },
        Explanation::QuotaRefused {
            quota: "配额".into(),
            message: "超出配额".into(),
        },
        Explanation::PodStopped {
            pod: pod.clone(),
            reason: "驱逐".into(),
            message: "节点内存不足".into(),
        },
        Explanation::BackoffLimitExceeded {
            failed: 1,
            limit: 0,
        },
        Explanation::DeadlineExceeded { seconds: 60 },
    ];
    WorkloadDetail {
        kind: WorkloadKind::Job,
        namespace: "实验室".into(),
        name: "训练任务".into(),
        owner: Some("张三".into()),
        created: "2026-11-24T10:00:00Z".into(),
        age_seconds: 300,
        state: WorkloadState::Pending,
        gpus: 1,
        model: Some("英伟达 显卡 甲型".into()),
        active: 1,
        succeeded: 0,
        failed: 1,
        conditions: vec![Condition {
            kind: "失败".into(),
            status: "真".into(),
            reason: "原因".into(),
            message: "消息".into(),
        }],
        pods: vec![PodRow {
            name: pod.clone(),
            node: Some(NODE.into()),
            phase: "运行中".into(),
            created: "2026-11-24T10:00:00Z".into(),
            containers: vec![
                row(ContainerState::Waiting {
                    reason: "等待".into(),
                    message: "消息".into(),
                }),
                row(ContainerState::Running {
                    started: "2026-11-24T10:00:00Z".into(),
                }),
                row(ContainerState::Terminated {
                    termination: termination(0),
                }),
                row(ContainerState::Unknown),
            ],
            conditions: Vec::new(),
        }],
        more_pods: 2,
        explanations,
        position: Some(1),
        pending_reason: Some(PendingReason {
            counts: vec![MisfitCount {
                nodes: 5,
                misfit: NodeMisfit::NotEnough {
                    resource: "nvidia.com/gpu".into(),
                },
            }],
            raw: "0/6 个节点可用".into(),
        }),
        gpu_cards: rows()
            .into_iter()
            .take(1)
            .map(|gpu| GpuCard {
                gpu,
                history: Vec::new(),
            })
            .collect(),
        exposed: vec![Exposed {
            port: NodePort {
                port: 8888,
                node_port: 30888,
            },
            addresses: vec!["192.168.0.110:30888".into()],
        }],
        events: vec![
            EventRow {
                at: "2026-11-24T10:00:00Z".into(),
                kind: EventType::Warning,
                reason: "调度失败".into(),
                object: "训练任务-甲".into(),
                message: "没有空闲 GPU".into(),
                count: 2,
            },
            EventRow {
                at: "2026-11-24T10:01:00Z".into(),
                kind: EventType::Normal,
                reason: "已调度".into(),
                object: "训练任务-甲".into(),
                message: "已分配".into(),
                count: 1,
            },
        ],
        may_delete: true,
        form: NewWorkload::default(),
    }
}

/// A cluster that cannot be reached, for the pages' error states.
struct UnreachableCluster;

fn unreachable<T>() -> Result<T, PageError> {
    Err(PageError::Unreachable("超时".into()))
}

#[async_trait::async_trait]
impl Backend for UnreachableCluster {
    async fn nodes(&self, _: &SignedInUser) -> Result<Vec<NodeSummary>, PageError> {
        unreachable()
    }
    async fn gpus(&self, _: &SignedInUser, _: &GpuQuery) -> Result<GpuPage, PageError> {
        unreachable()
    }
    async fn gpu_rows(&self, _: &SignedInUser) -> Result<Vec<GpuRow>, PageError> {
        unreachable()
    }
    async fn cluster_link(&self, _: &SignedInUser) -> Result<ClusterLink, PageError> {
        unreachable()
    }
    async fn node(
        &self,
        _: &SignedInUser,
        _: &str,
        _: HistoryRange,
    ) -> Result<Option<NodeDetail>, PageError> {
        unreachable()
    }
    async fn overview(&self, _: &SignedInUser) -> Result<Overview, PageError> {
        unreachable()
    }
    async fn doctor(&self, _: &SignedInUser, _: &str) -> Result<Option<Diagnosis>, PageError> {
        unreachable()
    }
    async fn join_tokens(&self, _: &SignedInUser) -> Result<JoinTokens, PageError> {
        unreachable()
    }
    async fn create_join_token(
        &self,
        _: &SignedInUser,
        _: &NewJoinToken,
    ) -> Result<RevealedJoinToken, PageError> {
        unreachable()
    }
    async fn reveal_join_token(
        &self,
        _: &SignedInUser,
        _: &str,
    ) -> Result<RevealedJoinToken, PageError> {
        unreachable()
    }
    async fn delete_join_token(&self, _: &SignedInUser, _: &str) -> Result<(), PageError> {
        unreachable()
    }
    async fn service_accounts(
        &self,
        _: &SignedInUser,
        _: Option<&str>,
    ) -> Result<ServiceAccounts, PageError> {
        unreachable()
    }
    async fn mint_token(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
        _: NewToken,
    ) -> Result<IssuedToken, PageError> {
        unreachable()
    }
    async fn regenerate_legacy_token(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
        _: &RegenerateToken,
    ) -> Result<IssuedToken, PageError> {
        unreachable()
    }
    async fn grant_access(
        &self,
        _: &SignedInUser,
        _: &NewAccess,
    ) -> Result<IssuedToken, PageError> {
        unreachable()
    }

    async fn submit_options(&self, _: &SignedInUser) -> Result<SubmitOptions, PageError> {
        unreachable()
    }

    async fn preview_workload(
        &self,
        _: &SignedInUser,
        _: &NewWorkload,
    ) -> Result<Preview, PageError> {
        unreachable()
    }

    async fn fit_workload(&self, _: &NewWorkload) -> Result<FitCheck, PageError> {
        unreachable()
    }

    async fn submit_workload(
        &self,
        _: &SignedInUser,
        _: &NewWorkload,
        _: bool,
    ) -> Result<Submitted, PageError> {
        unreachable()
    }

    async fn queue(&self, _: &SignedInUser, _: &QueueQuery) -> Result<Queue, PageError> {
        unreachable()
    }

    async fn delete_workload(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
    ) -> Result<Deleted, PageError> {
        unreachable()
    }

    async fn workload(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
    ) -> Result<WorkloadDetail, PageError> {
        unreachable()
    }

    async fn workload_logs(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
        _: &LogQuery,
    ) -> Result<Logs, PageError> {
        unreachable()
    }

    async fn follow_workload_logs(
        &self,
        _: &SignedInUser,
        _: &str,
        _: &str,
        _: &LogQuery,
    ) -> Result<LogStream, PageError> {
        unreachable()
    }
}

/// The texts a reader sees on a page: text between tags and the attributes that show (title,
/// placeholder, aria-label, alt), leaving out scripts, styles, comments and code (`pre`, `code`:
/// commands to copy stay as they are typed).
fn visible_texts(html: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if skip_until.is_none() && !text.trim().is_empty() {
            texts.push(decoded(text));
        }
        rest = &rest[open..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").map_or(rest.len(), |e| e + 3);
            rest = &rest[end..];
            continue;
        }
        let end = rest.find('>').map_or(rest.len(), |e| e + 1);
        let tag = &rest[..end];
        rest = &rest[end..];
        let name: String = tag
            .trim_start_matches(['<', '/'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if let Some(closing) = skip_until {
            if tag.starts_with("</") && name == closing {
                skip_until = None;
            }
            continue;
        }
        if !tag.starts_with("</") && matches!(name.as_str(), "script" | "style" | "pre" | "code") {
            skip_until = Some(match name.as_str() {
                "script" => "script",
                "style" => "style",
                "pre" => "pre",
                _ => "code",
            });
            continue;
        }
        for attribute in ["title", "placeholder", "aria-label", "alt"] {
            let needle = format!(" {attribute}=\"");
            if let Some(start) = tag.find(&needle) {
                let value = &tag[start + needle.len()..];
                texts.push(decoded(value.split('"').next().unwrap_or("")));
            }
        }
    }
    texts
}

/// ASCII words of two letters or more.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 2)
}

/// The English words a Chinese page may show: those the translations keep, the product's name,
/// the units of memory, the language switch's label (the other language, in that language), and
/// the signed-in user's name and groups (the cluster's words: the test's sim admin).
fn kept_words() -> BTreeSet<&'static str> {
    let identity = "kubernetes-admin system:masters system:authenticated";
    ZH.iter()
        .flat_map(|(_, zh)| words(zh))
        .chain(["gpuboard", "GiB", "MiB", "English"])
        .chain(words(identity))
        .collect()
}

/// Text with the entities a server-rendered page uses decoded.
fn decoded(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `page` as a browser asking for Chinese reads it, signed in with `token`.
async fn in_chinese(addr: std::net::SocketAddr, page: &str, token: &str) -> Reply {
    request(
        addr,
        "GET",
        page,
        &[
            format!("Authorization: Bearer {token}"),
            "Accept-Language: zh-CN,zh;q=0.9".into(),
        ],
        "",
    )
    .await
}

/// English left on `page` when read in Chinese.
async fn english_on(addr: std::net::SocketAddr, page: &str, token: &str) -> Vec<String> {
    let reply = in_chinese(addr, page, token).await;
    assert!(
        reply.status == 200 || reply.status == 404,
        "{page}: {}",
        reply.head
    );
    assert!(
        reply.body.contains("lang=\"zh-CN\""),
        "{page} is not in Chinese"
    );
    let kept = kept_words();
    visible_texts(&reply.body)
        .into_iter()
        .filter(|text| words(text).any(|w| !kept.contains(w)))
        .map(|text| format!("{page}: {text:?}"))
        .collect()
}

async fn dashboard(backend: SharedBackend) -> (std::net::SocketAddr, gpuboard_sim::SimHandle) {
    let sim = start_sim().await;
    let clients = Arc::new(UserClients::new(sim_config(&sim).await));
    let auth = Auth::new(clients, AuthSettings::default()).expect("the memory store");
    let state = AppState::new(
        leptos_options(),
        backend,
        auth,
        Arc::new(Telemetry::default()),
    );
    (serve_state(state).await, sim)
}

#[tokio::test]
async fn every_page_in_chinese_shows_no_english_left_untranslated() {
    let (addr, sim) = dashboard(Arc::new(ChineseCluster {
        heat_by_node: false,
    }))
    .await;
    let node = format!(
        "/nodes/{}",
        form_urlencoded::byte_serialize(NODE.as_bytes()).collect::<String>()
    );
    let workload = format!(
        "/workloads/{}/{}",
        form_urlencoded::byte_serialize("实验室".as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize("训练任务".as_bytes()).collect::<String>()
    );
    let mut english = Vec::new();
    for page in [
        "/",
        "/nodes",
        "/gpus",
        "/join",
        "/access",
        "/queue",
        "/submit",
        workload.as_str(),
        node.as_str(),
        "/nodes/no-such-node",
        "/no-such-page",
        "/login",
        "/login?error=rejected",
        "/login?error=empty",
        "/login?error=anonymous",
        "/login?error=rate-limited",
        "/login?error=unreachable",
        "/login?error=cross-site",
        "/login?error=whatever",
        "/login?reason=revoked",
        "/login?reason=idle",
        "/login?reason=expired",
        "/login?reason=signed-out",
    ] {
        english.extend(english_on(addr, page, &sim.admin_token).await);
    }
    assert!(
        english.is_empty(),
        "English on Chinese pages:\n{}",
        english.join("\n")
    );
    // The workload page rendered its data (every explanation), not an error in Chinese.
    let page = in_chinese(addr, &workload, &sim.admin_token).await;
    for shown in [
        "重启策略是 Always",
        "Job 已放弃",
        "192.168.0.110:30888",
        "第 1 轮",
    ] {
        assert!(page.body.contains(shown), "{shown:?} is not on {workload}");
    }
    // The check itself sees English where there is some.
    let leftover =
        visible_texts("<p>GPU 总数</p><p title=\"Nodes Ready\">x</p><pre>kubectl get</pre>");
    let kept = kept_words();
    let flagged: Vec<&String> = leftover
        .iter()
        .filter(|t| words(t).any(|w| !kept.contains(w)))
        .collect();
    assert_eq!(flagged, [&"Nodes Ready".to_string()]);
}

#[tokio::test]
async fn a_large_clusters_overview_a_cell_per_node_is_in_chinese_too() {
    let (addr, sim) = dashboard(Arc::new(ChineseCluster { heat_by_node: true })).await;
    let english = english_on(addr, "/", &sim.admin_token).await;
    assert!(english.is_empty(), "English on /:\n{}", english.join("\n"));
    let page = in_chinese(addr, "/", &sim.admin_token).await;
    for shown in [
        "每个格子代表一个节点：集群的 GPU 超过 4096 块。",
        "将鼠标移到格子上查看对应节点，点击打开该节点。",
    ] {
        assert!(page.body.contains(shown), "{shown:?} is not on /");
    }
}

#[tokio::test]
async fn the_pages_error_states_are_in_chinese_too() {
    let (addr, sim) = dashboard(Arc::new(UnreachableCluster)).await;
    let mut english = Vec::new();
    for page in [
        "/",
        "/nodes",
        "/gpus",
        "/nodes/x",
        "/join",
        "/access",
        "/queue",
        "/submit",
        "/workloads/ai/x",
    ] {
        english.extend(english_on(addr, page, &sim.admin_token).await);
    }
    assert!(
        english.is_empty(),
        "English on Chinese pages:\n{}",
        english.join("\n")
    );
}
