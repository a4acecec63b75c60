//! The JSON API's OpenAPI document (`/api/v1/openapi.json`): served to a signed-in caller only,
//! it describes every operation the API serves, each with its answers and refusals, and every
//! schema it refers to is in it. (schemathesis fuzzes the API from it: `scripts/api-fuzz.sh`.)

use std::collections::BTreeSet;

use gpuboard::DashboardSettings;
use gpuboard_testkit::http::request;
use serde_json::Value;

use super::{api, json_of, start_dashboard, start_sim};

/// Every `$ref` in `value`.
fn refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.insert(target.clone());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_api_publishes_a_whole_openapi_document_of_itself() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;

    let anonymous = request(addr, "GET", "/api/v1/openapi.json", &[], "").await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert_eq!(json_of(&anonymous)["reason"], "Unauthorized");

    let reply = api(addr, &sim.admin_token, "GET", "/api/v1/openapi.json", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/json")
    );
    let document = json_of(&reply);
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document,
        serde_json::to_value(gpuboard::api::document()).expect("the document as JSON"),
        "the served document is the one made with the routes"
    );

    // Each operation the API serves, with a 2xx answer and the refusals it may give.
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            operations.insert(format!("{} {path}", method.to_uppercase()));
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} documents its answer: {responses:?}"
            );
            for refusal in ["400", "401", "403", "404", "422", "503"] {
                assert!(
                    responses.contains_key(refusal),
                    "{method} {path} documents {refusal}"
                );
            }
        }
    }
    for expected in [
        "GET /api/v1/join-tokens",
        "POST /api/v1/join-tokens",
        "GET /api/v1/join-tokens/{id}",
        "DELETE /api/v1/join-tokens/{id}",
        "GET /api/v1/serviceaccounts",
        "POST /api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        "POST /api/v1/namespaces/{namespace}/serviceaccounts/{name}/legacy-token",
        "POST /api/v1/access",
        "GET /api/v1/nodes/{name}/doctor",
        "GET /api/v1/workloads",
        "POST /api/v1/workloads",
        "POST /api/v1/workloads/fit",
        "GET /api/v1/namespaces/{namespace}/workloads/{name}",
        "DELETE /api/v1/namespaces/{namespace}/workloads/{name}",
        "GET /api/v1/namespaces/{namespace}/workloads/{name}/logs",
        "GET /api/v1/openapi.json",
    ] {
        assert!(operations.remove(expected), "{expected} is documented");
    }
    assert!(
        operations.is_empty(),
        "documented but not expected here: {operations:?}"
    );

    // Every schema referred to is in the document.
    let mut targets = BTreeSet::new();
    refs(&document, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} points into the schemas"));
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{target} is in the document"
        );
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
