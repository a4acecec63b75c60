//! The contract between the browser and the server: every type the pages and the server functions
//! exchange (the JSON API for scripts speaks them too), and the closed sets of words they share
//! as enums (node skew, sign-in refusals, session ends), so a renamed or added case is a compile
//! error on both sides rather than a text that silently stops matching. A leaf: it imports
//! nothing of this crate.

pub mod access;
pub mod doctor;
pub mod join;
pub mod workload_detail;
pub mod workloads;

use serde::{Deserialize, Serialize};

/// Why the server could not give a page its data. Server functions return it, so the page can
/// say it in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PageError {
    /// The request has no signed-in user (the session ended while the page was open).
    #[error("sign in first")]
    SignedOut,
    /// The cluster (or the dashboard's cache of it) could not be reached.
    #[error("the cluster could not be reached: {0}")]
    Unreachable(String),
    /// The cluster answered with a refusal.
    #[error("the cluster refused the request: {0}")]
    Refused(String),
    /// The request itself failed between page and server.
    #[error("the dashboard could not answer: {0}")]
    Server(String),
    /// The request's arguments could not be read (garbage sent to a server function).
    #[error("the request could not be read: {0}")]
    BadRequest(String),
    /// The cluster's RBAC does not let the user do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The object asked for is not there.
    #[error("not found: {0}")]
    NotFound(String),
    /// The cluster found the request invalid (its 400 or 422), in its own words.
    #[error("the cluster rejected the request as invalid: {0}")]
    Rejected(String),
    /// A field of the request was refused before anything was sent to the cluster.
    #[error("{0}")]
    Invalid(FieldError),
}

/// A refused field: which (as the JSON names it) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub refusal: Refusal,
    /// The refusal in English (kubeadm's words where kubeadm has them), for scripts and logs.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, refusal: Refusal) -> Self {
        FieldError {
            field: field.to_string(),
            message: refusal.english(),
            refusal,
        }
    }
}

/// Whether `body` is JSON text of an object (its first non-blank byte `{`): request bodies must
/// be, where serde would read an array as a struct's fields in order (`[]` as every default).
pub fn is_json_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// A request ID's shortest and longest length (`requestId` of the requests that may be sent
/// twice): long enough that two requests do not share one by chance; a UUID fits.
pub const REQUEST_ID_CHARS: (usize, usize) = (16, 128);

/// Why a field was refused; each says it in both languages (`pages::refusal_text`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "reason")]
pub enum Refusal {
    /// Usages kubeadm does not know (comma-joined, sorted).
    UnknownUsages { usages: String },
    /// An extra group that is not `system:bootstrappers:...`.
    InvalidGroup { group: String },
    /// Extra groups on a token that cannot authenticate.
    GroupsNeedAuthentication,
    /// Longer than allowed.
    TooLong { max: usize },
    /// More entries than allowed.
    TooMany { max: usize },
    /// A number above the largest allowed.
    TooLarge { max: u64 },
    /// Not a token ID (the given text is not repeated: it may hold a secret).
    NotATokenId,
    /// Not a request ID: `min` to `max` of letters, digits, '-', '_' or '.'.
    NotARequestId { min: usize, max: usize },
    /// A number outside its range.
    OutOfRange { min: u64, max: u64 },
    /// Not a DNS-1123 label (namespaces).
    NotALabel,
    /// Not a DNS-1123 subdomain (most object names).
    NotASubdomain,
    /// A role the form does not grant.
    UnknownRole,
    /// Left empty, and it may not be.
    Required,
    /// GPUs are whole devices: `0.5` or `-1` is not a count.
    NotWholeGpus,
    /// More GPUs than the largest node has.
    MoreGpusThanAnyNode { largest: u64 },
    /// Not a Kubernetes quantity (`500m`, `4`, `16Gi`).
    NotAQuantity,
    /// Not an image reference (`registry/repo:tag` or `repo@sha256:...`).
    NotAnImage,
    /// Not a C identifier-like environment variable name.
    NotAnEnvName,
    /// The same value twice (`value` names it).
    Duplicate { value: String },
    /// A mount path must be absolute, without `..`.
    NotAnAbsolutePath,
    /// `/dev/shm` is the large shared-memory volume's mount while that is on.
    ShmInUse,
    /// Ports are exposed by workspaces only.
    PortsNeedWorkspace,
    /// Not a label value (at most 63 of letters, digits, '-', '_', '.').
    NotALabelValue,
    /// The namespace's ResourceQuota refused it: its three lists, parsed.
    QuotaExceeded(Box<QuotaLists>),
    /// The cluster refused it for this field; its own words.
    Cluster { message: String },
    /// The name is taken by an object this request did not make (`object`: `jobs.batch "x"`).
    NameTaken { object: String },
    /// Not one of the values allowed here (`choices` lists them).
    NotOneOf { choices: Vec<String> },
}

