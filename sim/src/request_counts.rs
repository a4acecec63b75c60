//! How many requests the sim has answered, by verb and resource, served at `/metrics` in the
//! shape of the API server's `apiserver_request_total` (labels `verb`, `group`, `resource`,
//! `subresource`; the real one has more). Tests and the benchmark read it to count what a
//! client asks of the cluster, e.g. that a dashboard page view lists nothing.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One series of `apiserver_request_total`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    subresource: String,
}

#[derive(Debug, Default)]
pub struct RequestCounts(Mutex<BTreeMap<Series, u64>>);

/// The metric's verb for the sim's authorization verb, as the API server reports it.
fn metric_verb(verb: &str) -> &'static str {
    match verb {
        "get" => "GET",
        "list" => "LIST",
        "watch" => "WATCH",
        "create" => "POST",
        "update" => "PUT",
        "patch" => "PATCH",
        "delete" | "deletecollection" => "DELETE",
        _ => "OTHER",
    }
}

impl RequestCounts {
    /// Counts one resource request.
    pub fn record(
        &self,
        verb: &str,
        group: &'static str,
        resource: &'static str,
        subresource: &str,
    ) {
        let series = Series {
            verb: metric_verb(verb),
            group,
            resource,
            subresource: subresource.to_string(),
        };
        *self.0.lock().entry(series).or_default() += 1;
    }

    /// Requests answered for `resource` (any group and subresource) with the authorization
    /// `verb` (`list`, `watch`, ...).
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        let verb = metric_verb(verb);
        self.0
            .lock()
            .iter()
            .filter(|(s, _)| s.verb == verb && s.resource == resource)
            .map(|(_, n)| n)
            .sum()
    }

    /// The counts in the Prometheus text format.
    pub fn render(&self) -> String {
        let counts = self.0.lock();
        let mut out = String::from(
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, group, resource and subresource.\n# TYPE apiserver_request_total counter\n",
        );
        for (s, n) in counts.iter() {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{}\",group=\"{}\",resource=\"{}\",subresource=\"{}\"}} {n}",
                s.verb, s.group, s.resource, s.subresource
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_verb_and_resource_in_the_api_servers_names() {
        let counts = RequestCounts::default();
        counts.record("list", "", "pods", "");
        counts.record("list", "", "pods", "");
        counts.record(
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "",
        );
        counts.record("get", "", "pods", "log");
        let text = counts.render();
        assert!(text.contains(
            "apiserver_request_total{verb=\"LIST\",group=\"\",resource=\"pods\",subresource=\"\"} 2\n"
        ));
        assert!(text.contains(
            "verb=\"POST\",group=\"authorization.k8s.io\",resource=\"selfsubjectaccessreviews\""
        ));
        assert!(text.contains("verb=\"GET\",group=\"\",resource=\"pods\",subresource=\"log\"} 1"));
    }
}
