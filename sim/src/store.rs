//! The sim's object store: every object as JSON keyed by resource, namespace and name, one global
//! resourceVersion counter (as etcd's revision), and a bounded event history that watches resume from.
//! It assigns `uid`, `creationTimestamp` and `resourceVersion`; it knows nothing of HTTP or RBAC.
//! Secondary indexes ([`Indexer`]) let controllers find an object's events or a controller's pods
//! without scanning every object, as client-go's indexers do.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::resources::ResourceDef;

/// What happened to an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, with the revision it was made at.
#[derive(Debug)]
pub struct Change {
    pub revision: u64,
    pub resource: &'static ResourceDef,
    pub event: EventType,
    pub object: Arc<Value>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("the object has been modified")]
    Conflict,
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
}

type Key = (String, String);

/// A secondary index: the objects of one resource grouped by a key read from each (an event's
/// involved object's uid, a pod's controller's uid). Declared as a `static`; one is told apart
/// from another by its address.
pub struct Indexer {
    /// The resource's plural (`events`, `pods`).
    pub plural: &'static str,
    /// The key an object is filed under; `None` leaves it out of the index.
    pub key_of: fn(&Value) -> Option<String>,
}

/// An index's entries: key to the objects filed under it.
struct Index {
    indexer: &'static Indexer,
    entries: HashMap<String, BTreeSet<Key>>,
}

impl Index {
    fn file(&mut self, key: &Key, obj: &Value) {
        if let Some(k) = (self.indexer.key_of)(obj) {
            self.entries.entry(k).or_default().insert(key.clone());
        }
    }

    fn unfile(&mut self, key: &Key, obj: &Value) {
        if let Some(k) = (self.indexer.key_of)(obj)
            && let Some(set) = self.entries.get_mut(&k)
        {
            set.remove(key);
            if set.is_empty() {
                self.entries.remove(&k);
            }
        }
    }
}

/// Where a watch receives the changes made after it started.
pub type ChangeReceiver = broadcast::Receiver<Arc<Change>>;

/// All objects and the change history.
pub struct Store {
    objects: HashMap<&'static str, BTreeMap<Key, Arc<Value>>>,
    revision: u64,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Every change after this revision is still in `history`.
    compacted_to: u64,
    changes: broadcast::Sender<Arc<Change>>,
    indexes: Vec<Index>,
}