/// The quota plugin's refusal (`exceeded quota: q, requested: .., used: .., limited: ..`), parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaLists {
    pub quota: String,
    pub requested: String,
    pub used: String,
    pub limited: String,
}

/// kubeadm's pattern for extra groups (`BootstrapGroupPattern`), as its refusals quote it.
pub const BOOTSTRAP_GROUP_PATTERN: &str = r"\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z";

impl Refusal {
    /// The refusal in English: kubeadm's own words for kubeadm's rules.
    pub fn english(&self) -> String {
        match self {
            Refusal::UnknownUsages { usages } => format!(
                "invalid bootstrap token usage string: {usages}, valid usage options: signing,authentication"
            ),
            Refusal::InvalidGroup { group } => {
                format!(
                    "bootstrap group {group:?} is invalid (must match {BOOTSTRAP_GROUP_PATTERN})"
                )
            }
            Refusal::GroupsNeedAuthentication => {
                "token groups cannot be specified unless --usages includes \"authentication\""
                    .into()
            }
            Refusal::TooLong { max } => format!("must be at most {max} characters"),
            Refusal::TooMany { max } => format!("must have at most {max} entries"),
            Refusal::TooLarge { max } => format!("must be at most {max}"),
            Refusal::OutOfRange { min, max } => format!("must be between {min} and {max}"),
            Refusal::NotALabel => "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into(),
            Refusal::NotASubdomain => "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into(),
            Refusal::UnknownRole => "must be one of view, edit, admin, cluster-admin".into(),
            Refusal::Required => "Required value".into(),
            Refusal::NotWholeGpus => "GPUs are whole devices: must be a whole number, 0 or more".into(),
            Refusal::MoreGpusThanAnyNode { largest } => {
                format!("no node has that many GPUs: the largest has {largest}")
            }
            Refusal::NotAQuantity => "must be a quantity such as 500m, 4, 512Mi or 16Gi".into(),
            Refusal::NotAnImage => "must be an image reference such as registry.example.com/team/image:tag (no spaces, lowercase repository)".into(),
            Refusal::NotAnEnvName => "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit".into(),
            Refusal::Duplicate { value } => format!("{value} is given twice"),
            Refusal::NotAnAbsolutePath => "must be an absolute path without '..'".into(),
            Refusal::ShmInUse => "/dev/shm holds the large shared-memory volume: turn that off to mount a claim there, or choose another path".into(),
            Refusal::PortsNeedWorkspace => "only a workspace exposes ports; a Job has none".into(),
            Refusal::NotALabelValue => "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".into(),
            Refusal::QuotaExceeded(q) => format!(
                "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                q.quota, q.requested, q.used, q.limited
            ),
            Refusal::Cluster { message } => message.clone(),
            Refusal::NotOneOf { choices } => {
                format!("choose one of: {}", choices.join(", "))
            }
            Refusal::NameTaken { object } => format!(
                "{object} already exists and was not made by this request: choose another name, or delete it first"
            ),
            Refusal::NotARequestId { min, max } => format!(
                "must be {min} to {max} letters, digits, '-', '_' or '.' (a UUID will do)"
            ),
            Refusal::NotATokenId => format!(
                "given token didn't match pattern {:?} or {:?}",
                r"\A([a-z0-9]{6})\z", r"\A([a-z0-9]{6})\.([a-z0-9]{16})\z"
            ),
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for PageError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(e: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match e {
            E::Args(why) | E::MissingArg(why) => PageError::BadRequest(why),
            // On the server it is the request that could not be read; in the browser, an
            // answer that is no PageError (a proxy's page, a timeout), which is not the user's.
            E::Deserialization(why) if cfg!(feature = "ssr") => PageError::BadRequest(why),
            other => PageError::Server(other.to_string()),
        }
    }
}

/// Why a node's GPU samples are not fresh: its exporter failed, or Prometheus (when it is the
/// source) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ExporterError {
    /// No answer within the timeout, in milliseconds.
    Timeout { ms: u64 },
    /// The connection failed, as the system said it.
    Unreachable(String),
    /// It answered with this HTTP status.
    Status(u16),
    /// The answer is not the exporter's JSON, or is larger than allowed.
    Invalid(String),
    /// It answered for another node.
    WrongNode(String),
    /// Asking Prometheus, the source of every node's samples, failed (no answer, a refusal, an
    /// answer that is not its JSON, an unreadable token file); why, as the dashboard saw it.
    Prometheus(String),
    /// Prometheus answers, but has no current series of this node's GPUs (its exporter is not
    /// scraped, or stopped answering Prometheus).
    NoSeries,
}

/// Where the dashboard gets its GPU samples (`gpuboard serve`'s flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum SampleSource {
    /// gpuboard-exporter's pod on each node (the default).
    #[default]
    GpuboardExporter,
    /// NVIDIA's dcgm-exporter pod on each node (`--dcgm-exporter-selector`).
    DcgmExporter,
    /// Prometheus (`--prometheus-url`).
    Prometheus,
}

