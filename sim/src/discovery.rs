//! Discovery (`/version`, `/api`, `/apis`, resource lists) and the OpenAPI v3 index kubectl reads to
//! learn that the server validates fields itself. All derived from the resource table.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};
use serde_json::{Value, json};

use super::resources::{RESOURCES, ResourceDef, group_versions};

pub const KUBE_VERSION: &str = "v1.34.1";

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "34", "gitVersion": KUBE_VERSION,
        "gitCommit": "93248f9ae092f571eb870b7664c534bfc7d00f03", "gitTreeState": "clean",
        "buildDate": "2025-09-09T19:43:15Z", "goVersion": "go1.24.6", "compiler": "gc",
        "platform": "linux/amd64", "emulationMajor": "1", "emulationMinor": "34",
        "minCompatibilityMajor": "1", "minCompatibilityMinor": "33"
    })
}

fn with_kind<T: serde::Serialize>(v: T, kind: &str, api_version: &str) -> Value {
    let mut v = serde_json::to_value(v).unwrap_or_default();
    v["kind"] = json!(kind);
    v["apiVersion"] = json!(api_version);
    v
}

pub fn core_versions(server_address: &str) -> Value {
    with_kind(
        APIVersions {
            server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
                client_cidr: "0.0.0.0/0".into(),
                server_address: server_address.into(),
            }],
            versions: vec!["v1".into()],
        },
        "APIVersions",
        "v1",
    )
}

fn api_group(group: &str) -> APIGroup {
    let versions: Vec<GroupVersionForDiscovery> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| GroupVersionForDiscovery {
            group_version: format!("{g}/{v}"),
            version: v.into(),
        })
        .collect();
    APIGroup {
        name: group.into(),
        preferred_version: versions.first().cloned(),
        server_address_by_client_cidrs: None,
        versions,
    }
}

pub fn group_list() -> Value {
    let mut groups: Vec<APIGroup> = Vec::new();
    for (g, _) in group_versions() {
        if !g.is_empty() && !groups.iter().any(|x| x.name == g) {
            groups.push(api_group(g));
        }
    }
    with_kind(APIGroupList { groups }, "APIGroupList", "v1")
}

pub fn group(name: &str) -> Option<Value> {
    if name.is_empty() || !group_versions().iter().any(|(g, _)| *g == name) {
        return None;
    }
    Some(with_kind(api_group(name), "APIGroup", "v1"))
}

fn api_resource(r: &ResourceDef) -> APIResource {
    APIResource {
        categories: (!r.categories.is_empty())
            .then(|| r.categories.iter().map(|s| s.to_string()).collect()),
        group: None,
        kind: r.kind.into(),
        name: r.plural.into(),
        namespaced: r.namespaced,
        short_names: (!r.short_names.is_empty())
            .then(|| r.short_names.iter().map(|s| s.to_string()).collect()),
        singular_name: r.singular.into(),
        storage_version_hash: None,
        verbs: r.verbs.iter().map(|s| s.to_string()).collect(),
        version: None,
    }
}

pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let defs: Vec<&ResourceDef> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in &defs {
        resources.push(api_resource(r));
        for sub in r.subresources {
            resources.push(APIResource {
                kind: if sub.kind.is_empty() {
                    r.kind.into()
                } else {
                    sub.kind.into()
                },
                name: format!("{}/{}", r.plural, sub.name),
                namespaced: r.namespaced,
                singular_name: String::new(),
                verbs: sub.verbs.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            });
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(with_kind(
        APIResourceList {
            group_version: gv,
            resources,
        },
        "APIResourceList",
        "v1",
    ))
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group/version's document is.
pub fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    for (g, v) in group_versions() {
        let p = gv_path(g, v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=gpuboard-sim")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<gv>`: the operations per kind, enough for kubectl to see `fieldValidation` is supported.
pub fn openapi_group_version(path: &str) -> Option<Value> {
    let (g, v) = group_versions()
        .into_iter()
        .find(|(g, v)| gv_path(g, v) == path)?;
    let mut paths = serde_json::Map::new();
    for r in RESOURCES.iter().filter(|r| r.group == g && r.version == v) {
        let prefix = if g.is_empty() {
            format!("/api/{v}")
        } else {
            format!("/apis/{g}/{v}")
        };
        let item = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": g, "version": v, "kind": r.kind});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
        ]);
        let op = |verb: &str| {
            json!({"operationId": format!("{verb}{}", r.kind), "x-kubernetes-action": verb,
                   "x-kubernetes-group-version-kind": gvk, "parameters": params,
                   "responses": {"200": {"description": "OK"}}})
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (gpuboard sim)", "version": KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}
