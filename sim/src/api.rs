//! The sim's HTTP front: Kubernetes REST paths, authentication, RBAC, and the verbs (get, list,
//! watch, create, update, patch, delete, deletecollection) over the store, plus the special
//! endpoints (reviews, TokenRequest, pod logs). Errors go out as `metav1.Status`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Sim;
use super::admission::{self, FieldValidation};
use super::auth::{self, Attributes, TokenSubject, UserInfo};
use super::discovery;
use super::errors::{ApiError, FieldError};
use super::patch;
use super::protobuf;
use super::resources::{self, ResourceDef, Storage, by_kind};
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{StoreError, meta_str, resource_version};
use super::tables;

/// The API server accepts bodies up to 3 MiB.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

type Params = HashMap<String, String>;
type ApiResult = Result<Response, ApiError>;

/// The longest token TokenRequest grants (`--service-account-max-token-expiration=2160h`, 90 days).
pub const MAX_TOKEN_EXPIRATION_SECONDS: i64 = 90 * 86_400;

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(sim)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = {
        let mut store = sim.lock_store();
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        let user = sim.auth.authenticate_header(&store, header);
        if user.is_some()
            && let Some(token) = header.and_then(|h| h.strip_prefix("Bearer "))
        {
            sim.auth.note_legacy_use(&mut store, token.trim());
        }
        user
    };
    let Some(user) = user else {
        return ApiError::unauthorized().into_response();
    };
    let user = match impersonate(&sim, user, &headers) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let req = Request {
        sim: &sim,
        user,
        method,
        params,
        headers,
        body,
    };
    match req.route(uri.path()).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// `Impersonate-User` / `Impersonate-Group` (kubectl `--as`, `--as-group`), allowed by the
/// `impersonate` verb as on a real API server.
fn impersonate(sim: &Sim, user: UserInfo, headers: &HeaderMap) -> Result<UserInfo, ApiError> {
    let Some(target) = headers
        .get("Impersonate-User")
        .and_then(|h| h.to_str().ok())
    else {
        return Ok(user);
    };
    let groups: Vec<String> = headers
        .get_all("Impersonate-Group")
        .iter()
        .filter_map(|g| g.to_str().ok().map(String::from))
        .collect();
    let store = sim.lock_store();
    let (resource, namespace, name) = match target
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'))
    {
        Some((ns, sa)) => ("serviceaccounts", ns.to_string(), sa.to_string()),
        None => ("users", String::new(), target.to_string()),
    };
    let attrs = Attributes {
        verb: "impersonate".into(),
        resource: resource.into(),
        namespace,
        name,
        ..Default::default()
    };
    if !auth::authorize(&store, &user, &attrs) {
        return Err(ApiError::forbidden_message(format!(
            "{resource} {target:?} is forbidden: User {:?} cannot impersonate resource {resource:?} in API group \"\"",
            user.username
        )));
    }
    let mut all_groups = groups;
    if let Some(rest) = target.strip_prefix("system:serviceaccount:")
        && let Some((ns, _)) = rest.split_once(':')
    {
        all_groups.push("system:serviceaccounts".into());
        all_groups.push(format!("system:serviceaccounts:{ns}"));
    }
    all_groups.push("system:authenticated".into());
    Ok(UserInfo {
        username: target.to_string(),
        uid: String::new(),
        groups: all_groups,
    })
}

struct Request<'a> {
    sim: &'a Arc<Sim>,
    user: UserInfo,
    method: Method,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
}

/// A path that names a resource.
struct Target {
    def: &'static ResourceDef,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn json_response(code: StatusCode, v: &Value) -> Response {
    (code, Json(v)).into_response()
}

fn parse_target(group: &str, version: &str, segs: &[&str]) -> Option<Target> {
    let target = |plural: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        let def = resources::find(group, version, plural)?;
        if ns.is_some() && !def.namespaced {
            return None;
        }
        if let Some(s) = sub {
            def.subresource(s)?;
        }
        Some(Target {
            def,
            namespace: ns.map(String::from),
            name: name.map(String::from),
            sub: sub.map(String::from),
        })
    };
    match segs {
        ["namespaces", ns, plural, rest @ ..]
            if resources::find(group, version, plural).is_some_and(|d| d.namespaced) =>
        {
            match rest {
                [] => target(plural, Some(ns), None, None),
                [name] => target(plural, Some(ns), Some(name), None),
                [name, sub] => target(plural, Some(ns), Some(name), Some(sub)),
                _ => None,
            }
        }
        [plural] => target(plural, None, None, None),
        [plural, name] => target(plural, None, Some(name), None),
        [plural, name, sub] => target(plural, None, Some(name), Some(sub)),
        _ => None,
    }
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|s| s == "true" || s == "1")
}