/// What sets a GPU node apart from most GPU nodes (the seeds warn about mixed kernels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Skew {
    Kernel,
    Driver,
    Runtime,
}

impl Skew {
    /// Every kind of skew, in the order the table's columns show them.
    pub const ALL: [Skew; 3] = [Skew::Kernel, Skew::Driver, Skew::Runtime];
}

/// One node as the nodes table shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    pub name: String,
    pub ready: bool,
    pub unschedulable: bool,
    pub roles: Vec<String>,
    pub internal_ip: String,
    pub gpu_model: Option<String>,
    pub gpus_allocatable: u32,
    pub os_image: String,
    pub kernel: String,
    pub container_runtime: String,
    pub kubelet_version: String,
    /// Seconds since the node was created.
    pub age_seconds: i64,
    /// GPUs requested by the node's active pods (the effective-request rule).
    pub gpus_allocated: u32,
    /// GPUs at or above the busy threshold, by the exporter; None when the node's exporter is
    /// stale or absent (its old numbers are not counted).
    pub gpus_busy: Option<u32>,
    /// The NVIDIA driver version, by the exporter.
    pub driver: Option<String>,
    pub skew: Vec<Skew>,
}

impl NodeSummary {
    /// Whether the node differs from most GPU nodes in `skew`.
    pub fn skews(&self, skew: Skew) -> bool {
        self.skew.contains(&skew)
    }
}

/// Whether the nodes, pods and jobs the pages show are live: the dashboard's watches of the
/// cluster and its probe of the API server say so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClusterLink {
    Live,
    /// Out of date since `since_utc` (UTC, `2026-11-24 09:30:05`), `for_seconds` ago; what is
    /// shown is as it was then.
    Stale {
        since_utc: String,
        for_seconds: i64,
        reason: StaleReason,
    },
}

/// Why what the pages show of the cluster is out of date, most serious first. The server's own
/// error text stays in its log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StaleReason {
    /// The API server does not answer (connections refused or cut, or no answer in time).
    Unreachable,
    /// The API server refuses the dashboard's watch of `resource` with HTTP `code`, a 4xx
    /// (401: it does not accept the dashboard's credentials; 403: the dashboard's account may not
    /// list and watch them). It lasts until an admin acts.
    Refused { resource: String, code: u16 },
    /// The API server fails the dashboard's watch of `resource` with HTTP `code` (429, or a 5xx:
    /// overloaded or failing). It passes when the server answers again.
    Failing { resource: String, code: u16 },
    /// The watch of `resource` expired (410 Gone): the dashboard is listing them again.
    Relisting { resource: String },
}

