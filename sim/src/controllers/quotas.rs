//! The ResourceQuota controller: writes each quota's `status.hard` and `status.used` (what the
//! namespace's active pods request of each key), which `kubectl describe quota` and the
//! dashboard's fit check read.

use serde_json::{Map, Value, json};

use crate::policy;
use crate::resources::by_kind;
use crate::store::{Store, meta_str};

pub fn run(store: &mut Store) {
    for q in store.list(by_kind("ResourceQuota"), None) {
        let hard = q["spec"]["hard"].as_object().cloned().unwrap_or_default();
        let used: Map<String, Value> = policy::used(store, meta_str(&q, "namespace"), &hard)
            .into_iter()
            .map(|(k, v)| (k, json!(policy::print(v))))
            .collect();
        let status = json!({"hard": hard, "used": used});
        if q["status"] != status {
            let mut updated = (*q).clone();
            updated["status"] = status;
            let _ = store.update(by_kind("ResourceQuota"), updated, None);
        }
    }
}
