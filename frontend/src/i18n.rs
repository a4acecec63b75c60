//! English and Simplified Chinese: the one way the pages speak. Every text a page shows is written
//! in English in the code and looked up here (gettext-style: the English text is the key): plain
//! texts with [`t`] (reactive, for views) or [`tr`], texts with values with [`trf`], whose keys
//! mark each value as `{name}`. Tests fail for a key without a Chinese text (here) and for any
//! English left on a page rendered in Chinese (`server/tests/dashboard/i18n.rs`).
//! The language comes from the `gpuboard_lang` cookie, else the browser's Accept-Language; the
//! server writes it into `<html lang>` and the browser reads it from there, so both render alike.
//! The switch sets the cookie, so the choice is remembered.

use leptos::prelude::*;

/// The cookie that remembers the chosen language.
pub const COOKIE: &str = "gpuboard_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// The languages the pages speak.
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// The language's BCP 47 tag, for `<html lang>` and the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The language of a tag (`zh-CN`, `en-US`, ...), if it is one the pages speak.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Lang::Zh)
        } else if tag.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// From a `Cookie` header's `gpuboard_lang`, else the first language of `Accept-Language` we speak.
    pub fn from_headers(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        let from_cookie = cookie.and_then(|c| {
            c.split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| *name == COOKIE)
                .and_then(|(_, value)| Lang::from_tag(value))
        });
        from_cookie
            .or_else(|| {
                accept_language.and_then(|a| {
                    a.split(',')
                        .find_map(|part| Lang::from_tag(part.split(';').next().unwrap_or("")))
                })
            })
            .unwrap_or(Lang::En)
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The switch's label: the other language's name, in that language.
    pub fn switch_label(self) -> &'static str {
        match self {
            Lang::En => "中文",
            Lang::Zh => "English",
        }
    }
}