/// Who is signed in, for the page header; the CSRF token goes into the sign-out form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub username: String,
    pub groups: Vec<String>,
    pub csrf_token: String,
}

/// One GPU as the GPUs page shows it: identity from the exporter, the latest sample, and who
/// uses it (pod names only where the user may list pods in that namespace).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GpuRow {
    pub node: String,
    pub index: u32,
    pub model: String,
    pub uuid: String,
    pub memory_total_bytes: u64,
    pub memory_used_bytes: Option<u64>,
    pub utilization_percent: Option<f64>,
    pub temperature_celsius: Option<f64>,
    pub power_watts: Option<f64>,
    pub power_limit_watts: Option<f64>,
    /// Whether a pod holds the GPU or a process runs on it, whether or not the user may see which.
    pub in_use: bool,
    /// `namespace/pod` of the holders the user may see.
    pub pods: Vec<String>,
    /// Holders in namespaces the user may not list pods in.
    pub hidden_pods: usize,
    /// The node's exporter is not answering; the values are from `sampled_at_ms`.
    pub stale: bool,
    pub sampled_at_ms: i64,
    /// Why the GPU itself failed (lost, fallen off the bus), by its exporter; it then has no numbers.
    pub failure: Option<String>,
}

/// What the GPU inventory can be sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GpuSortKey {
    #[default]
    Node,
    Utilization,
    Memory,
    Temperature,
    Power,
}

/// Rows per page of the GPU inventory.
pub const GPU_PAGE_SIZE: usize = 200;

/// What the GPUs page asks for; every field may be left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuQuery {
    /// Matches node, model, UUID or pod, case-insensitive.
    pub filter: String,
    pub sort: GpuSortKey,
    pub descending: bool,
    /// 0-based.
    pub page: usize,
}

/// One page of the inventory, with counts over the whole cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuPage {
    pub rows: Vec<GpuRow>,
    /// Rows matching the filter, over all pages.
    pub matching: usize,
    pub page: usize,
    pub page_size: usize,
    pub total: usize,
    pub in_use: usize,
    /// Over the GPUs whose exporter answers (stale ones are not counted).
    pub average_utilization_percent: Option<f64>,
}

/// One point of a GPU's history, for the node page's charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryPoint {
    /// Unix seconds.
    pub at_s: i64,
    pub utilization_percent: Option<f64>,
    pub memory_used_mib: Option<f64>,
    pub temperature_celsius: Option<f64>,
    pub power_watts: Option<f64>,
}

/// How far back the node page's charts reach; its word (`?range=day`) is the same for serde and
/// for the page's address.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum HistoryRange {
    #[default]
    Hour,
    Day,
    Week,
}

impl HistoryRange {
    /// Every range, shortest first (the selector's order).
    pub const ALL: [HistoryRange; 3] = [HistoryRange::Hour, HistoryRange::Day, HistoryRange::Week];

    /// Points a chart shows at most over its range.
    pub const POINTS: i64 = 240;

    /// The range's length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            HistoryRange::Hour => 3_600,
            HistoryRange::Day => 86_400,
            HistoryRange::Week => 604_800,
        }
    }

    /// Seconds between two chart points asked of Prometheus: 15 s, 6 min, 42 min.
    pub fn step_seconds(self) -> i64 {
        self.seconds() / Self::POINTS
    }
}

/// A GPU card on the node page: the row plus its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GpuCard {
    pub gpu: GpuRow,
    pub history: Vec<HistoryPoint>,
}

/// A pod on the node and the GPUs it asks for (the effective-request rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePod {
    pub namespace: String,
    pub name: String,
    pub phase: String,
    pub gpus: u32,
}

