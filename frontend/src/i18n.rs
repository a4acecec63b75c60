//! English and Simplified Chinese. Texts are written in English in the code and looked up here
//! (gettext-style: the English text is the key); a text without a translation shows in English.
//! The language comes from the `gpuboard_lang` cookie, else the browser's Accept-Language; the
//! server writes it into `<html lang>` and the browser reads it from there, so both render alike.
//! The switch sets the cookie, so the choice is remembered.

use leptos::prelude::*;

pub const COOKIE: &str = "gpuboard_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

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
const ZH: &[(&str, &str)] = &[
    ("Overview", "概览"),
    ("Nodes", "节点"),
    ("GPUs", "GPU"),
    ("Sign out", "退出登录"),
    ("Sign in", "登录"),
    ("Bearer token", "Bearer 令牌"),
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
    ("Loading nodes…", "正在加载节点…"),
    ("Loading GPUs…", "正在加载 GPU…"),
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
    ("Memory", "显存"),
    ("Util", "利用率"),
    ("Temp", "温度"),
    ("Power", "功耗"),
    ("Used by", "使用者"),
    (
        "Filter by node, model, UUID or pod",
        "按节点、型号、UUID 或 Pod 筛选",
    ),
    ("Export CSV", "导出 CSV"),
    ("Allocated", "已分配"),
    ("Busy", "繁忙"),
    ("Driver", "驱动"),
    (
        "Filter by name, OS, kernel or driver",
        "按名称、操作系统、内核或驱动筛选",
    ),
    ("idle", "空闲"),
    ("in use", "使用中"),
    ("stale", "数据过期"),
    ("Page not found.", "页面不存在。"),
    (
        "pod(s) in namespaces you cannot list",
        "个 Pod 位于你无权查看的命名空间",
    ),
    ("GPU heat map", "GPU 热力图"),
    ("allocatable", "可分配"),
    (
        "Point at a cell for its GPU; click it to open the node.",
        "将鼠标移到格子上查看对应 GPU，点击打开所在节点。",
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
    }

    #[test]
    fn the_table_has_no_repeated_or_empty_entries() {
        let mut seen = std::collections::HashSet::new();
        for (en, zh) in ZH {
            assert!(seen.insert(*en), "{en} twice");
            assert!(
                !zh.trim().is_empty() && zh != en || *en == "Kubelet",
                "{en}"
            );
        }
    }
}