/// English -> Simplified Chinese.
pub const ZH: &[(&str, &str)] = &[
    // GPU work: the queue and the submit form.
    ("(hidden)", "（已隐藏）"),
    ("Age or wait", "运行/等待时长"),
    (
        "Already submitted: {what} (nothing new was made)",
        "已提交过：{what}（未新建任何对象）",
    ),
    ("Any", "任意"),
    ("CPU", "CPU"),
    ("CUDA sample (vectoradd)", "CUDA 示例（vectoradd）"),
    ("Check with the cluster", "让集群预检"),
    (
        "Command, one word per line (empty: the image's own)",
        "命令，每行一个词（留空则用镜像自带命令）",
    ),
    ("Deadline, seconds", "运行时限（秒）"),
    ("Delete when finished after, seconds", "结束后多少秒删除"),
    (
        "Delete {name} in {ns}? It frees {gpus} GPU(s) on {node}.",
        "删除 {ns} 中的 {name}？将释放 {node} 上的 {gpus} 块 GPU。",
    ),
    (
        "Delete {name} in {ns}? It holds no GPU now.",
        "删除 {ns} 中的 {name}？它目前未占用 GPU。",
    ),
    ("Delete", "删除"),
    (
        "Environment, NAME=value per line",
        "环境变量，每行一个 NAME=value",
    ),
    ("Fits now on {nodes}", "现在即可运行于 {nodes}"),
    ("GPU queue", "GPU 队列"),
    (
        "GPUs are free but not the CPU or memory beside them",
        "有空闲 GPU，但同节点的 CPU 或内存不足",
    ),
    ("Image", "镜像"),
    ("Job (runs to completion)", "Job（运行至结束）"),
    ("Kind", "类型"),
    (
        "Large /dev/shm (memory-backed; PyTorch's data loaders need it)",
        "大容量 /dev/shm（内存卷；PyTorch 数据加载需要）",
    ),
    ("Loading the queue…", "正在加载队列…"),
    ("Never fits: {why}", "永远无法运行：{why}"),
    ("Node ports", "节点端口"),
    ("Only mine", "只看我的"),
    ("Owner", "提交者"),
    (
        "Ports on a NodePort (e.g. 8888, 22)",
        "通过 NodePort 开放的端口（如 8888, 22）",
    ),
    ("Priority class", "优先级类"),
    ("Queue", "队列"),
    ("Retries before it fails", "失败前重试次数"),
    ("See it in the queue", "在队列中查看"),
    ("State", "状态"),
    ("TensorFlow (GPU)", "TensorFlow（GPU）"),
    ("PyTorch", "PyTorch"),
    ("Submit GPU work", "提交 GPU 任务"),
    ("Submit", "提交"),
    ("Submitted: {what}", "已提交：{what}"),
    (
        "The cluster accepts it: {what} (nothing was made)",
        "集群预检通过：{what}（未创建任何对象）",
    ),
    ("The cluster's default", "集群默认"),
    ("Utilization", "利用率"),
    (
        "Volumes, claim:/path per line",
        "存储卷，每行一个 claim:/路径",
    ),
    (
        "Waits: {why}; about {ahead} ahead of you",
        "需等待：{why}；前面约有 {ahead} 个",
    ),
    ("What will be sent", "将提交的内容"),
    ("Why it waits", "等待原因"),
    ("Workspace (stays up)", "工作空间（常驻）"),
    (
        "Your account may not create Jobs in any namespace, so it cannot submit GPU work.",
        "您的账号无权在任何命名空间创建 Job，因此无法提交 GPU 任务。",
    ),
    ("a taint it does not tolerate", "有其不容忍的污点"),
    ("cordoned", "已封锁调度"),
    (
        "every GPU it could use is in use",
        "所有可用的 GPU 都在使用中",
    ),
    ("every {model} is in use", "所有 {model} 都在使用中"),
    (
        "needs {wanted} GPUs, the largest node has {largest}",
        "需要 {wanted} 块 GPU，最大的节点只有 {largest} 块",
    ),
    (
        "no GPU node has that much CPU or memory",
        "没有 GPU 节点有这么多 CPU 或内存",
    ),
    ("no node has a {model}", "没有节点配有 {model}"),
    ("no node it tolerates has GPUs", "可调度的节点都没有 GPU"),
    ("not enough {resource}", "{resource} 不足"),
    (
        "not the GPU model or labels asked for",
        "GPU 型号或标签不符",
    ),
    (
        "the namespace's quota {quota} allows {hard} GPUs",
        "命名空间配额 {quota} 只允许 {hard} 块 GPU",
    ),
    (
        "the namespace's quota {quota} has {used} of {hard} GPUs in use",
        "命名空间配额 {quota} 已用 {used}/{hard} 块 GPU",
    ),
    (
        "the nodes that could run it are cordoned or not Ready: {nodes}",
        "能运行它的节点已封锁或未就绪：{nodes}",
    ),
    ("too many pods", "Pod 数量已满"),
    ("{n} node(s): {why}", "{n} 个节点：{why}"),
    (
        "{pending} waiting for {waiting} GPU(s) · {running} running on {held} GPU(s)",
        "{pending} 个等待 {waiting} 块 GPU · {running} 个正在使用 {held} 块 GPU",
    ),
    ("Pending", "等待中"),
    ("Running", "运行中"),
    ("Succeeded", "已成功"),
    ("Failed", "已失败"),
    ("Job", "Job"),
    ("Workspace", "工作空间"),
    ("Pod", "Pod"),
    // Refusals of the submit form.
    ("Required", "必填"),
    (
        "GPUs are whole devices: a whole number, 0 or more",
        "GPU 按整块分配：请填 0 或正整数",
    ),
    (
        "No node has that many GPUs: the largest has {largest}",
        "没有节点有这么多 GPU：最多的节点有 {largest} 块",
    ),
    (
        "Use a quantity such as 500m, 4, 512Mi or 16Gi",
        "请填写资源数量，如 500m、4、512Mi 或 16Gi",
    ),
    (
        "Use an image reference such as registry.example.com/team/image:tag",
        "请填写镜像地址，如 registry.example.com/team/image:tag",
    ),
    (
        "Use letters, digits, '_', '-' or '.', not starting with a digit",
        "只能包含字母、数字、'_'、'-' 或 '.'，且不能以数字开头",
    ),
    ("{value} is given twice", "{value} 重复填写了"),
    (
        "Use an absolute path without '..'",
        "请填写不含 '..' 的绝对路径",
    ),
    (
        "/dev/shm holds the large shared-memory volume: turn that off or choose another path",
        "/dev/shm 已用作大容量共享内存卷：请关闭该选项或换一个路径",
    ),
    ("Only a workspace exposes ports", "只有工作空间才能开放端口"),
    (
        "Use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        "最多 63 个字母、数字、'-'、'_' 或 '.'，首尾须为字母或数字",
    ),
    (
        "Over the namespace's quota {quota}: asks for {requested}, {used} in use, the limit is {limited}. Wait for work there to end (see the queue), ask for less, or ask an admin to raise {quota}",
        "超出命名空间配额 {quota}：申请 {requested}，已用 {used}，上限 {limited}。请等待该命名空间中的任务结束（见队列）、减少申请，或请管理员提高 {quota}",
    ),
    (
        "The cluster refused it: {message}",
        "集群拒绝了该请求：{message}",
    ),
    (
        "{object} already exists and was not made by this request: choose another name, or delete it first",
        "{object} 已存在且不是本次请求创建的：请换一个名称，或先删除它",
    ),
    ("choose one of: {choices}", "请从以下选择：{choices}"),
    (
        "No pod yet: the namespace's quota {quota} has {used} of {hard} GPUs in use",
        "尚无 Pod：命名空间配额 {quota} 已用 {used} / {hard} 块 GPU",
    ),
    ("GPU work", "GPU 任务"),
    ("Head of the queue", "队首"),
    (
        "No GPU work is running or waiting.",
        "当前没有运行或等待中的 GPU 任务。",
    ),
    // One workload's page and its logs.
    ("Back to the queue", "返回队列"),
    ("Open its page", "打开其页面"),
    ("Clone into the form", "复制到表单"),
    ("Container", "容器"),
    ("Count", "次数"),
    ("Deleted: {what}", "已删除：{what}"),
    ("Download", "下载"),
    ("Events", "事件"),
    ("Follow", "实时跟随"),
    ("Last", "最近"),
    ("Last run", "上次运行"),
    ("Logs", "日志"),
    ("Newest", "最新"),
    ("Object", "对象"),
    ("Phase", "阶段"),
    ("Previous run", "上一次运行"),
    ("Reload", "重新加载"),
    ("Restarts", "重启次数"),
    ("Search the lines", "搜索日志行"),
    ("Time", "时间"),
    ("Timestamps", "时间戳"),
    ("Normal", "正常"),
    ("Warning", "警告"),
    ("exit code", "退出码"),
    ("following", "跟随中"),
    ("the container ended", "容器已结束"),
    (
        "the stream stopped; untick and tick Follow to resume",
        "日志流已中断；取消并重新勾选“实时跟随”即可继续",
    ),
    ("{n} line(s)", "{n} 行"),
    ("{found} of {n} line(s) match", "{n} 行中有 {found} 行匹配"),
    ("{gpus} GPU(s), any model", "{gpus} 块 GPU，任意型号"),
    ("{gpus} GPU(s), {model}", "{gpus} 块 GPU，{model}"),
    (
        "{n} older pod(s) not shown.",
        "另有 {n} 个较早的 Pod 未显示。",
    ),
    ("{ready} ready", "{ready} 个就绪"),
    (
        "{active} running · {succeeded} succeeded · {failed} failed",
        "{active} 个运行中 · {succeeded} 个成功 · {failed} 个失败",
    ),
    (
        "Waiting: number {position} in the GPU queue.",
        "等待中：在 GPU 队列中排第 {position} 位。",
    ),
    (
        "The Job gave up: {failed} pod(s) failed and it allows {limit} retries.",
        "Job 已放弃：{failed} 个 Pod 失败，而它只允许重试 {limit} 次。",
    ),
    (
        "The Job may not make its pod: the namespace's quota {quota} has no room for it. The Job controller tries again, and the pod is made once other work there ends.",
        "Job 无法创建它的 Pod：命名空间配额 {quota} 已没有余量。Job 控制器会重试，等该命名空间中的其他任务结束后 Pod 就会被创建。",
    ),
    (
        "The node stopped or refused {pod} ({reason}).",
        "节点停止或拒绝了 {pod}（{reason}）。",
    ),
    ("{n} GPU(s)", "{n} 块 GPU"),
    (
        "Arguments, one word per line (after the command)",
        "参数，每行一个（跟在命令之后）",
    ),
    (
        "The Job ran past its deadline of {seconds} s and was stopped.",
        "Job 运行超过了 {seconds} 秒的期限，已被停止。",
    ),
    (
        "The image {image} of {container} in {pod} cannot be pulled: check its name and tag, and that the node can reach the registry and has its credentials.",
        "{pod} 中 {container} 的镜像 {image} 无法拉取：请检查镜像名称和标签，以及节点能否访问镜像仓库并有其凭据。",
    ),
    (
        "{container} in {pod} cannot start ({reason}): a ConfigMap, Secret or volume it names may be missing, or its command cannot run.",
        "{pod} 中的 {container} 无法启动（{reason}）：它引用的 ConfigMap、Secret 或卷可能不存在，或者它的命令无法运行。",
    ),
    (
        "{container} in {pod} ended with exit code {code}: its logs say why.",
        "{pod} 中的 {container} 以退出码 {code} 结束：原因见其日志。",
    ),
    (
        "{container} in {pod} finished (exit code {code}), but its restart policy is Always, so Kubernetes starts it again and waits longer each time (CrashLoopBackOff). A program that ends belongs in a Job; a workspace needs a command that keeps running, such as a server or sleep infinity.",
        "{pod} 中的 {container} 已正常结束（退出码 {code}），但它的重启策略是 Always，所以 Kubernetes 会再次启动它，且每次等待更久（CrashLoopBackOff）。会结束的程序应作为 Job 提交；工作空间需要一个持续运行的命令，例如服务程序或 sleep infinity。",
    ),
    (
        "{container} in {pod} keeps failing (exit code {code}, {restarts} restarts) and Kubernetes waits longer before each restart: the previous run's logs say why.",
        "{pod} 中的 {container} 反复失败（退出码 {code}，已重启 {restarts} 次），Kubernetes 每次重启前等待更久：原因见上一次运行的日志。",
    ),
    (
        "{container} in {pod} ran out of memory and was killed (OOMKilled): ask for more memory, or use less.",
        "{pod} 中的 {container} 内存耗尽被终止（OOMKilled）：请申请更多内存，或减少内存使用。",
    ),
    (
        "{container} in {pod} used more than its memory limit of {limit} and was killed (OOMKilled): ask for more memory, or use less.",
        "{pod} 中的 {container} 使用的内存超过上限 {limit}，已被终止（OOMKilled）：请申请更多内存，或减少内存使用。",
    ),
    // The frame.
    ("Overview", "概览"),
    ("Nodes", "节点"),
    ("GPUs", "GPU"),
    ("Sign out", "退出登录"),
    ("Page not found.", "页面不存在。"),
    ("Switch the language", "切换语言"),
    // Sign-in.
    ("Sign in", "登录"),
    ("Bearer token", "Bearer 令牌"),
    ("Paste the token here", "在此粘贴令牌"),
    (
        "The cluster decides what you may see and do (RBAC). Get a token with kubectl:",
        "您能查看和操作的内容由集群的 RBAC 决定。用 kubectl 获取令牌：",
    ),
    (
        "The token stays on the dashboard's server; the browser only holds a session cookie.",
        "令牌只保存在 gpuboard 服务器上，浏览器只持有会话 Cookie。",
    ),
    ("Paste a token first.", "请先粘贴令牌。"),
    (
        "The cluster does not accept this token: it is mistyped, expired or revoked. Make a new one with kubectl (below).",
        "集群不接受此令牌：可能输入有误、已过期或已被吊销。请用下面的 kubectl 命令重新生成。",
    ),
    (
        "This token signs in as an anonymous user. Use a service account's token or your own.",
        "此令牌对应匿名用户。请使用服务账号或您本人的令牌。",
    ),
    (
        "Too many failed sign-ins from this address. Wait a minute without attempts and try again.",
        "此地址登录失败次数过多。请一分钟内不再尝试，之后再试。",
    ),
    (
        "The dashboard holds as many sessions as it may. Try again when some have ended, or ask its admin to raise --max-sessions.",
        "gpuboard 的会话数已达上限。请待部分会话结束后再试，或请管理员调高 --max-sessions。",
    ),
    (
        "The dashboard's session store (Redis) cannot be reached, so no sign-in can be kept now. Try again in a moment: sessions made before resume once it is back.",
        "gpuboard 的会话存储（Redis）无法连接，暂时无法保持登录。请稍后再试：之前的会话会在其恢复后继续有效。",
    ),
    (
        "The cluster could not be reached to check the token. Try again; if it persists, check the dashboard's logs.",
        "无法连接集群以校验令牌。请重试；如仍失败，请查看 gpuboard 的日志。",
    ),
    (
        "The sign-in was not sent from this page. Reload the page and sign in again.",
        "登录请求并非来自本页面。请刷新页面后重新登录。",
    ),
    ("Sign-in failed.", "登录失败。"),
    (
        "You were signed out: the cluster no longer accepts your token (it expired or was revoked).",
        "您已被登出：集群不再接受您的令牌（已过期或被吊销）。",
    ),
    (
        "You were signed out: the cluster could not confirm your token for several minutes. Sign in again once it is reachable.",
        "您已被登出：集群已有数分钟无法确认您的令牌。请在集群恢复可达后重新登录。",
    ),
    (
        "You were signed out after a period without activity.",
        "长时间无操作，您已被登出。",
    ),
    (
        "You were signed out: sessions last at most the configured lifetime.",
        "您已被登出：会话已达到最长有效期。",
    ),
    ("You are signed out.", "您已退出登录。"),
    // Errors a page can show.
    (
        "Your session has ended: sign in again.",
        "会话已结束，请重新登录。",
    ),
    (
        "The cluster could not be reached: {detail}",
        "无法连接集群：{detail}",
    ),
    (
        "The cluster refused the request: {detail}",
        "集群拒绝了请求：{detail}",
    ),
    (
        "The dashboard could not answer: {detail}",
        "gpuboard 无法响应：{detail}",
    ),
    (
        "The request could not be read: {detail}",
        "无法读取该请求：{detail}",
    ),
    // Tables, filters and loading.
    ("Loading nodes…", "正在加载节点…"),
    ("Loading node…", "正在加载节点…"),
    ("Loading GPUs…", "正在加载 GPU…"),
    ("Loading…", "正在加载…"),
    ("Name", "名称"),
    ("Status", "状态"),
    ("Roles", "角色"),
    ("GPU model", "GPU 型号"),
    ("Internal IP", "内网 IP"),
    ("OS", "操作系统"),
    ("Kernel", "内核"),
    ("Runtime", "容器运行时"),
    ("Kubelet", "Kubelet"),
    ("Age", "存在时间"),
    ("Node", "节点"),
    ("Model", "型号"),
    ("UUID", "UUID"),
    ("Memory", "显存"),
    ("Util", "利用率"),
    ("Temp", "温度"),
    ("Power", "功耗"),
    ("Used by", "使用者"),
    ("Allocated", "已分配"),
    ("Busy", "繁忙"),
    ("Driver", "驱动"),
    ("Export CSV", "导出 CSV"),
    (
        "Filter by node, model, UUID or pod",
        "按节点、型号、UUID 或 Pod 筛选",
    ),
    (
        "Filter by name, OS, kernel or driver",
        "按名称、操作系统、内核或驱动筛选",
    ),
    ("Previous page", "上一页"),
    ("Next page", "下一页"),
    // Node states, as kubectl prints them.
    ("Ready", "就绪"),
    ("NotReady", "未就绪"),
    ("Ready,SchedulingDisabled", "就绪，已禁止调度"),
    ("<none>", "<无>"),
    // The nodes page.
    (
        "{ready}/{total} nodes Ready · {gpus} GPUs allocatable",
        "{ready}/{total} 个节点就绪 · 可分配 {gpus} 块 GPU",
    ),
    (
        "GPU nodes that differ from the rest: {nodes}",
        "与其他 GPU 节点不一致：{nodes}",
    ),
    ("{node} ({what})", "{node}（{what}）"),
    ("kernel", "内核"),
    ("driver", "驱动"),
    ("runtime", "容器运行时"),
    (", ", "、"),
    ("; ", "；"),
    ("Differs from most GPU nodes", "与多数 GPU 节点不一致"),
    (
        "The node's GPU exporter is not answering: its numbers are not counted.",
        "该节点的 GPU 采集器无响应，其数据不计入。",
    ),
    // The GPUs page.
    (
        "{total} GPUs · {in_use} in use · {average} average utilization",
        "共 {total} 块 GPU · {in_use} 块使用中 · 平均利用率 {average}",
    ),
    ("{n} pod(s) you may not see", "{n} 个您无权查看的 Pod"),
    ("idle", "空闲"),
    ("in use", "使用中"),
    ("stale", "数据过期"),
    ("({what})", "（{what}）"),
    // The node page.
    ("Pods", "Pod"),
    ("Namespace", "命名空间"),
    ("Conditions", "状况"),
    ("Taints", "污点"),
    ("Labels", "标签"),
    ("Type", "类型"),
    ("Reason", "原因"),
    ("Message", "消息"),
    (
        "{n} more pod(s) in namespaces you may not list.",
        "另有 {n} 个 Pod 位于您无权查看的命名空间。",
    ),
    ("No pods hold GPUs here.", "此节点上没有占用 GPU 的 Pod。"),
    ("{minutes} min", "{minutes} 分钟"),
    ("{hours} h", "{hours} 小时"),
    ("{days} d", "{days} 天"),
    // The charts' range.
    // "1 hour" and "1 day" are the join tokens' lifetimes' texts too (below).
    ("History", "历史"),
    ("1 week", "1 周"),
    (
        "Longer ranges need Prometheus (--prometheus-url) or a longer --telemetry-history.",
        "更长的范围需要 Prometheus（--prometheus-url）或更长的 --telemetry-history。",
    ),
    (
        "The charts show the history kept in memory: {reason}",
        "图表显示内存中保留的历史：{reason}",
    ),
    // Exporters that fail.
    (
        "the exporter did not answer within {ms} ms",
        "采集器在 {ms} 毫秒内未响应",
    ),
    (
        "cannot reach the exporter: {detail}",
        "无法连接采集器：{detail}",
    ),
    (
        "the exporter answered HTTP {status}",
        "采集器返回 HTTP {status}",
    ),
    (
        "the exporter's answer is not valid: {detail}",
        "采集器的响应无效：{detail}",
    ),
    (
        "the exporter answered for another node ({node})",
        "采集器返回的是另一个节点（{node}）的数据",
    ),
    (
        "asking Prometheus failed: {detail}",
        "查询 Prometheus 失败：{detail}",
    ),
    (
        "Prometheus has no current samples of this node's GPUs: is the node scraped, with its name in the node, Hostname or hostname label?",
        "Prometheus 中没有此节点 GPU 的当前样本：该节点是否被抓取，且其名称在 node、Hostname 或 hostname 标签中？",
    ),
    // The overview.
    ("Nodes Ready", "就绪节点"),
    ("GPU total", "GPU 总数"),
    ("Average utilization", "平均利用率"),
    (
        "{total} ({allocatable} allocatable)",
        "{total}（可分配 {allocatable}）",
    ),
    ("{busy} (≥ {threshold} %)", "{busy}（≥ {threshold} %）"),
    ("GPU heat map", "GPU 热力图"),
    (
        "Point at a cell for its GPU; click it to open the node.",
        "将鼠标移到格子上查看对应 GPU，点击打开所在节点。",
    ),
    (
        "pod(s) in namespaces you cannot list",
        "个 Pod 位于你无权查看的命名空间",
    ),
    ("{gpus} GPUs, {busy} busy", "{gpus} 块 GPU，{busy} 块繁忙"),
    (
        "Point at a cell for its node; click it to open the node.",
        "将鼠标移到格子上查看对应节点，点击打开该节点。",
    ),
    (
        "One cell per node: the cluster has more than {max} GPUs.",
        "每个格子代表一个节点：集群的 GPU 超过 {max} 块。",
    ),
    ("{node} is NotReady", "{node} 未就绪"),
    (
        "{node}: GPU {index} fails ({error}); it has no numbers, so it is not counted as busy or in the average",
        "{node}：GPU {index} 故障（{error}），没有数据，因此不计入繁忙数和平均利用率",
    ),
    ("failed", "故障"),
    (
        "The cluster's API server has not answered since {since} UTC ({ago} ago). Nodes, pods and jobs are shown as they were then; GPU numbers still come from the exporters. This goes away by itself when the API server answers again.",
        "集群的 API Server 自 {since} (UTC) 起（{ago} 前）没有响应。节点、Pod 和作业显示的是当时的状态；GPU 数据仍来自采集器。API Server 恢复响应后，此提示会自动消失。",
    ),
    (
        "Since {since} UTC ({ago} ago) the cluster refuses the dashboard's watch of {resource} (HTTP {code}): its account may lack list and watch on them (re-apply deploy/dashboard-rbac.yaml). They are shown as they were then.",
        "自 {since} (UTC) 起（{ago} 前），集群拒绝仪表盘监视 {resource}（HTTP {code}）：仪表盘的账号可能缺少对它们的 list 和 watch 权限（请重新应用 deploy/dashboard-rbac.yaml）。它们显示的是当时的状态。",
    ),
    (
        "Since {since} UTC ({ago} ago) the cluster does not accept the dashboard's own credentials for its watch of {resource} (HTTP 401): its service-account token or kubeconfig is no longer valid; restart the dashboard with valid ones. They are shown as they were then.",
        "自 {since} (UTC) 起（{ago} 前），集群不再接受仪表盘监视 {resource} 时所用的自身凭据（HTTP 401）：其服务账号令牌或 kubeconfig 已失效，请用有效的凭据重启仪表盘。它们显示的是当时的状态。",
    ),
    (
        "Since {since} UTC ({ago} ago) the cluster's API server fails the dashboard's watch of {resource} (HTTP {code}: overloaded or failing). They are shown as they were then; this goes away by itself when it answers again.",
        "自 {since} (UTC) 起（{ago} 前），集群的 API Server 对仪表盘监视 {resource} 的请求返回错误（HTTP {code}：过载或故障）。它们显示的是当时的状态；API Server 恢复正常后，此提示会自动消失。",
    ),
    (
        "Since {since} UTC ({ago} ago) the dashboard has been reading {resource} from the cluster anew (its watch expired); until it has, they are shown as they were then.",
        "自 {since} (UTC) 起（{ago} 前），仪表盘正在从集群重新读取 {resource}（其监视已过期）；读取完成前，它们显示的是当时的状态。",
    ),
    (
        "{node}: the GPU exporter stopped answering {ago} ago ({error}); values shown are from then",
        "{node}：GPU 采集器已 {ago} 未响应（{error}），显示的是当时的数据",
    ),
    (
        "{node}: the GPU exporter has never answered ({error})",
        "{node}：GPU 采集器从未响应（{error}）",
    ),
    (
        "Asking Prometheus for the GPU samples failed ({error}): GPU numbers are from its last answer, if any, and nodes it never answered for show none",
        "向 Prometheus 获取 GPU 样本失败（{error}）：GPU 数值来自其最后一次应答（如有），从未应答过的节点不显示数值",
    ),
    (
        "{node}: the scheduler sees {allocatable} allocatable nvidia.com/gpu but the exporter sees {seen} GPU(s): is the NVIDIA device plugin running?",
        "{node}：调度器可分配 {allocatable} 个 nvidia.com/gpu，但采集器看到 {seen} 块 GPU：NVIDIA device plugin 是否在运行？",
    ),
    ("No alerts.", "没有告警。"),
    // The GPU-node doctor.
    ("no Ready condition", "没有 Ready 状态条件"),
    ("none", "无"),
    ("schedulable", "可调度"),
    (
        "no nvidia-device-plugin pod on this node",
        "此节点上没有 nvidia-device-plugin Pod",
    ),
    (
        "nvidia.com/gpu {allocatable}; exporter sees {seen}",
        "nvidia.com/gpu 可分配 {allocatable}；采集器看到 {seen}",
    ),
    (
        "nvidia.com/gpu {allocatable}; the exporter has not reported",
        "nvidia.com/gpu 可分配 {allocatable}；采集器尚未上报",
    ),
    (
        "no gpuboard-exporter pod on this node",
        "此节点上没有 gpuboard-exporter Pod",
    ),
    (
        "no running dcgm-exporter pod on this node at --dcgm-exporter-port",
        "此节点上没有在 --dcgm-exporter-port 所指端口运行的 dcgm-exporter Pod",
    ),
    (
        "Prometheus has no series of this node",
        "Prometheus 中没有此节点的序列",
    ),
    ("{count} GPU(s)", "{count} 块 GPU"),
    (
        "kernel {kernel}, driver {driver}, {os}",
        "内核 {kernel}，驱动 {driver}，{os}",
    ),
    (
        "kubelet {kubelet}, control plane {cp}",
        "kubelet {kubelet}，控制平面 {cp}",
    ),
    (
        "kubelet {kubelet}; control plane version unknown",
        "kubelet {kubelet}；控制平面版本未知",
    ),
    ("no exporter data", "没有采集器数据"),
    (
        "no Lease in kube-node-lease",
        "kube-node-lease 中没有 Lease",
    ),
    (
        "heartbeat {seconds} s ahead of the API server",
        "心跳比 API 服务器快 {seconds} 秒",
    ),
    (
        "last heartbeat {seconds} s ago",
        "最近一次心跳在 {seconds} 秒前",
    ),
    ("in step", "一致"),
    ("Node Ready", "节点就绪"),
    (
        "No memory, disk or PID pressure",
        "没有内存、磁盘或 PID 压力",
    ),
    ("Schedulable (not cordoned)", "可调度（未被 cordon）"),
    (
        "NVIDIA device plugin running on the node",
        "节点上运行着 NVIDIA device plugin",
    ),
    (
        "Allocatable nvidia.com/gpu equals the GPUs the exporter sees",
        "可分配的 nvidia.com/gpu 与采集器看到的 GPU 数一致",
    ),
    ("GPU exporter answering", "GPU 采集器有响应"),
    (
        "Kernel, driver and OS like the other GPU nodes",
        "内核、驱动和操作系统与其他 GPU 节点一致",
    ),
    (
        "Container runtime like the other GPU nodes",
        "容器运行时与其他 GPU 节点一致",
    ),
    (
        "Kubelet version within the control plane's skew policy",
        "kubelet 版本符合控制平面的版本偏差策略",
    ),
    (
        "No taints that GPU pods do not tolerate",
        "没有 GPU Pod 无法容忍的污点",
    ),
    ("No Xid errors", "没有 Xid 错误"),
    ("Clock in step with the API server", "时钟与 API 服务器一致"),
    (
        "Check the kubelet on the node: systemctl status kubelet; journalctl -u kubelet. A node that never became Ready after joining often lacks its network plugin's pod or could not pull the pause image.",
        "检查节点上的 kubelet：systemctl status kubelet；journalctl -u kubelet。加入后一直未就绪的节点，常见原因是缺少网络插件的 Pod 或拉取不到 pause 镜像。",
    ),
    (
        "Free memory or disk on the node (images: docker system prune), or move work elsewhere.",
        "释放节点的内存或磁盘（镜像：docker system prune），或把任务迁到别处。",
    ),
    (
        "Run kubectl uncordon <node> when its maintenance is done.",
        "维护完成后运行 kubectl uncordon <node>。",
    ),
    (
        "Deploy the NVIDIA device plugin DaemonSet and check it tolerates the node's taints; on the node, nvidia must be the container runtime's default.",
        "部署 NVIDIA device plugin DaemonSet，并确认它能容忍节点的污点；节点上 nvidia 必须是容器运行时的默认运行时。",
    ),
    (
        "The device plugin registers the GPUs: restart its pod on the node; if it logs no NVML, make nvidia the default runtime and restart the container runtime.",
        "GPU 由 device plugin 注册：重启该节点上的插件 Pod；如果日志显示找不到 NVML，请把 nvidia 设为默认运行时并重启容器运行时。",
    ),
    (
        "Check the exporter pod on the node (gpuboard-exporter's or dcgm-exporter's, and its logs), that Prometheus scrapes it where Prometheus is the source, and that the node carries the label nvidia.com/gpu.present=true.",
        "检查该节点上的采集器 Pod（gpuboard-exporter 或 dcgm-exporter，及其日志）；以 Prometheus 为数据源时确认 Prometheus 在抓取它；并确认节点带有标签 nvidia.com/gpu.present=true。",
    ),
    (
        "Use the same kernel and driver on every GPU node: a node with another kernel failed to join and its network plugin failed.",
        "所有 GPU 节点请使用相同的内核和驱动：内核不同的节点曾无法加入，其网络插件也失败了。",
    ),
    (
        "Use the same container runtime and version on every GPU node, with nvidia as its default runtime.",
        "所有 GPU 节点请使用相同的容器运行时及版本，并以 nvidia 为默认运行时。",
    ),
    (
        "Upgrade the kubelet to the control plane's minor version (a kubelet may not be newer than the API server).",
        "把 kubelet 升级到控制平面的次版本（kubelet 不能比 API 服务器新）。",
    ),
    (
        "Remove the taint (kubectl taint node <node> key-) or add a matching toleration to GPU pods.",
        "删除该污点（kubectl taint node <node> key-），或为 GPU Pod 添加对应的容忍。",
    ),
    (
        "Xid 48, 63, 64, 74, 79, 94 and 95 mean the GPU or its link failed: drain the node, reset the GPU or reboot, and check nvidia-smi -q.",
        "Xid 48、63、64、74、79、94 和 95 表示 GPU 或其链路故障：排空节点，重置 GPU 或重启，并查看 nvidia-smi -q。",
    ),
    (
        "Synchronise the node's clock (chronyd). A clock out of step makes joins fail with x509 certificate errors and heartbeats look late.",
        "同步节点时钟（chronyd）。时钟不一致会使加入时出现 x509 证书错误，心跳也会显得延迟。",
    ),
    ("pass", "通过"),
    ("warn", "警告"),
    ("fail", "失败"),
    ("Doctor", "诊断"),
    ("Result", "结果"),
    ("Check", "检查项"),
    ("Seen", "所见"),
    ("What to do", "处理方法"),
    (
        "{node}: the doctor finds {checks} failing; its page says what to do",
        "{node}：诊断发现以下检查失败：{checks}；节点页面说明了处理方法",
    ),
    // Access: service accounts and their tokens.
    (
        "Your account may not mint tokens or replace token Secrets here.",
        "你的账号无权在此签发令牌或替换令牌 Secret。",
    ),
    ("Access", "访问权限"),
    ("Loading service accounts…", "正在加载服务账号…"),
    ("Namespace (empty: all)", "命名空间（留空：全部）"),
    ("Copy the token", "复制令牌"),
    (
        "A legacy token does not expire: it works until its Secret is deleted.",
        "旧式令牌不会过期：在其 Secret 被删除前一直有效。",
    ),
    ("The same with kubectl:", "用 kubectl 完成同样操作："),
    ("Give a teammate access", "为队友开通访问"),
    (
        "Your account may not create role bindings, so it cannot give access.",
        "你的账号无权创建角色绑定，因此不能开通访问。",
    ),
    ("Service account", "服务账号"),
    ("Role", "角色"),
    ("Token lifetime", "令牌有效期"),
    (
        "cluster-admin can do anything in the cluster, including reading every Secret. Give it only to people who run the cluster.",
        "cluster-admin 可以在集群中做任何事，包括读取所有 Secret。只授予负责运维集群的人。",
    ),
    ("Create the account and its token", "创建账号及其令牌"),
    ("Mint token", "签发令牌"),
    ("Regenerate", "重新生成"),
    ("Regenerate legacy token", "重新生成旧式令牌"),
    ("Lifetime of minted tokens", "签发令牌的有效期"),
    ("Legacy token Secrets", "旧式令牌 Secret"),
    (
        "The cluster shortened the lifetime: asked {asked}, granted {granted}.",
        "集群缩短了有效期：申请 {asked}，实际 {granted}。",
    ),
    (
        "{n} service accounts · {legacy} legacy token Secrets",
        "共 {n} 个服务账号 · {legacy} 个旧式令牌 Secret",
    ),
    (
        "A token for {account}, shown once: copy it now.",
        "{account} 的令牌只显示这一次：请立即复制。",
    ),
    ("last used {day}", "最近使用 {day}"),
    ("invalid since {day}", "自 {day} 起失效"),
    (
        "Replace the legacy token of {account}? Everything that uses the old token stops working.",
        "替换 {account} 的旧式令牌？所有使用旧令牌的地方都将失效。",
    ),
    ("10 minutes", "10 分钟"),
    ("1 day", "1 天"),
    ("1 year", "1 年"),
    (
        "view: read most objects in the namespace",
        "view：读取命名空间中的大多数对象",
    ),
    (
        "edit: read and change most objects in the namespace",
        "edit：读取并修改命名空间中的大多数对象",
    ),
    (
        "admin: everything in the namespace",
        "admin：命名空间中的一切",
    ),
    (
        "cluster-admin: everything in the cluster",
        "cluster-admin：整个集群中的一切",
    ),
    (
        "Must be between {min} and {max}",
        "必须介于 {min} 与 {max} 之间",
    ),
    (
        "Use lowercase letters, digits and '-', starting and ending with a letter or digit",
        "只能使用小写字母、数字和“-”，且以字母或数字开头和结尾",
    ),
    (
        "Use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
        "只能使用小写字母、数字、“-”和“.”，且以字母或数字开头和结尾",
    ),
    (
        "Choose view, edit, admin or cluster-admin",
        "请选择 view、edit、admin 或 cluster-admin",
    ),
    // Add nodes: join tokens and the GPU node guide.
    (
        "Your account may not list Secrets in kube-system, so the join tokens are not shown.",
        "你的账号无权列出 kube-system 中的 Secret，因此不显示加入令牌。",
    ),
    (
        "The cluster rejected the request as invalid: {detail}",
        "集群认为请求无效而拒绝：{detail}",
    ),
    (
        "Let bridged traffic through iptables and forward IPv4",
        "让桥接流量经过 iptables，并开启 IPv4 转发",
    ),
    (
        "Install kubelet, kubeadm and kubectl at the control plane's version, and start the kubelet",
        "安装与控制平面版本一致的 kubelet、kubeadm 和 kubectl，并启动 kubelet",
    ),
    (
        "From Kubernetes 1.24 the kubelet no longer talks to Docker itself: with Docker, install cri-dockerd and add --cri-socket unix:///var/run/cri-dockerd.sock to the join command.",
        "从 Kubernetes 1.24 起 kubelet 不再直接对接 Docker：使用 Docker 时请安装 cri-dockerd，并在加入命令中加上 --cri-socket unix:///var/run/cri-dockerd.sock。",
    ),
    ("<forever>", "<永久>"),
    ("<never>", "<永不>"),
    ("<invalid>", "<无效>"),
    ("Add nodes", "添加节点"),
    ("Loading join tokens…", "正在加载加入令牌…"),
    ("API server", "API 服务器"),
    ("CA certificate hash", "CA 证书哈希"),
    ("cluster-info could not be used:", "无法使用 cluster-info："),
    (
        "The API server's address and CA are unknown, so no join command can be made:",
        "API 服务器地址与 CA 未知，无法生成加入命令：",
    ),
    ("Token", "令牌"),
    ("Hide", "隐藏"),
    (
        "Run this on the new node, as root:",
        "在新节点上以 root 身份运行：",
    ),
    ("Copy the join command", "复制加入命令"),
    ("New join token", "新建加入令牌"),
    (
        "Your account may not create Secrets in kube-system, so it cannot create join tokens.",
        "你的账号无权在 kube-system 中创建 Secret，因此不能创建加入令牌。",
    ),
    ("Lifetime", "有效期"),
    ("1 hour", "1 小时"),
    ("24 hours (kubeadm's default)", "24 小时（kubeadm 默认）"),
    ("7 days", "7 天"),
    ("30 days", "30 天"),
    ("Never expires", "永不过期"),
    (
        "A token that never expires lets anyone who holds it join nodes until someone deletes it. Prefer a lifetime.",
        "永不过期的令牌在被删除之前，任何持有者都能用它加入节点。建议设置有效期。",
    ),
    ("Description", "描述"),
    ("Usages", "用途"),
    ("authentication", "认证"),
    ("signing", "签名"),
    ("Extra groups", "附加组"),
    (
        "Keep the kubeadm group: kubeadm's RBAC lets only it join nodes.",
        "请保留 kubeadm 组：kubeadm 的 RBAC 只允许该组加入节点。",
    ),
    ("Create token", "创建令牌"),
    ("Show secret", "显示密钥"),
    ("Revoke", "吊销"),
    ("Cancel", "取消"),
    ("Expires", "过期时间"),
    ("Signature", "签名状态"),
    ("Token ID", "令牌 ID"),
    ("TTL", "剩余时间"),
    ("valid", "有效"),
    ("expired", "已过期"),
    ("invalid", "无效"),
    ("signing pending", "等待签名"),
    ("signed", "已签名"),
    (
        "from kube-public/cluster-info",
        "来自 kube-public/cluster-info",
    ),
    (
        "from the dashboard's own kubeconfig",
        "来自仪表盘自身的 kubeconfig",
    ),
    (
        "Your account may not delete Secrets in kube-system.",
        "你的账号无权删除 kube-system 中的 Secret。",
    ),
    (
        "{n} join tokens · {valid} valid",
        "共 {n} 个加入令牌 · {valid} 个有效",
    ),
    (
        "Revoke {id}? Nodes can no longer join with it.",
        "吊销 {id}？之后无法再用它加入节点。",
    ),
    (
        "Extra groups need the authentication usage",
        "附加组需要令牌具有“认证”用途",
    ),
    (
        "Use {min} to {max} letters, digits, '-', '_' or '.' (a UUID will do)",
        "请使用 {min} 到 {max} 个字母、数字、'-'、'_' 或 '.'（UUID 即可）",
    ),
    (
        "A token ID is 6 characters of a-z and 0-9",
        "令牌 ID 由 6 个 a-z、0-9 字符组成",
    ),
    (
        "Your account may not do this: {detail}",
        "你的账号无权执行此操作：{detail}",
    ),
    ("Not found: {detail}", "未找到：{detail}"),
    (
        "Unknown token usages: {usages}; valid usages: signing, authentication",
        "未知的令牌用途：{usages}；可用用途：signing、authentication",
    ),
    (
        "Invalid bootstrap group {group}: it must match {pattern}",
        "无效的引导组 {group}：必须匹配 {pattern}",
    ),
    ("At most {max} characters", "最多 {max} 个字符"),
    ("At most {max} entries", "最多 {max} 项"),
    ("At most {max}", "最大为 {max}"),
    ("Preparing a GPU node", "准备 GPU 节点"),
    (
        "The lab guides this page follows cover CentOS 7 only; these are the same steps with Ubuntu's tools.",
        "本页依据的实验室指南只涵盖 CentOS 7；以下是用 Ubuntu 工具完成的相同步骤。",
    ),
    (
        "Install the NVIDIA driver (with the headers of the running kernel)",
        "安装 NVIDIA 驱动（及当前内核的头文件）",
    ),
    (
        "\"Unable to find the kernel source tree\" means kernel-devel does not match the running kernel. Use the same kernel on every node: a node with another kernel failed to join.",
        "出现 “Unable to find the kernel source tree” 说明 kernel-devel 与当前内核不一致。所有节点请使用相同内核：内核不同的节点曾无法加入。",
    ),
    (
        "Blacklist nouveau and rebuild the initramfs, then reboot",
        "屏蔽 nouveau 并重建 initramfs，然后重启",
    ),
    (
        "Install the NVIDIA container toolkit and make nvidia Docker's default runtime",
        "安装 NVIDIA 容器工具包，并把 nvidia 设为 Docker 的默认运行时",
    ),
    (
        "\"fork/exec /usr/bin/nvidia-container-runtime: no such file or directory\": install nvidia-container-runtime. Keep registry-mirrors in daemon.json if you had them.",
        "出现 “fork/exec /usr/bin/nvidia-container-runtime: no such file or directory”：请安装 nvidia-container-runtime。原有的 registry-mirrors 请保留在 daemon.json 中。",
    ),
    (
        "Use the systemd cgroup driver (kubeadm warns about cgroupfs)",
        "使用 systemd cgroup 驱动（kubeadm 会对 cgroupfs 发出警告）",
    ),
    ("Synchronise the clock", "同步时钟"),
    (
        "A clock that differs from the control plane's makes the join fail with x509 certificate errors, even with a new token.",
        "节点时钟与控制平面不一致会导致加入时出现 x509 证书错误，换新令牌也无济于事。",
    ),
    (
        "Turn swap off, and SELinux and the firewall as the cluster needs",
        "关闭 swap，并按集群要求处理 SELinux 与防火墙",
    ),
    ("Install the NVIDIA driver", "安装 NVIDIA 驱动"),
    (
        "Use the same kernel on every node: a node with another kernel failed to join.",
        "所有节点请使用相同内核：内核不同的节点曾无法加入。",
    ),
    (
        "Install the NVIDIA container toolkit and make nvidia the default runtime",
        "安装 NVIDIA 容器工具包，并把 nvidia 设为默认运行时",
    ),
    (
        "With Docker: --runtime=docker, then restart docker.",
        "使用 Docker 时：改用 --runtime=docker，然后重启 docker。",
    ),
    ("Use the systemd cgroup driver", "使用 systemd cgroup 驱动"),
    ("Turn swap off", "关闭 swap"),
    (
        "Run the join command above on the node, as root",
        "在节点上以 root 身份运行上面的加入命令",
    ),
    (
        "If the node stays NotReady pulling the pause image: pre-pull it, then kubeadm reset on the node, kubectl delete node on the control plane, and join again.",
        "如果节点因拉取 pause 镜像一直未就绪：先预先拉取该镜像，然后在节点上执行 kubeadm reset、在控制平面执行 kubectl delete node，再重新加入。",
    ),
    (
        "Deploy the NVIDIA device plugin (once per cluster), then check the node offers nvidia.com/gpu",
        "部署 NVIDIA device plugin（每个集群一次），然后确认节点提供 nvidia.com/gpu",
    ),
    (
        "Label the node so gpuboard's exporter runs there",
        "给节点加标签，使 gpuboard 采集器在其上运行",
    ),
];

