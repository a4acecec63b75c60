//! Property tests of the sim's parsers that take a client's bytes: the protobuf bodies kubectl
//! and kube-rs send, label and field selectors, quantities. Any input is answered (a value or
//! an error), never a panic, and what they accept keeps their rules. Cases are bounded (a few
//! hundred each), so the suite runs in seconds; `PROPTEST_CASES` runs more.

use gpuboard_sim::{protobuf, quantity, resources, selectors};
use proptest::prelude::*;
use serde_json::json;

/// The kinds the sim decodes from protobuf: its special requests and every object kind.
const KINDS: &[&str] = &[
    "TokenRequest",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "SelfSubjectReview",
    "TokenReview",
    "Namespace",
    "Pod",
    "Secret",
    "ConfigMap",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "Node",
    "Unknown",
];

/// A protobuf field: its number, and a varint, a length-delimited payload or a nested message.
#[derive(Debug, Clone)]
enum Field {
    Varint(u32, u64),
    Bytes(u32, Vec<u8>),
    Message(u32, Vec<Field>),
    Fixed64(u32, u64),
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn encode(fields: &[Field], out: &mut Vec<u8>) {
    for field in fields {
        match field {
            Field::Varint(n, v) => {
                varint(u64::from(*n) << 3, out);
                varint(*v, out);
            }
            Field::Fixed64(n, v) => {
                varint((u64::from(*n) << 3) | 1, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Field::Bytes(n, b) => {
                varint((u64::from(*n) << 3) | 2, out);
                varint(b.len() as u64, out);
                out.extend_from_slice(b);
            }
            Field::Message(n, inner) => {
                let mut body = Vec::new();
                encode(inner, &mut body);
                varint((u64::from(*n) << 3) | 2, out);
                varint(body.len() as u64, out);
                out.extend_from_slice(&body);
            }
        }
    }
}

/// Messages of the shape Kubernetes sends (the Unknown envelope, nested specs), with any field
/// numbers, values and payloads, five levels deep at most.
fn messages() -> impl Strategy<Value = Vec<Field>> {
    let number = 1u32..12;
    let leaf = prop_oneof![
        (number.clone(), any::<u64>()).prop_map(|(n, v)| Field::Varint(n, v)),
        (number.clone(), any::<u64>()).prop_map(|(n, v)| Field::Fixed64(n, v)),
        (
            number.clone(),
            proptest::collection::vec(any::<u8>(), 0..24)
        )
            .prop_map(|(n, b)| Field::Bytes(n, b)),
        (number.clone(), "[a-z0-9:./-]{0,16}").prop_map(|(n, s)| Field::Bytes(n, s.into_bytes())),
    ];
    let field = leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            inner.clone(),
            (1u32..12, proptest::collection::vec(inner, 0..6))
                .prop_map(|(n, fields)| Field::Message(n, fields)),
        ]
    });
    proptest::collection::vec(field, 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_protobuf_body_is_decoded_or_refused(
        kind in proptest::sample::select(KINDS),
        fields in messages(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut body = b"k8s\x00".to_vec();
        encode(&fields, &mut body);
        // Whole, and cut anywhere (a body that ends mid-field).
        let _ = protobuf::decode(kind, &body);
        let cut = 4 + cut.index(body.len() - 3);
        let _ = protobuf::decode(kind, &body[..cut.min(body.len())]);
    }

    #[test]
    fn any_bytes_are_decoded_or_refused(
        kind in proptest::sample::select(KINDS),
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let _ = protobuf::decode(kind, &bytes);
        let mut framed = b"k8s\x00".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = protobuf::decode(kind, &framed);
    }

    #[test]
    fn any_label_selector_is_parsed_or_refused_and_matching_never_fails(
        selector in prop_oneof![
            "[a-z0-9=!,() .-]{0,40}",
            "[a-z]{1,5}( in | notin |=|==|!=)\\(?[a-z0-9, ]{0,12}\\)?(,[a-z!]{1,5})?",
            any::<String>(),
        ],
        key in "[a-z]{1,5}",
        value in "[a-z0-9]{0,5}",
    ) {
        if let Ok(parsed) = selectors::LabelSelector::parse(&selector) {
            let _ = parsed.matches(&json!({"metadata": {"labels": {key: value}}}));
            let _ = parsed.matches(&json!({"metadata": {}}));
            let _ = parsed.matches(&json!(null));
        }
    }

    #[test]
    fn any_field_selector_is_parsed_or_refused_and_matching_never_fails(
        selector in prop_oneof![
            "(metadata\\.name|metadata\\.namespace|spec\\.nodeName|status\\.phase|type|[a-z.]{1,12})(=|==|!=)[a-z0-9-]{0,10}(,[a-z.]{1,12}=[a-z]{0,4})?",
            any::<String>(),
        ],
        plural in proptest::sample::select(vec!["pods", "secrets", "events", "nodes", "namespaces"]),
    ) {
        let def = resources::RESOURCES
            .iter()
            .find(|d| d.plural == plural)
            .expect("a resource the sim serves");
        if let Ok(parsed) = selectors::FieldSelector::parse(&selector, def) {
            let _ = parsed.matches(&json!({"metadata": {"name": "x", "namespace": "y"}, "spec": {}, "status": {}}));
            let _ = parsed.matches(&json!(7));
        }
    }

    #[test]
    fn any_quantity_is_a_number_or_refused(text in any::<String>()) {
        let _ = quantity::parse(&text);
        let _ = quantity::is_integer(&text);
    }

    #[test]
    fn a_well_formed_quantity_has_its_value(
        whole in 0u32..1_000_000,
        (suffix, scale) in proptest::sample::select(vec![
            ("", 1.0), ("m", 1e-3), ("k", 1e3), ("Ki", 1024.0), ("Mi", 1048576.0), ("Gi", 1073741824.0),
        ]),
    ) {
        let parsed = quantity::parse(&format!("{whole}{suffix}")).expect("a quantity");
        prop_assert!((parsed - f64::from(whole) * scale).abs() <= 1e-6 * parsed.abs().max(1.0));
        prop_assert_eq!(quantity::is_integer(&whole.to_string()), true);
    }
}