fn resource_key(def: &ResourceDef) -> &'static str {
    // `plural` is unique across the groups the sim serves.
    def.plural
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn resource_version(obj: &Value) -> u64 {
    meta_str(obj, "resourceVersion").parse().unwrap_or(0)
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub fn new_uid() -> String {
    use rand::Rng;
    let b: [u8; 16] = rand::rng().random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (changes, _) = broadcast::channel(4096);
        Store {
            objects: HashMap::new(),
            revision: 1,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted_to: 1,
            changes,
            indexes: Vec::new(),
        }
    }

    /// Keeps `indexer` up to date from now on, filing the objects already stored.
    /// Panics when `indexer` names no resource the sim serves (a typo would leave it empty).
    pub fn add_index(&mut self, indexer: &'static Indexer) {
        assert!(
            crate::resources::RESOURCES
                .iter()
                .any(|d| d.plural == indexer.plural),
            "an index over {:?}, which the sim does not serve",
            indexer.plural
        );
        if self.index_of(indexer).is_some() {
            return;
        }
        let mut index = Index {
            indexer,
            entries: HashMap::new(),
        };
        for (key, obj) in self.objects.get(indexer.plural).into_iter().flatten() {
            index.file(key, obj);
        }
        self.indexes.push(index);
    }

    fn index_of(&self, indexer: &'static Indexer) -> Option<&Index> {
        self.indexes
            .iter()
            .find(|i| std::ptr::eq(i.indexer, indexer))
    }

    /// The objects `indexer` files under `key`, sorted by namespace and name. Without the index
    /// (a store that never added it) this scans the resource, with the same answer.
    pub fn list_indexed(&self, indexer: &'static Indexer, key: &str) -> Vec<Arc<Value>> {
        let Some(map) = self.objects.get(indexer.plural) else {
            return Vec::new();
        };
        match self.index_of(indexer) {
            Some(index) => index
                .entries
                .get(key)
                .into_iter()
                .flatten()
                .filter_map(|k| map.get(k).cloned())
                .collect(),
            None => map
                .values()
                .filter(|o| (indexer.key_of)(o).as_deref() == Some(key))
                .cloned()
                .collect(),
        }
    }

    /// Every key `indexer` files some object under.
    pub fn indexed_keys(&self, indexer: &'static Indexer) -> BTreeSet<String> {
        match self.index_of(indexer) {
            Some(index) => index.entries.keys().cloned().collect(),
            None => self
                .objects
                .get(indexer.plural)
                .into_iter()
                .flatten()
                .filter_map(|(_, o)| (indexer.key_of)(o))
                .collect(),
        }
    }

    /// Files `new` (and unfiles `old`) under `key` in every index of `plural`.
    fn reindex(&mut self, plural: &str, key: &Key, old: Option<&Value>, new: Option<&Value>) {
        for index in self
            .indexes
            .iter_mut()
            .filter(|i| i.indexer.plural == plural)
        {
            if let Some(old) = old {
                index.unfile(key, old);
            }
            if let Some(new) = new {
                index.file(key, new);
            }
        }
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn get(&self, def: &ResourceDef, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(resource_key(def))?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Objects of a resource in one namespace, or in all when `namespace` is None; sorted by namespace and name.
    pub fn list(&self, def: &ResourceDef, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let Some(map) = self.objects.get(resource_key(def)) else {
            return Vec::new();
        };
        match namespace {
            None => map.values().cloned().collect(),
            Some(ns) => map
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }

    pub fn exists(&self, def: &ResourceDef, namespace: &str, name: &str) -> bool {
        self.objects
            .get(resource_key(def))
            .is_some_and(|m| m.contains_key(&(namespace.to_string(), name.to_string())))
    }

    /// Stores a new object; fills uid, creationTimestamp and resourceVersion.
    pub fn create(
        &mut self,
        def: &'static ResourceDef,
        mut obj: Value,
    ) -> Result<Arc<Value>, StoreError> {
        let key = (
            meta_str(&obj, "namespace").to_string(),
            meta_str(&obj, "name").to_string(),
        );
        let map = self.objects.entry(resource_key(def)).or_default();
        if map.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        self.revision += 1;
        let meta = ensure_metadata(&mut obj);
        if meta
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            meta["uid"] = json!(new_uid());
        }
        meta["creationTimestamp"] = json!(now_rfc3339());
        meta["resourceVersion"] = json!(self.revision.to_string());
        let obj = Arc::new(obj);
        map.insert(key.clone(), obj.clone());
        self.reindex(resource_key(def), &key, None, Some(&obj));
        self.record(def, EventType::Added, obj.clone());
        Ok(obj)
    }

    /// Replaces an object. With `expected_revision`, fails with Conflict when the stored one differs.
    pub fn update(
        &mut self,
        def: &'static ResourceDef,
        mut obj: Value,
        expected_revision: Option<u64>,
    ) -> Result<Arc<Value>, StoreError> {
        let key = (
            meta_str(&obj, "namespace").to_string(),
            meta_str(&obj, "name").to_string(),
        );
        let map = self.objects.entry(resource_key(def)).or_default();
        let Some(current) = map.get(&key) else {
            return Err(StoreError::NotFound);
        };
        if let Some(expected) = expected_revision
            && expected != resource_version(current)
        {
            return Err(StoreError::Conflict);
        }
        if **current == obj_with_rv(&obj, resource_version(current)) {
            // Nothing changed: a real API server writes nothing and keeps the version.
            return Ok(current.clone());
        }
        let uid = current["metadata"]["uid"].clone();
        let created = current["metadata"]["creationTimestamp"].clone();
        self.revision += 1;
        let meta = ensure_metadata(&mut obj);
        meta["uid"] = uid;
        meta["creationTimestamp"] = created;
        meta["resourceVersion"] = json!(self.revision.to_string());
        let obj = Arc::new(obj);
        let old = map.insert(key.clone(), obj.clone());
        self.reindex(resource_key(def), &key, old.as_deref(), Some(&obj));
        self.record(def, EventType::Modified, obj.clone());
        Ok(obj)
    }

    /// Removes an object; the DELETED event carries its last state at a new revision.
    pub fn delete(
        &mut self,
        def: &'static ResourceDef,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, StoreError> {
        let map = self.objects.entry(resource_key(def)).or_default();
        let key = (namespace.to_string(), name.to_string());
        let Some(old) = map.remove(&key) else {
            return Err(StoreError::NotFound);
        };
        self.reindex(resource_key(def), &key, Some(&old), None);
        self.revision += 1;
        let mut last = (*old).clone();
        ensure_metadata(&mut last)["resourceVersion"] = json!(self.revision.to_string());
        let last = Arc::new(last);
        self.record(def, EventType::Deleted, last.clone());
        Ok(last)
    }

    fn record(&mut self, def: &'static ResourceDef, event: EventType, object: Arc<Value>) {
        let change = Arc::new(Change {
            revision: self.revision,
            resource: def,
            event,
            object,
        });
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted_to = old.revision;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.changes.send(change);
    }

    /// The changes after `revision` still in history, and a receiver for those after them.
    /// `Gone` when changes after `revision` have been compacted away.
    pub fn watch_from(
        &self,
        revision: u64,
    ) -> Result<(Vec<Arc<Change>>, ChangeReceiver), StoreError> {
        if revision < self.compacted_to {
            return Err(StoreError::Gone {
                requested: revision,
                oldest: self.compacted_to,
            });
        }
        let backlog = self
            .history
            .iter()
            .filter(|c| c.revision > revision)
            .cloned()
            .collect();
        Ok((backlog, self.changes.subscribe()))
    }

    /// Forgets the change history: a watch from any revision before now is `Gone`.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_to = self.revision;
    }

    /// A receiver for changes from now on (controllers use it to wake up).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }
}

fn ensure_metadata(obj: &mut Value) -> &mut Value {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    &mut obj["metadata"]
}

fn obj_with_rv(obj: &Value, rv: u64) -> Value {
    let mut o = obj.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.remove("managedFields");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_kind;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}})
    }

    #[test]
    fn create_update_delete_bump_revision_and_record_changes() {
        let mut s = Store::new(100);
        let def = by_kind("ConfigMap");
        let a = s.create(def, cm("a")).unwrap();
        let rv = resource_version(&a);
        assert!(!meta_str(&a, "uid").is_empty());
        assert_eq!(
            s.create(def, cm("a")).unwrap_err(),
            StoreError::AlreadyExists
        );
        let mut changed = (*a).clone();
        changed["data"] = json!({"k": "v"});
        assert_eq!(
            s.update(def, changed.clone(), Some(rv - 1)).unwrap_err(),
            StoreError::Conflict
        );
        let b = s.update(def, changed, Some(rv)).unwrap();
        assert!(resource_version(&b) > rv);
        assert_eq!(meta_str(&b, "uid"), meta_str(&a, "uid"));
        s.delete(def, "default", "a").unwrap();
        assert_eq!(
            s.delete(def, "default", "a").unwrap_err(),
            StoreError::NotFound
        );
        let (backlog, _) = s.watch_from(rv - 1).unwrap();
        let kinds: Vec<_> = backlog.iter().map(|c| c.event).collect();
        assert_eq!(
            kinds,
            vec![EventType::Added, EventType::Modified, EventType::Deleted]
        );
    }

    #[test]
    fn an_unchanged_update_keeps_the_version() {
        let mut s = Store::new(100);
        let def = by_kind("ConfigMap");
        let a = s.create(def, cm("a")).unwrap();
        let again = s.update(def, (*a).clone(), None).unwrap();
        assert_eq!(resource_version(&a), resource_version(&again));
    }

    #[test]
    fn compacted_history_answers_gone() {
        let mut s = Store::new(2);
        let def = by_kind("ConfigMap");
        for n in ["a", "b", "c", "d"] {
            s.create(def, cm(n)).unwrap();
        }
        assert!(matches!(s.watch_from(1), Err(StoreError::Gone { .. })));
        assert_eq!(s.watch_from(s.revision() - 1).unwrap().0.len(), 1);
    }

    #[test]
    fn list_is_scoped_to_a_namespace() {
        let mut s = Store::new(10);
        let def = by_kind("ConfigMap");
        s.create(def, cm("a")).unwrap();
        let mut other = cm("b");
        other["metadata"]["namespace"] = json!("kube-system");
        s.create(def, other).unwrap();
        assert_eq!(s.list(def, Some("default")).len(), 1);
        assert_eq!(s.list(def, None).len(), 2);
    }

    static BY_APP: Indexer = Indexer {
        plural: "configmaps",
        key_of: |o| o["data"]["app"].as_str().map(String::from),
    };

    fn names(objects: &[Arc<Value>]) -> Vec<&str> {
        objects.iter().map(|o| meta_str(o, "name")).collect()
    }

    #[test]
    fn an_index_follows_creates_updates_and_deletes_and_answers_as_a_scan_would() {
        let def = by_kind("ConfigMap");
        let mut indexed = Store::new(100);
        let mut scanned = Store::new(100);
        let mut labelled = cm("a");
        labelled["data"] = json!({"app": "x"});
        indexed.create(def, labelled.clone()).unwrap();
        // Objects stored before the index is added are filed too.
        indexed.add_index(&BY_APP);
        scanned.create(def, labelled).unwrap();
        for s in [&mut indexed, &mut scanned] {
            let mut b = cm("b");
            b["data"] = json!({"app": "x"});
            s.create(def, b).unwrap();
            s.create(def, cm("c")).unwrap();
            let mut moved = (*s.get(def, "default", "a").unwrap()).clone();
            moved["data"] = json!({"app": "y"});
            s.update(def, moved, None).unwrap();
        }
        for s in [&indexed, &scanned] {
            assert_eq!(names(&s.list_indexed(&BY_APP, "x")), vec!["b"]);
            assert_eq!(names(&s.list_indexed(&BY_APP, "y")), vec!["a"]);
            assert_eq!(
                s.indexed_keys(&BY_APP).into_iter().collect::<Vec<_>>(),
                vec!["x", "y"]
            );
        }
        indexed.delete(def, "default", "b").unwrap();
        assert!(indexed.list_indexed(&BY_APP, "x").is_empty());
        assert_eq!(
            indexed
                .indexed_keys(&BY_APP)
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["y"]
        );
    }
}
