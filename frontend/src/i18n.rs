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
        "Too many sign-in attempts from this address. Wait a minute and try again.",
        "此地址登录尝试过多，请一分钟后再试。",
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
    ("{node} is NotReady", "{node} 未就绪"),
    (
        "{node}: the GPU exporter stopped answering {ago} ago ({error}); values shown are from then",
        "{node}：GPU 采集器已 {ago} 未响应（{error}），显示的是当时的数据",
    ),
    (
        "{node}: the GPU exporter has never answered ({error})",
        "{node}：GPU 采集器从未响应（{error}）",
    ),
    (
        "{node}: the scheduler sees {allocatable} allocatable nvidia.com/gpu but the exporter sees {seen} GPU(s): is the NVIDIA device plugin running?",
        "{node}：调度器可分配 {allocatable} 个 nvidia.com/gpu，但采集器看到 {seen} 块 GPU：NVIDIA device plugin 是否在运行？",
    ),
    ("No alerts.", "没有告警。"),
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