impl Request<'_> {
    async fn route(self, path: &str) -> ApiResult {
        let segs: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        match segs.as_slice() {
            ["version"] => self.non_resource(path, || {
                Ok(json_response(StatusCode::OK, &discovery::version()))
            }),
            ["metrics"] => {
                let sim = self.sim.clone();
                self.non_resource(path, move || {
                    let text = sim.requests.render();
                    Ok(
                        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
                            .into_response(),
                    )
                })
            }
            ["healthz"] | ["livez"] | ["readyz"] => {
                self.non_resource(path, || Ok("ok".into_response()))
            }
            ["api"] => {
                let addr = self.sim.server_address.clone();
                self.non_resource(path, move || {
                    Ok(json_response(
                        StatusCode::OK,
                        &discovery::core_versions(&addr),
                    ))
                })
            }
            ["apis"] => self.non_resource(path, || {
                Ok(json_response(StatusCode::OK, &discovery::group_list()))
            }),
            ["apis", g] => {
                let g = g.to_string();
                self.non_resource(path, move || {
                    discovery::group(&g)
                        .map(|v| json_response(StatusCode::OK, &v))
                        .ok_or_else(ApiError::path_not_found)
                })
            }
            ["api", v] => {
                let v = v.to_string();
                self.non_resource(path, move || {
                    discovery::resource_list("", &v)
                        .map(|l| json_response(StatusCode::OK, &l))
                        .ok_or_else(ApiError::path_not_found)
                })
            }
            ["apis", g, v] => {
                let (g, v) = (g.to_string(), v.to_string());
                self.non_resource(path, move || {
                    discovery::resource_list(&g, &v)
                        .map(|l| json_response(StatusCode::OK, &l))
                        .ok_or_else(ApiError::path_not_found)
                })
            }
            ["openapi", "v3"] => self.non_resource(path, || {
                Ok(json_response(StatusCode::OK, &discovery::openapi_root()))
            }),
            ["openapi", "v3", rest @ ..] => {
                let gv = rest.join("/");
                self.non_resource(path, move || {
                    discovery::openapi_group_version(&gv)
                        .map(|d| json_response(StatusCode::OK, &d))
                        .ok_or_else(ApiError::path_not_found)
                })
            }
            ["api", v, rest @ ..] => {
                let t = parse_target("", v, rest).ok_or_else(ApiError::path_not_found)?;
                self.resource(t).await
            }
            ["apis", g, v, rest @ ..] => {
                let t = parse_target(g, v, rest).ok_or_else(ApiError::path_not_found)?;
                self.resource(t).await
            }
            _ => self.non_resource(path, || Err(ApiError::path_not_found())),
        }
    }

    fn deny(&self, attrs: &Attributes) -> ApiError {
        if self.user.is_anonymous() {
            ApiError::unauthorized()
        } else {
            ApiError::forbidden_message(auth::forbidden_message(&self.user, attrs))
        }
    }

    fn non_resource(&self, path: &str, answer: impl FnOnce() -> ApiResult) -> ApiResult {
        let attrs = Attributes {
            verb: self.method.as_str().to_lowercase(),
            path: Some(path.to_string()),
            ..Default::default()
        };
        if self.method != Method::GET {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({path})"
            )));
        }
        if !auth::authorize(&self.sim.lock_store(), &self.user, &attrs) {
            return Err(self.deny(&attrs));
        }
        answer()
    }

    fn verb(&self, t: &Target) -> Result<&'static str, ApiError> {
        let verb = match (&self.method, t.name.is_some()) {
            (&Method::GET, false) if truthy(self.params.get("watch")) => "watch",
            (&Method::GET, false) => "list",
            (&Method::GET, true) => "get",
            (&Method::POST, false) => "create",
            (&Method::POST, true) if t.sub.is_some() => "create",
            (&Method::PUT, true) => "update",
            (&Method::PATCH, true) => "patch",
            (&Method::DELETE, true) => "delete",
            (&Method::DELETE, false) => "deletecollection",
            _ => "",
        };
        let allowed = match &t.sub {
            Some(s) => t
                .def
                .subresource(s)
                .is_some_and(|sr| sr.verbs.contains(&verb)),
            None => t.def.verbs.contains(&verb),
        };
        if verb.is_empty() || !allowed {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        Ok(verb)
    }

    async fn resource(self, t: Target) -> ApiResult {
        let verb = self.verb(&t)?;
        self.sim.requests.record(
            verb,
            t.def.group,
            t.def.plural,
            t.sub.as_deref().unwrap_or_default(),
        );
        let mut namespace = t.namespace.clone().unwrap_or_default();
        if t.def.kind == "Namespace"
            && let Some(n) = &t.name
        {
            namespace = n.clone();
        }
        let attrs = Attributes {
            verb: verb.into(),
            api_group: t.def.group.into(),
            resource: t.def.plural.into(),
            subresource: t.sub.clone().unwrap_or_default(),
            namespace,
            name: t.name.clone().unwrap_or_default(),
            path: None,
        };
        if !auth::authorize(&self.sim.lock_store(), &self.user, &attrs) {
            return Err(self.deny(&attrs));
        }
        match (verb, t.sub.as_deref(), t.def.storage) {
            ("create", None, Storage::Review) => self.review(t.def),
            ("create", Some("token"), _) => self.token_request(&t),
            ("get", Some("log"), _) => self.logs(&t).await,
            ("get", _, _) => self.get(&t),
            ("list", _, _) => self.list(&t),
            ("watch", _, _) => self.watch(&t),
            ("create", None, _) => self.create(&t),
            ("update", _, _) => self.update(&t),
            ("patch", _, _) => self.patch(&t),
            ("delete", None, _) => self.delete(&t),
            ("deletecollection", None, _) => self.delete_collection(&t),
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            )),
        }
    }

    fn wants_table(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("as=Table"))
    }

    fn dry_run(&self) -> bool {
        self.params.get("dryRun").is_some_and(|d| d == "All")
    }

    fn field_validation(&self) -> FieldValidation {
        match self.params.get("fieldValidation").map(String::as_str) {
            Some("Strict") => FieldValidation::Strict,
            Some("Ignore") => FieldValidation::Ignore,
            _ => FieldValidation::Warn,
        }
    }

    fn body_json(&self) -> Result<Value, ApiError> {
        if self.is_protobuf() {
            return Err(ApiError::unsupported_media_type(protobuf::CONTENT_TYPE));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }

    fn is_protobuf(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.starts_with(protobuf::CONTENT_TYPE))
    }

    /// The body of a review, TokenRequest or DeleteOptions, which typed clients may send as
    /// protobuf.
    fn body_of_kind(&self, kind: &str) -> Result<Value, ApiError> {
        if self.is_protobuf() {
            protobuf::decode(kind, &self.body)
        } else {
            self.body_json()
        }
    }

    /// What a Table answer embeds of each object (`includeObject`, default Metadata).
    fn table_include(&self) -> &str {
        self.params
            .get("includeObject")
            .map(String::as_str)
            .unwrap_or("Metadata")
    }

    fn get(&self, t: &Target) -> ApiResult {
        let name = t.name.as_deref().unwrap_or_default();
        let store = self.sim.lock_store();
        let obj = store
            .get(t.def, t.namespace.as_deref().unwrap_or(""), name)
            .ok_or_else(|| ApiError::not_found(t.def, name))?;
        if self.wants_table() {
            let include = self.table_include();
            return Ok(json_response(
                StatusCode::OK,
                &tables::table(t.def, &[&obj], store.revision(), include, None),
            ));
        }
        Ok(json_response(StatusCode::OK, &obj))
    }

    fn selectors(&self, def: &ResourceDef) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels = LabelSelector::parse(
            self.params
                .get("labelSelector")
                .map(String::as_str)
                .unwrap_or(""),
        )
        .map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(
            self.params
                .get("fieldSelector")
                .map(String::as_str)
                .unwrap_or(""),
            def,
        )
        .map_err(ApiError::bad_request)?;
        Ok((labels, fields))
    }

    fn list(&self, t: &Target) -> ApiResult {
        let (labels, fields) = self.selectors(t.def)?;
        let store = self.sim.lock_store();
        let all = store.list(t.def, t.namespace.as_deref());
        let mut matching: Vec<&Value> = all
            .iter()
            .map(|o| o.as_ref())
            .filter(|o| labels.matches(o) && fields.matches(o))
            .collect();
        let start = match self.params.get("continue").filter(|c| !c.is_empty()) {
            Some(token) => decode_continue(token)?,
            None => String::new(),
        };
        if !start.is_empty() {
            matching.retain(|o| object_key(o) > start);
        }
        let limit: usize = self
            .params
            .get("limit")
            .and_then(|l| l.parse().ok())
            .filter(|l| *l > 0)
            .unwrap_or(usize::MAX);
        let mut continue_token = None;
        let mut remaining = None;
        if matching.len() > limit {
            remaining = Some(matching.len() - limit);
            matching.truncate(limit);
            continue_token = matching.last().map(|o| encode_continue(&object_key(o)));
        }
        let rv = store.revision();
        if self.wants_table() {
            let include = self.table_include();
            return Ok(json_response(
                StatusCode::OK,
                &tables::table(t.def, &matching, rv, include, continue_token),
            ));
        }
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if let Some(c) = continue_token {
            meta["continue"] = json!(c);
            meta["remainingItemCount"] = json!(remaining);
        }
        let list = json!({"kind": format!("{}List", t.def.kind), "apiVersion": t.def.api_version(), "metadata": meta, "items": matching});
        Ok(json_response(StatusCode::OK, &list))
    }

    fn watch(&self, t: &Target) -> ApiResult {
        let (labels, fields) = self.selectors(t.def)?;
        let def = t.def;
        let namespace = t.namespace.clone();
        let bookmarks = truthy(self.params.get("allowWatchBookmarks"));
        let bookmark_interval = self.sim.bookmark_interval;
        let initial_events = truthy(self.params.get("sendInitialEvents"));
        let timeout = self
            .params
            .get("timeoutSeconds")
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs);
        let requested = self
            .params
            .get("resourceVersion")
            .cloned()
            .unwrap_or_default();
        let in_scope = move |obj: &Value| {
            namespace
                .as_deref()
                .is_none_or(|ns| meta_str(obj, "namespace") == ns)
                && labels.matches(obj)
                && fields.matches(obj)
        };

        let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
        let as_table = self.wants_table();
        // `kubectl get -w` asks for each object as a one-row Table.
        let line = move |kind: &str, obj: &Value| {
            let object = if as_table && kind != "BOOKMARK" && kind != "ERROR" {
                tables::table(def, &[obj], resource_version(obj), "Metadata", None)
            } else {
                obj.clone()
            };
            Bytes::from(format!("{}\n", json!({"type": kind, "object": object})))
        };
        let store = self.sim.lock_store();
        let mut initial = Vec::new();
        let from = if requested.is_empty() || requested == "0" || initial_events {
            for obj in store.list(def, None) {
                if in_scope(&obj) {
                    initial.push(line("ADDED", &obj));
                }
            }
            store.revision()
        } else {
            requested.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion {requested:?}"))
            })?
        };
        let (backlog, mut receiver) = match store.watch_from(from) {
            Ok(x) => x,
            Err(StoreError::Gone { requested, oldest }) => {
                let status =
                    ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
                        .to_json();
                let body = format!("{}\n", json!({"type": "ERROR", "object": status}));
                return Ok(stream_response(body.into()));
            }
            Err(_) => return Err(ApiError::path_not_found()),
        };
        let current = store.revision();
        // Taken with the store held: an expiry after this watch's start is seen by it.
        let mut expiry = self.sim.watch_expiry();
        drop(store);
        if initial_events {
            let bm = json!({"kind": def.kind, "apiVersion": def.api_version(),
                "metadata": {"resourceVersion": current.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
            initial.push(line("BOOKMARK", &bm));
        }
        tokio::spawn(async move {
            let deadline = timeout.map(|d| tokio::time::Instant::now() + d);
            let mut last_rv = from;
            for l in initial {
                if tx.send(Ok(l)).await.is_err() {
                    return;
                }
            }
            let matches =
                |c: &super::store::Change| std::ptr::eq(c.resource, def) && in_scope(&c.object);
            for c in backlog.iter().filter(|c| matches(c)) {
                last_rv = c.revision;
                if tx
                    .send(Ok(line(c.event.as_str(), &c.object)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let mut tick = tokio::time::interval(bookmark_interval);
            tick.tick().await;
            loop {
                let sleep_until = deadline
                    .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
                tokio::select! {
                    change = receiver.recv() => match change {
                        Ok(c) if c.revision > last_rv && matches(&c) => {
                            last_rv = c.revision;
                            if tx.send(Ok(line(c.event.as_str(), &c.object))).await.is_err() { return; }
                        }
                        Ok(c) => { last_rv = last_rv.max(c.revision); }
                        // A watcher too slow to keep up is closed; the client resumes from its last version.
                        Err(_) => return,
                    },
                    _ = tick.tick(), if bookmarks => {
                        let bm = json!({"kind": def.kind, "apiVersion": def.api_version(), "metadata": {"resourceVersion": last_rv.to_string()}});
                        if tx.send(Ok(line("BOOKMARK", &bm))).await.is_err() { return; }
                    },
                    Ok(()) = expiry.changed() => {
                        let status = ApiError::gone(format!("too old resource version: {last_rv}")).to_json();
                        let _ = tx.send(Ok(line("ERROR", &status))).await;
                        return;
                    },
                    _ = tokio::time::sleep_until(sleep_until) => {
                        if deadline.is_some() { return; }
                    },
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(Body::from_stream(stream))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
    }

    /// Decodes the body, fixes namespace and name, and runs admission for a create.
    fn prepare_create(&self, t: &Target) -> Result<(Value, Vec<String>), ApiError> {
        let (mut obj, warnings) = admission::decode(
            t.def,
            self.body_of_kind(t.def.kind)?,
            self.field_validation(),
        )?;
        let path_ns = t.namespace.clone().unwrap_or_default();
        if t.def.namespaced {
            let body_ns = meta_str(&obj, "namespace").to_string();
            if !body_ns.is_empty() && body_ns != path_ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            obj["metadata"]["namespace"] = json!(path_ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        for field in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "managedFields",
        ] {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove(field);
            }
        }
        if meta_str(&obj, "name").is_empty() {
            let prefix = meta_str(&obj, "generateName").to_string();
            if !prefix.is_empty() {
                obj["metadata"]["name"] = json!(admission::generate_name(&prefix));
            }
        }
        admission::on_create(t.def, &mut obj)?;
        Ok((obj, warnings))
    }

    fn create(&self, t: &Target) -> ApiResult {
        let (mut obj, warnings) = self.prepare_create(t)?;
        let name = meta_str(&obj, "name").to_string();
        let ns = meta_str(&obj, "namespace").to_string();
        let mut store = self.sim.lock_store();
        if t.def.namespaced && !store.exists(by_kind("Namespace"), "", &ns) {
            return Err(ApiError::not_found(by_kind("Namespace"), &ns));
        }
        if t.def.kind == "Secret" && obj["type"] == "kubernetes.io/service-account-token" {
            self.fill_service_account_token(&store, &mut obj);
        }
        if store.exists(t.def, &ns, &name) {
            return Err(ApiError::already_exists(t.def, &name));
        }
        super::policy::admit(&store, t.def, &mut obj)?;
        let created = if self.dry_run() {
            if meta_str(&obj, "uid").is_empty() {
                obj["metadata"]["uid"] = json!(super::store::new_uid());
            }
            obj["metadata"]["creationTimestamp"] = json!(super::store::now_rfc3339());
            Arc::new(obj)
        } else {
            store
                .create(t.def, obj)
                .map_err(|_| ApiError::already_exists(t.def, &name))?
        };
        Ok(with_warnings(
            json_response(StatusCode::CREATED, &created),
            &warnings,
        ))
    }

    /// The token controller's work for a legacy service-account token Secret.
    fn fill_service_account_token(&self, store: &super::store::Store, secret: &mut Value) {
        let ns = meta_str(secret, "namespace").to_string();
        let sa_name = secret["metadata"]["annotations"]["kubernetes.io/service-account.name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let Some(sa) = store.get(by_kind("ServiceAccount"), &ns, &sa_name) else {
            return;
        };
        if meta_str(secret, "uid").is_empty() {
            secret["metadata"]["uid"] = json!(super::store::new_uid());
        }
        let (secret_name, secret_uid) = (
            meta_str(secret, "name").to_string(),
            meta_str(secret, "uid").to_string(),
        );
        let token = self.sim.auth.mint(
            &TokenSubject {
                namespace: &ns,
                name: &sa_name,
                uid: meta_str(&sa, "uid"),
                secret: Some((&secret_name, &secret_uid)),
            },
            vec![auth::ISSUER.into()],
            None,
        );
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] =
            json!(meta_str(&sa, "uid"));
        secret["data"] = json!({"token": b64(&token), "ca.crt": b64(&self.sim.ca.cert_pem), "namespace": b64(&ns)});
    }

    /// Writes `new` over the stored object, keeping what the (sub)resource may not change.
    fn write_update(
        &self,
        t: &Target,
        mut new: Value,
        expected_rv: Option<u64>,
        warnings: Vec<String>,
    ) -> ApiResult {
        let name = t.name.clone().unwrap_or_default();
        let ns = t.namespace.clone().unwrap_or_default();
        let mut store = self.sim.lock_store();
        let old = store
            .get(t.def, &ns, &name)
            .ok_or_else(|| ApiError::not_found(t.def, &name))?;
        if meta_str(&new, "name") != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(&new, "name")
            )));
        }
        if t.def.namespaced {
            new["metadata"]["namespace"] = json!(ns);
        }
        if t.sub.as_deref() == Some("status") {
            let status = new.get("status").cloned().unwrap_or(Value::Null);
            new = (*old).clone();
            new["status"] = status;
        } else if t.def.has_status() {
            new["status"] = old.get("status").cloned().unwrap_or(Value::Null);
            if new["status"].is_null()
                && let Some(m) = new.as_object_mut()
            {
                m.remove("status");
            }
        }
        admission::on_update(t.def, &mut new, &old)?;
        if self.dry_run() {
            return Ok(json_response(StatusCode::OK, &new));
        }
        let updated = store.update(t.def, new, expected_rv).map_err(|e| match e {
            StoreError::Conflict => ApiError::conflict(t.def, &name),
            _ => ApiError::not_found(t.def, &name),
        })?;
        Ok(with_warnings(
            json_response(StatusCode::OK, &updated),
            &warnings,
        ))
    }

    fn update(&self, t: &Target) -> ApiResult {
        let (obj, warnings) = admission::decode(
            t.def,
            self.body_of_kind(t.def.kind)?,
            self.field_validation(),
        )?;
        let rv = meta_str(&obj, "resourceVersion");
        let expected = if rv.is_empty() {
            None
        } else {
            Some(
                rv.parse()
                    .map_err(|_| ApiError::bad_request("invalid resourceVersion"))?,
            )
        };
        self.write_update(t, obj, expected, warnings)
    }

    fn patch(&self, t: &Target) -> ApiResult {
        let name = t.name.clone().unwrap_or_default();
        let current = self
            .sim
            .lock_store()
            .get(t.def, t.namespace.as_deref().unwrap_or(""), &name)
            .ok_or_else(|| ApiError::not_found(t.def, &name))?;
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .unwrap_or("");
        let patched = patch::apply(content_type, &current, &self.body)?;
        let (obj, warnings) = admission::decode(t.def, patched, self.field_validation())?;
        // A patch may pin a resourceVersion; otherwise it applies to what it was computed against.
        let pinned = meta_str(&obj, "resourceVersion").parse().ok();
        self.write_update(
            t,
            obj,
            pinned.or(Some(resource_version(&current))),
            warnings,
        )
    }

    fn delete(&self, t: &Target) -> ApiResult {
        let name = t.name.clone().unwrap_or_default();
        let ns = t.namespace.clone().unwrap_or_default();
        let options: Value = if self.body.is_empty() {
            json!({})
        } else {
            self.body_of_kind("DeleteOptions")?
        };
        let orphan = options["propagationPolicy"] == "Orphan"
            || options["orphanDependents"] == true
            || self
                .params
                .get("propagationPolicy")
                .is_some_and(|p| p == "Orphan");
        let mut store = self.sim.lock_store();
        if self.dry_run() {
            let obj = store
                .get(t.def, &ns, &name)
                .ok_or_else(|| ApiError::not_found(t.def, &name))?;
            return Ok(json_response(StatusCode::OK, &obj));
        }
        let deleted = store
            .delete(t.def, &ns, &name)
            .map_err(|_| ApiError::not_found(t.def, &name))?;
        match t.def.kind {
            "Namespace" => {
                for def in resources::RESOURCES
                    .iter()
                    .filter(|d| d.namespaced && d.storage == Storage::Stored)
                {
                    for obj in store.list(def, Some(&name)) {
                        let _ = store.delete(def, &name, meta_str(&obj, "name"));
                    }
                }
            }
            "Job" if orphan => {
                let uid = meta_str(&deleted, "uid").to_string();
                for pod in store.list(by_kind("Pod"), Some(&ns)) {
                    let owned = pod["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|o| o.iter().any(|r| r["uid"] == uid.as_str()));
                    if owned {
                        let mut p = (*pod).clone();
                        if let Some(m) = p["metadata"].as_object_mut() {
                            m.remove("ownerReferences");
                        }
                        let _ = store.update(by_kind("Pod"), p, None);
                    }
                }
            }
            // Other dependents (a Job's pods) go with the garbage collector, as in a cluster.
            _ => {}
        }
        Ok(json_response(StatusCode::OK, &deleted))
    }

    fn delete_collection(&self, t: &Target) -> ApiResult {
        let (labels, fields) = self.selectors(t.def)?;
        let mut store = self.sim.lock_store();
        let victims: Vec<Value> = store
            .list(t.def, t.namespace.as_deref())
            .into_iter()
            .filter(|o| labels.matches(o) && fields.matches(o))
            .map(|o| (*o).clone())
            .collect();
        if !self.dry_run() {
            for v in &victims {
                let _ = store.delete(t.def, meta_str(v, "namespace"), meta_str(v, "name"));
            }
        }
        let list = json!({"kind": format!("{}List", t.def.kind), "apiVersion": t.def.api_version(),
                          "metadata": {"resourceVersion": store.revision().to_string()}, "items": victims});
        Ok(json_response(StatusCode::OK, &list))
    }

    fn review(&self, def: &'static ResourceDef) -> ApiResult {
        let mut body = if self.body.is_empty() {
            json!({})
        } else {
            self.body_of_kind(def.kind)?
        };
        let store = self.sim.lock_store();
        let user_json =
            |u: &UserInfo| json!({"username": u.username, "uid": u.uid, "groups": u.groups});
        let status = match def.kind {
            "SelfSubjectReview" => json!({"userInfo": user_json(&self.user)}),
            "TokenReview" => {
                let token = body["spec"]["token"].as_str().unwrap_or("");
                match self.sim.auth.authenticate_token(&store, token) {
                    Some(u) => {
                        json!({"authenticated": true, "user": user_json(&u), "audiences": [auth::ISSUER]})
                    }
                    None => json!({"authenticated": false, "error": "invalid bearer token"}),
                }
            }
            "SelfSubjectAccessReview" => {
                let spec = &body["spec"];
                let attrs =
                    if let Some(na) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
                        Attributes {
                            verb: na["verb"].as_str().unwrap_or("").into(),
                            path: Some(na["path"].as_str().unwrap_or("").into()),
                            ..Default::default()
                        }
                    } else {
                        let ra = &spec["resourceAttributes"];
                        let s = |k: &str| ra[k].as_str().unwrap_or("").to_string();
                        Attributes {
                            verb: s("verb"),
                            api_group: s("group"),
                            resource: s("resource"),
                            subresource: s("subresource"),
                            namespace: s("namespace"),
                            name: s("name"),
                            path: None,
                        }
                    };
                if attrs.verb.is_empty() {
                    return Err(ApiError::invalid(
                        def,
                        "",
                        vec![FieldError::required("spec.resourceAttributes.verb", "")],
                    ));
                }
                let allowed = auth::authorize(&store, &self.user, &attrs);
                json!({"allowed": allowed, "reason": if allowed { "allowed by RBAC" } else { "" }})
            }
            "SelfSubjectRulesReview" => {
                let ns = body["spec"]["namespace"].as_str().unwrap_or("");
                let rules = auth::rules_for(&store, &self.user, ns);
                let (nonres, res): (Vec<Value>, Vec<Value>) = rules
                    .into_iter()
                    .partition(|r| r.get("nonResourceURLs").is_some());
                json!({"resourceRules": res, "nonResourceRules": nonres, "incomplete": false})
            }
            _ => return Err(ApiError::path_not_found()),
        };
        body["kind"] = json!(def.kind);
        body["apiVersion"] = json!(def.api_version());
        body["metadata"] = json!({"creationTimestamp": null});
        body["status"] = status;
        Ok(json_response(StatusCode::CREATED, &body))
    }

    fn token_request(&self, t: &Target) -> ApiResult {
        let name = t.name.clone().unwrap_or_default();
        let ns = t.namespace.clone().unwrap_or_default();
        let mut req = if self.body.is_empty() {
            json!({})
        } else {
            self.body_of_kind("TokenRequest")?
        };
        let seconds = req["spec"]["expirationSeconds"].as_i64().unwrap_or(3600);
        let def = by_kind("ServiceAccount");
        if seconds < 600 {
            return Err(ApiError::invalid(
                def,
                &name,
                vec![FieldError::invalid(
                    "spec.expirationSeconds",
                    &seconds.to_string(),
                    "may not specify a duration less than 10 minutes",
                )],
            ));
        }
        if seconds > 1 << 32 {
            return Err(ApiError::invalid(
                def,
                &name,
                vec![FieldError::invalid(
                    "spec.expirationSeconds",
                    &seconds.to_string(),
                    "may not specify a duration larger than 2^32 seconds",
                )],
            ));
        }
        let store = self.sim.lock_store();
        let sa = store
            .get(def, &ns, &name)
            .ok_or_else(|| ApiError::not_found(def, &name))?;
        let audiences: Vec<String> = req["spec"]["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .filter(|a: &Vec<String>| !a.is_empty())
            .unwrap_or_else(|| vec![auth::ISSUER.to_string()]);
        // As an API server started with --service-account-max-token-expiration: longer asks are shortened.
        let seconds = seconds.min(MAX_TOKEN_EXPIRATION_SECONDS);
        let expires = jiff::Timestamp::now().as_second() + seconds;
        let token = self.sim.auth.mint(
            &TokenSubject {
                namespace: &ns,
                name: &name,
                uid: meta_str(&sa, "uid"),
                secret: None,
            },
            audiences.clone(),
            Some(expires),
        );
        let exp = jiff::Timestamp::from_second(expires)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        req["kind"] = json!("TokenRequest");
        req["apiVersion"] = json!("authentication.k8s.io/v1");
        req["metadata"] = json!({"name": name, "namespace": ns, "creationTimestamp": null});
        req["spec"]["audiences"] = json!(audiences);
        req["spec"]["expirationSeconds"] = json!(seconds);
        req["status"] = json!({"token": token, "expirationTimestamp": exp});
        Ok(json_response(StatusCode::CREATED, &req))
    }

    async fn logs(&self, t: &Target) -> ApiResult {
        let name = t.name.clone().unwrap_or_default();
        let ns = t.namespace.clone().unwrap_or_default();
        let pod = self
            .sim
            .lock_store()
            .get(by_kind("Pod"), &ns, &name)
            .ok_or_else(|| ApiError::not_found(by_kind("Pod"), &name))?;
        let containers: Vec<String> = pod["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let container = match self.params.get("container").filter(|c| !c.is_empty()) {
            Some(c) if containers.contains(c) => c.clone(),
            Some(c) => {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            None if containers.len() == 1 => containers[0].clone(),
            None => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                )));
            }
        };
        let previous = truthy(self.params.get("previous"));
        let timestamps = truthy(self.params.get("timestamps"));
        let tail: Option<usize> = self.params.get("tailLines").and_then(|n| n.parse().ok());
        let follow = truthy(self.params.get("follow")) && !previous;
        let uid = meta_str(&pod, "uid").to_string();
        let (lines, running) = {
            let logs = self.sim.lock_logs();
            match logs.get(&(uid.clone(), container.clone())) {
                None => {
                    let reason = waiting_reason(&pod, &container)
                        .unwrap_or_else(|| "ContainerCreating".into());
                    return Err(ApiError::bad_request(format!(
                        "container {container:?} in pod {name:?} is waiting to start: {reason}"
                    )));
                }
                Some(l) if previous => match &l.previous {
                    Some(p) => (p.clone(), false),
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "previous terminated container {container:?} in pod {name:?} not found"
                        )));
                    }
                },
                Some(l) => (l.current.clone(), !l.ended),
            }
        };
        let render = move |(ts, line): &(String, String)| {
            if timestamps {
                format!("{ts} {line}\n")
            } else {
                format!("{line}\n")
            }
        };
        let skip = tail.map_or(0, |n| lines.len().saturating_sub(n));
        let text: String = lines[skip..].iter().map(render).collect();
        if !follow || !running {
            return Ok(([(header::CONTENT_TYPE, "text/plain")], text).into_response());
        }
        let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
        let sim = self.sim.clone();
        let mut sent = lines.len();
        tokio::spawn(async move {
            if tx.send(Ok(Bytes::from(text))).await.is_err() {
                return;
            }
            loop {
                let notified = sim.logs_changed.notified();
                let (more, ended) = {
                    let logs = sim.lock_logs();
                    match logs.get(&(uid.clone(), container.clone())) {
                        Some(l) if l.current.len() >= sent => (l.current[sent..].to_vec(), l.ended),
                        _ => (Vec::new(), true),
                    }
                };
                sent += more.len();
                let chunk: String = more.iter().map(render).collect();
                if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                    return;
                }
                if ended {
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from_stream(stream))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
    }
}

fn waiting_reason(pod: &Value, container: &str) -> Option<String> {
    pod["status"]["containerStatuses"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == container)?["state"]["waiting"]["reason"]
        .as_str()
        .map(String::from)
}

fn object_key(o: &Value) -> String {
    format!("{}/{}", meta_str(o, "namespace"), meta_str(o, "name"))
}

fn encode_continue(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"v": "meta.k8s.io/v1", "start": key}).to_string())
}

fn decode_continue(token: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    v["start"].as_str().map(String::from).ok_or_else(bad)
}

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - {w:?}")) {
            r.headers_mut().append("Warning", v);
        }
    }
    r
}

fn stream_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
