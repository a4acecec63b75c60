//! A workload's logs on its page: pod and container pickers, tail length, the previous run,
//! timestamps, a search that filters the lines, download, and follow. Following is a real
//! stream: an `EventSource` on the JSON API's logs (`follow=true`), one event per line, closed
//! when the container ends, the box is unticked or the page goes.

use leptos::prelude::*;

use crate::api::get_workload_logs;
use crate::contract::workload_detail::{DEFAULT_TAIL_LINES, LogQuery, MAX_TAIL_LINES};
use crate::i18n::{t, trf, use_lang};
use crate::pages::ErrorView;

/// Tail lengths the picker offers.
const TAILS: [u32; 4] = [100, DEFAULT_TAIL_LINES, 2_000, MAX_TAIL_LINES];

/// What a followed stream is doing (only the browser follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Stream {
    Open,
    /// The container ended: no more lines will come.
    Ended,
    /// The connection failed or was refused.
    Broken,
}

/// The logs URL of the JSON API for `query` (the download, and the followed stream).
fn logs_url(namespace: &str, name: &str, query: &LogQuery) -> String {
    let mut url = format!(
        "/api/v1/namespaces/{namespace}/workloads/{name}/logs?tailLines={}&previous={}&timestamps={}&follow={}",
        query.tail_lines.unwrap_or(MAX_TAIL_LINES),
        query.previous,
        query.timestamps,
        query.follow
    );
    // Pod and container names are DNS labels (checked by the server): nothing to escape.
    if !query.pod.is_empty() {
        url.push_str(&format!("&pod={}", query.pod));
    }
    if !query.container.is_empty() {
        url.push_str(&format!("&container={}", query.container));
    }
    url
}

/// The lines that contain `search` (case-insensitively); all of them when it is empty.
fn matching(lines: &[String], search: &str) -> Vec<String> {
    let needle = search.trim().to_lowercase();
    if needle.is_empty() {
        return lines.to_vec();
    }
    lines
        .iter()
        .filter(|l| l.to_lowercase().contains(&needle))
        .cloned()
        .collect()
}

#[cfg(feature = "hydrate")]
mod follow {
    //! The browser's end of a followed stream.
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    use super::Stream;
    use crate::contract::workload_detail::MAX_TAIL_LINES;

    /// An open `EventSource` and its handlers; closed when dropped.
    pub struct Followed {
        source: web_sys::EventSource,
        _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    impl Drop for Followed {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    /// Opens `url`, appending each line to `lines` (the oldest go past the most kept).
    pub fn open(
        url: &str,
        lines: RwSignal<Vec<String>>,
        state: RwSignal<Option<Stream>>,
    ) -> Option<Followed> {
        let source = web_sys::EventSource::new(url).ok()?;
        state.set(Some(Stream::Open));
        let on_line = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(data) = event
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|m| m.data().as_string())
            else {
                return;
            };
            lines.update(|kept| {
                kept.extend(data.split('\n').map(String::from));
                let over = kept.len().saturating_sub(MAX_TAIL_LINES as usize);
                kept.drain(..over);
            });
        });
        let end_source = source.clone();
        let on_end = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            end_source.close();
            state.set(Some(Stream::Ended));
        });
        let error_source = source.clone();
        // A refused request or a dropped connection: stop, rather than reconnect and repeat the tail.
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            error_source.close();
            state.update(|s| {
                if *s != Some(Stream::Ended) {
                    *s = Some(Stream::Broken);
                }
            });
        });
        source.set_onmessage(Some(on_line.as_ref().unchecked_ref()));
        let _ = source.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref());
        let _ =
            source.add_event_listener_with_callback("failure", on_error.as_ref().unchecked_ref());
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Some(Followed {
            source,
            _handlers: vec![on_line, on_end, on_error],
        })
    }
}