/// The text in `lang`.
pub fn tr(lang: Lang, english: &'static str) -> &'static str {
    match lang {
        Lang::En => english,
        Lang::Zh => ZH
            .iter()
            .find(|(en, _)| *en == english)
            .map_or(english, |(_, zh)| zh),
    }
}

/// A text with values in `lang`: each `{name}` of the text is replaced by the value named so.
pub fn trf(lang: Lang, english: &'static str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut text = tr(lang, english).to_string();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    text
}

/// The language signal of the app.
pub fn use_lang() -> RwSignal<Lang> {
    use_context::<RwSignal<Lang>>().unwrap_or_else(|| RwSignal::new(Lang::En))
}

/// A reactive translated text for views: `{t("Nodes")}`.
pub fn t(english: &'static str) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let lang = use_lang();
    move || tr(lang.get(), english)
}

/// The language of the request being rendered (server) or of the page (browser).
pub fn initial_lang() -> Lang {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .map(|parts| {
                let header = |name: http::header::HeaderName| {
                    parts.headers.get(name).and_then(|v| v.to_str().ok())
                };
                Lang::from_headers(
                    header(http::header::COOKIE),
                    header(http::header::ACCEPT_LANGUAGE),
                )
            })
            .unwrap_or(Lang::En)
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .document_element()
            .and_then(|e| e.get_attribute("lang"))
            .and_then(|tag| Lang::from_tag(&tag))
            .unwrap_or(Lang::En)
    }
}

