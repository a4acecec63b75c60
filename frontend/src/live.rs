//! The push channel's browser end: one `EventSource` on `/events` per tab bumps a counter after
//! every telemetry cycle on the server; pages key their data on it and so refetch without reload.
//! Each tab bumps it at a random moment within `SPREAD` of the update, so the tabs of many users
//! do not all fetch in the same instant (the load benchmark found that burst most of the cost).
//! On the server (and before hydration) the counter stays 0, so both render alike.

use leptos::prelude::*;

/// How long after an update a tab may wait before fetching (uniformly at random).
#[cfg(feature = "hydrate")]
const SPREAD: std::time::Duration = std::time::Duration::from_millis(1000);

/// The counter pages key their resources on.
#[derive(Clone, Copy)]
pub struct Updates(pub RwSignal<u64>);

/// Makes the counter and, in the browser, opens the channel. Call once, in the app's root.
pub fn provide_updates() {
    let updates = RwSignal::new(0u64);
    provide_context(Updates(updates));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| connect(updates));
}

/// The counter (0 forever when there is no channel).
pub fn use_updates() -> RwSignal<u64> {
    use_context::<Updates>()
        .map(|u| u.0)
        .unwrap_or_else(|| RwSignal::new(0))
}

#[cfg(feature = "hydrate")]
fn connect(updates: RwSignal<u64>) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    // The sign-in page has no session, so no channel (signing in loads the next page anew).
    if window()
        .location()
        .pathname()
        .is_ok_and(|path| path == "/login")
    {
        return;
    }
    let Ok(source) = web_sys::EventSource::new("/events") else {
        return;
    };
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
            let wait = SPREAD.mul_f64(js_sys::Math::random());
            set_timeout(move || updates.update(|n| *n += 1), wait);
        });
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The channel lives as long as the page: the handler and the source are kept, not dropped.
    on_message.forget();
    std::mem::forget(source);
}