/// A node condition as `kubectl describe node` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCondition {
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// Everything the node page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDetail {
    pub summary: NodeSummary,
    pub conditions: Vec<NodeCondition>,
    pub taints: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub gpus: Vec<GpuCard>,
    /// Pods the user may see, with their GPU requests.
    pub pods: Vec<NodePod>,
    /// Pods on the node in namespaces the user may not list pods in.
    pub hidden_pods: usize,
    /// Why the node's exporter has no fresh data, if it has not.
    pub telemetry_error: Option<ExporterError>,
    /// The GPU-node doctor's checks.
    pub doctor: doctor::Diagnosis,
    /// The range the cards' history covers (the one asked for, where the source keeps it).
    pub history_range: HistoryRange,
    /// The ranges the source can show: all with Prometheus, else those within the history the
    /// dashboard keeps in memory (`--telemetry-history`).
    pub history_ranges: Vec<HistoryRange>,
    /// Why Prometheus could not give the charts' history, which then is the one kept in memory.
    pub history_error: Option<ExporterError>,
}

/// A problem the overview calls out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alert {
    /// Prometheus, the source of every GPU sample, did not answer the last cycle: why.
    PrometheusFailed { error: String },
    /// The node is not Ready.
    NotReady { node: String },
    /// The node's exporter does not answer; `since_ms` is its last good sample (None: never).
    StaleExporter {
        node: String,
        since_ms: Option<i64>,
        error: ExporterError,
    },
    /// The scheduler's allocatable `nvidia.com/gpu` differs from the GPUs the exporter sees:
    /// the device plugin is missing or broken.
    DeviceMismatch {
        node: String,
        allocatable: u32,
        seen: u32,
    },
    /// A GPU fails whole (its exporter cannot read it); `error` is the exporter's reason.
    GpuFailed {
        node: String,
        index: u32,
        error: String,
    },
    /// The doctor fails these checks on the node (those the other alerts do not already say).
    DoctorFails {
        node: String,
        checks: Vec<doctor::CheckKind>,
    },
}

/// The overview: counts, the heat map (a cell per GPU, or per node in large clusters) and alerts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub nodes_ready: usize,
    pub nodes_total: usize,
    /// GPUs the exporters report.
    pub gpus_total: usize,
    /// Allocatable `nvidia.com/gpu` over all nodes.
    pub gpus_allocatable: u32,
    /// GPUs requested by active pods (the effective-request rule).
    pub gpus_allocated: u32,
    /// GPUs at or above the busy threshold, on nodes whose exporter answers.
    pub gpus_busy: u32,
    pub busy_threshold_percent: f64,
    pub average_utilization_percent: Option<f64>,
    /// The newest sample's time, Unix ms: the clock alerts measure ages against.
    pub sampled_at_ms: i64,
    pub heat: HeatMap,
    pub alerts: Vec<Alert>,
    /// GPU work at a glance: the head of the queue and what runs (at most
    /// [`Overview::WORK_ROWS`] of each), with the whole queue's counts.
    pub work: workloads::Queue,
}

impl Overview {
    /// Rows of each kind the overview's GPU work shows.
    pub const WORK_ROWS: usize = 5;
}

/// A node of the heat map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatNode {
    pub name: String,
    /// The node's exporter does not answer: its cells show the last good sample.
    pub stale: bool,
}

/// A GPU model with its memory, shared by every cell that has it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HeatModel {
    pub name: String,
    pub memory_total_bytes: u64,
}

/// One GPU of the heat map. The wire names are short because there is one of these per GPU in
/// the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatCell {
    /// Index into [`HeatMap::nodes`].
    #[serde(rename = "n")]
    pub node: u32,
    /// The GPU's index on its node.
    #[serde(rename = "i")]
    pub index: u32,
    /// Index into [`HeatMap::models`].
    #[serde(rename = "m")]
    pub model: u32,
    /// Utilization in whole percent; None when the GPU does not report it.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<u8>,
    #[serde(rename = "mu", default, skip_serializing_if = "Option::is_none")]
    pub memory_used_mib: Option<u32>,
    /// `namespace/pod` of the holders the user may see.
    #[serde(rename = "p", default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<String>,
    /// Holders in namespaces the user may not list.
    #[serde(rename = "h", default, skip_serializing_if = "is_zero")]
    pub hidden_pods: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One node of a heat map drawn by node: its GPUs summed. The wire names are short because