/// The logs panel of a workload whose pods (newest first) and their containers are `pods`.
#[component]
pub fn LogsPanel(
    namespace: Memo<String>,
    name: Memo<String>,
    pods: RwSignal<Vec<(String, Vec<String>)>>,
) -> impl IntoView {
    let lang = use_lang();
    let pod = RwSignal::new(String::new());
    let container = RwSignal::new(String::new());
    let tail = RwSignal::new(DEFAULT_TAIL_LINES);
    let previous = RwSignal::new(false);
    let timestamps = RwSignal::new(false);
    let following = RwSignal::new(false);
    let search = RwSignal::new(String::new());
    let reload = RwSignal::new(0u64);
    let query = Memo::new(move |_| LogQuery {
        pod: pod.get(),
        container: container.get(),
        tail_lines: Some(tail.get()),
        previous: previous.get(),
        timestamps: timestamps.get(),
        follow: following.get(),
    });
    let read = Resource::new(
        move || (namespace.get(), name.get(), query.get(), reload.get()),
        |(ns, n, q, _)| async move {
            if q.follow {
                None
            } else {
                Some(get_workload_logs(ns, n, q).await)
            }
        },
    );
    let streamed = RwSignal::new(Vec::<String>::new());
    let stream = RwSignal::new(None::<Stream>);
    #[cfg(feature = "hydrate")]
    {
        let open = StoredValue::new_local(None::<follow::Followed>);
        Effect::new(move |_| {
            let q = query.get();
            let url = logs_url(&namespace.get(), &name.get(), &q);
            // Whatever was open goes first: a changed pod, container or tail opens a new stream.
            open.set_value(None);
            if q.follow {
                streamed.set(Vec::new());
                open.set_value(follow::open(&url, streamed, stream));
            } else {
                stream.set(None);
            }
        });
    }
    let containers = move || {
        let chosen = pod.get();
        pods.with(|pods| {
            pods.iter()
                .find(|(p, _)| chosen.is_empty() || *p == chosen)
                .map(|(_, cs)| cs.clone())
                .unwrap_or_default()
        })
    };
    // Read inside the <Transition/> below: the lines followed, else the lines read.
    let lines = move || {
        if following.get() {
            streamed.get()
        } else {
            read.get()
                .flatten()
                .and_then(|r| r.ok())
                .map(|l| l.lines)
                .unwrap_or_default()
        }
    };
    let download = move || {
        let q = LogQuery {
            follow: false,
            tail_lines: Some(MAX_TAIL_LINES),
            ..query.get()
        };
        logs_url(&namespace.get(), &name.get(), &q)
    };
    let file_name = move || format!("{}.log", name.get());
    let stream_note = move || {
        stream.get().map(|s| match s {
            Stream::Open => view! { <span class="ok" data-testid="stream-open">{t("following")}</span> }.into_any(),
            Stream::Ended => view! { <span data-testid="stream-ended">{t("the container ended")}</span> }.into_any(),
            Stream::Broken => view! { <span class="bad">{t("the stream stopped; untick and tick Follow to resume")}</span> }.into_any(),
        })
    };
    let count = move |total: usize, found: usize| {
        if search.with(|s| s.trim().is_empty()) {
            trf(lang.get(), "{n} line(s)", &[("n", &total)])
        } else {
            trf(
                lang.get(),
                "{found} of {n} line(s) match",
                &[("found", &found), ("n", &total)],
            )
        }
    };
    let shown = move || {
        let all = lines();
        let found = matching(&all, &search.get());
        view! {
            <p class="summary" data-testid="log-count">{count(all.len(), found.len())}</p>
            <pre class="logs" data-testid="logs">{found.join("\n")}</pre>
        }
    };
    view! {
        <section class="logs-panel">
            <h2>{t("Logs")}</h2>
            <div class="toolbar">
                <label>{t("Pod")}
                    <select data-testid="log-pod" prop:value=move || pod.get() on:change=move |ev| { pod.set(event_target_value(&ev)); container.set(String::new()); }>
                        <option value="">{t("Newest")}</option>
                        {move || pods.get().into_iter().map(|(p, _)| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>{t("Container")}
                    <select data-testid="log-container" prop:value=move || container.get() on:change=move |ev| container.set(event_target_value(&ev))>
                        {move || containers().into_iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>{t("Last")}
                    <select data-testid="log-tail" prop:value=move || tail.get().to_string()
                        on:change=move |ev| tail.set(event_target_value(&ev).parse().unwrap_or(DEFAULT_TAIL_LINES))>
                        {TAILS.iter().map(|n| view! { <option value=n.to_string()>{move || trf(lang.get(), "{n} line(s)", &[("n", n)])}</option> }).collect_view()}
                    </select>
                </label>
                <label><input type="checkbox" data-testid="log-previous" prop:checked=move || previous.get()
                    on:change=move |ev| { previous.set(event_target_checked(&ev)); if previous.get_untracked() { following.set(false); } }/>{t("Previous run")}</label>
                <label><input type="checkbox" data-testid="log-timestamps" prop:checked=move || timestamps.get()
                    on:change=move |ev| timestamps.set(event_target_checked(&ev))/>{t("Timestamps")}</label>
                <label><input type="checkbox" data-testid="log-follow" prop:checked=move || following.get() disabled=move || previous.get()
                    on:change=move |ev| following.set(event_target_checked(&ev))/>{t("Follow")}</label>
                {stream_note}
                <input type="search" data-testid="log-search" placeholder=move || crate::i18n::tr(lang.get(), "Search the lines")
                    prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
                <button type="button" data-testid="log-reload" disabled=move || following.get() on:click=move |_| reload.update(|n| *n += 1)>{t("Reload")}</button>
                <a class="button" data-testid="log-download" href=download download=file_name>{t("Download")}</a>
            </div>
            <Transition fallback=|| ()>
                {move || read.get().flatten().and_then(|r| r.err()).map(|error| view! { <ErrorView error/> })}
                {shown}
            </Transition>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_query_and_search_filters_lines() {
        let q = LogQuery {
            pod: "tf-abc".into(),
            tail_lines: Some(100),
            follow: true,
            ..Default::default()
        };
        assert_eq!(
            logs_url("ai", "tf", &q),
            "/api/v1/namespaces/ai/workloads/tf/logs?tailLines=100&previous=false&timestamps=false&follow=true&pod=tf-abc"
        );
        let lines = vec!["Epoch 1/10 - loss: 1.0".to_string(), "done".to_string()];
        assert_eq!(matching(&lines, "EPOCH"), vec![lines[0].clone()]);
        assert_eq!(matching(&lines, " "), lines);
    }
}
