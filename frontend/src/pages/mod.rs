//! One module per route.

pub mod gpus;
pub mod login;
pub mod node;
pub mod nodes;
pub mod overview;

use leptos::prelude::*;

use crate::i18n::{tr, use_lang};

/// A table header cell that sorts by `key` when clicked (again: the other way round), with ▲ or ▼
/// on the current one. `descending_first`: a new key starts with the largest values (numbers).
pub fn sort_header<K>(
    label: &'static str,
    key: K,
    sort: RwSignal<(K, bool)>,
    descending_first: bool,
) -> impl IntoView
where
    K: Copy + PartialEq + Send + Sync + 'static,
{
    let lang = use_lang();
    let arrow = move || match sort.get() {
        (k, false) if k == key => " ▲",
        (k, true) if k == key => " ▼",
        _ => "",
    };
    let on_click = move |_| {
        sort.update(|(k, descending)| {
            if *k == key {
                *descending = !*descending;
            } else {
                *k = key;
                *descending = descending_first;
            }
        })
    };
    view! {
        <th class="sortable" on:click=on_click>{move || tr(lang.get(), label)}{arrow}</th>
    }
}