/// there is one of these per node of a large cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatNodeCell {
    /// GPUs its exporter reports.
    #[serde(rename = "g")]
    pub gpus: u32,
    /// GPUs at or above the busy threshold (none when its exporter is stale).
    #[serde(rename = "b")]
    pub busy: u32,
    /// Index into [`HeatMap::models`]: its first GPU's model.
    #[serde(rename = "m")]
    pub model: u32,
    /// The average utilization of the GPUs that report one, in whole percent.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<u8>,
    /// Memory used over the GPUs that report it, and the total of every GPU.
    #[serde(rename = "mu", default, skip_serializing_if = "Option::is_none")]
    pub memory_used_mib: Option<u64>,
    #[serde(rename = "mt")]
    pub memory_total_mib: u64,
}

/// What a heat map's cells stand for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeatCells {
    /// One cell per GPU, in node and index order: clusters of up to
    /// [`HeatMap::MAX_GPU_CELLS`] GPUs.
    #[serde(rename = "gpus")]
    Gpus(Vec<HeatCell>),
    /// One cell per node, the `i`th for [`HeatMap::nodes`]'s `i`th: larger clusters, where a
    /// cell per GPU would be megabytes of page and too small to point at.
    #[serde(rename = "nodes")]
    Nodes(Vec<HeatNodeCell>),
}

impl Default for HeatCells {
    fn default() -> Self {
        HeatCells::Gpus(Vec::new())
    }
}

/// The cluster's GPUs in node order, as the overview draws them: a cell per GPU, or per node
/// beyond [`HeatMap::MAX_GPU_CELLS`] GPUs (then `cells`' `i`th is `nodes`' `i`th).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatMap {
    pub nodes: Vec<HeatNode>,
    pub models: Vec<HeatModel>,
    pub cells: HeatCells,
}

impl HeatMap {
    /// The most GPUs drawn a cell each (64 rows of 64); beyond, a cell is a node.
    pub const MAX_GPU_CELLS: usize = 4_096;
}

/// Why a sign-in was refused: `/login?error=<word>`. The page turns it into words, so no user
/// input is ever echoed back.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantArray,
)]
#[strum(serialize_all = "kebab-case")]
pub enum SignInRefusal {
    /// No token was pasted.
    Empty,
    /// The cluster does not accept the token (401).
    Rejected,
    /// The token signs in as nobody in particular.
    Anonymous,
    /// Too many attempts from the client.
    RateLimited,
    /// The cluster could not be asked.
    Unreachable,
    /// The form was not sent from the sign-in page.
    CrossSite,
    /// The dashboard holds as many sessions as it may.
    SessionsFull,
    /// The shared session store (Redis) could not be reached.
    StoreUnreachable,
}

/// Why a session ended: `/login?reason=<word>`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantArray,
)]
#[strum(serialize_all = "kebab-case")]
pub enum SessionEnd {
    /// The cluster no longer accepts the session's token.
    Revoked,
    /// The cluster could not be asked about the session's token for longer than the grace.
    Unverified,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Older than the session lifetime.
    Expired,
    /// The user signed out.
    SignedOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    use strum::VariantArray;

    #[test]
    fn query_words_read_back_and_unknown_ones_are_refused() {
        for refusal in SignInRefusal::VARIANTS {
            let word: &str = refusal.into();
            assert_eq!(word.parse(), Ok(*refusal));
        }
        let signed_out: &str = SessionEnd::SignedOut.into();
        assert_eq!(signed_out, "signed-out");
        for end in SessionEnd::VARIANTS {
            let word: &str = end.into();
            assert_eq!(word.parse(), Ok(*end));
        }
        assert!("<script>".parse::<SignInRefusal>().is_err());
        for range in HistoryRange::ALL {
            let word: &str = range.into();
            assert_eq!(serde_json::to_value(range).unwrap(), word);
            assert_eq!(word.parse(), Ok(range));
        }
        assert!("".parse::<SessionEnd>().is_err());
    }

    #[test]
    fn skews_travel_as_words() {
        assert_eq!(
            serde_json::to_string(&Skew::ALL).expect("serialises"),
            r#"["kernel","driver","runtime"]"#
        );
    }
}