/// Switches the language now and remembers it for a year.
pub fn remember(lang: Lang) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(doc) = document().dyn_ref::<web_sys::HtmlDocument>() {
            let _ = doc.set_cookie(&format!(
                "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Strict",
                lang.tag()
            ));
        }
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("lang", lang.tag());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = lang;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_wins_then_accept_language_then_english() {
        assert_eq!(
            Lang::from_headers(Some("a=b; gpuboard_lang=zh-CN"), Some("en-US")),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_headers(Some("gpuboard_lang=en"), Some("zh-CN,zh;q=0.9")),
            Lang::En
        );
        assert_eq!(
            Lang::from_headers(None, Some("fr-FR,zh-CN;q=0.8,en;q=0.5")),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_headers(Some("gpuboard_lang=xx"), Some("de")),
            Lang::En
        );
        assert_eq!(Lang::from_headers(None, None), Lang::En);
    }

    #[test]
    fn texts_translate_and_unknown_ones_stay_english() {
        assert_eq!(tr(Lang::Zh, "Nodes"), "节点");
        assert_eq!(tr(Lang::En, "Nodes"), "Nodes");
        assert_eq!(tr(Lang::Zh, "no such text"), "no such text");
        assert_eq!(
            trf(Lang::Zh, "{n} pod(s) you may not see", &[("n", &3)]),
            "3 个您无权查看的 Pod"
        );
        assert_eq!(
            trf(Lang::En, "{node} is NotReady", &[("node", &"node-109")]),
            "node-109 is NotReady"
        );
    }

    /// Each `{name}` of a key, in order of first appearance.
    fn placeholders(text: &str) -> Vec<&str> {
        let mut names = Vec::new();
        for part in text.split('{').skip(1) {
            if let Some((name, _)) = part.split_once('}')
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        names.sort();
        names
    }

    #[test]
    fn the_table_has_no_repeated_or_empty_entries_and_keeps_every_value() {
        let mut seen = std::collections::HashSet::new();
        for (en, zh) in ZH {
            assert!(seen.insert(*en), "{en} twice");
            assert!(!zh.trim().is_empty(), "{en}");
            assert_eq!(placeholders(en), placeholders(zh), "{en} -> {zh}");
        }
    }

    /// The English keys the code passes to `t`, `tr` and `trf` as literals.
    fn keys_in(source: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let bytes = source.as_bytes();
        for call in ["t(", "tr(", "trf("] {
            let mut from = 0;
            while let Some(found) = source[from..].find(call) {
                let start = from + found;
                from = start + call.len();
                let before = start.checked_sub(1).map(|i| bytes[i]);
                if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
                    continue;
                }
                // The first string literal among the call's arguments, at its own nesting level.
                let mut depth = 1;
                let mut i = from;
                while i < bytes.len() && depth > 0 {
                    match bytes[i] {
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        b'"' if depth == 1 => {
                            let rest = &source[i + 1..];
                            let end = rest.find('"').unwrap_or(0);
                            keys.push(rest[..end].to_string());
                            break;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
        }
        keys
    }

    #[test]
    fn every_text_the_code_looks_up_has_a_chinese_entry() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![root.clone()];
        let mut missing = Vec::new();
        let mut found = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).expect("a source dir") {
                    files.push(entry.expect("an entry").path());
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("i18n.rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("a source file");
            for key in keys_in(&source) {
                found += 1;
                if !ZH.iter().any(|(en, _)| *en == key) {
                    missing.push(format!("{}: {key:?}", path.display()));
                }
            }
        }
        assert!(found > 50, "the scan found only {found} keys");
        assert!(
            missing.is_empty(),
            "no Chinese text for:\n{}",
            missing.join("\n")
        );
    }
}
