//! Turning failures into the `google.rpc.Status` a gateway frontend returns. Spec errors carry
//! BuildKit's source-location detail (`errdefs.Source`, JSON in an `Any`), so buildx prints the
//! offending lines of goapp.yaml under the message.

use base64::Engine as _;
use llb_gen::Diagnostics;
use prost::Message as _;

use crate::proto::google::rpc::Status;

/// The type URL BuildKit registers for its source-location error detail.
const SOURCE_DETAIL: &str = "github.com/moby/buildkit/errdefs.Source+json";

/// gRPC codes (google.rpc.Code).
pub const UNKNOWN: i32 = 2;
pub const INVALID_ARGUMENT: i32 = 3;

/// At most this many source details: buildx prints one snippet per detail.
const MAX_DETAILS: usize = 8;

/// The status for a spec that did not load: the message lists every problem as
/// `file:line:col: message (hint)`, and each problem gets a source detail.
pub fn spec_status(diags: &Diagnostics) -> Status {
    let items: Vec<_> = diags.errors().collect();
    let mut message = String::new();
    for (i, d) in items.iter().enumerate() {
        if i > 0 {
            message.push_str("\n");
        }
        message.push_str(&format!("{}:{}:{}: {}", diags.file, d.span.start.line, d.span.start.column, d.message));
        if let Some(h) = &d.hint {
            message.push_str(&format!(" ({h})"));
        }
    }
    let details = items
        .iter()
        .take(MAX_DETAILS)
        .map(|d| {
            let span = llb_gen::diag::token_span(&diags.source, d.span);
            let json = serde_json::json!({
                "info": {
                    "filename": diags.file,
                    "data": base64::engine::general_purpose::STANDARD.encode(diags.source.as_bytes()),
                    "language": "YAML",
                },
                "ranges": [{
                    "start": {"line": span.start.line, "character": span.start.column},
                    "end": {"line": span.end.line, "character": span.end.column},
                }],
            });
            prost_types::Any { type_url: SOURCE_DETAIL.into(), value: serde_json::to_vec(&json).expect("json") }
        })
        .collect();
    Status { code: INVALID_ARGUMENT, message, details }
}

/// The status for any other failure. When it is a failed gateway call, the status BuildKit
/// sent (with its own details: failing vertex, source ranges) is passed on unchanged.
pub fn status_of(err: &anyhow::Error) -> Status {
    if let Some(s) = err.chain().find_map(|e| e.downcast_ref::<tonic::Status>()) {
        if !s.details().is_empty() {
            if let Ok(st) = Status::decode(s.details()) {
                if st.code != 0 {
                    return st;
                }
            }
        }
        return Status {
            code: match s.code() as i32 {
                0 => UNKNOWN,
                c => c,
            },
            message: format!("{err:#}"),
            details: vec![],
        };
    }
    Status { code: UNKNOWN, message: format!("{err:#}"), details: vec![] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_status_has_location_in_message_and_detail() {
        let diags = llb_gen::load("goapp.yaml", b"name: x\nmian: ./cmd\n", &Default::default()).unwrap_err();
        let st = spec_status(&diags);
        assert_eq!(st.code, INVALID_ARGUMENT);
        assert!(st.message.starts_with("goapp.yaml:2:1: unknown key `mian`"), "{}", st.message);
        assert!(st.message.contains("did you mean `main`?"), "{}", st.message);
        assert_eq!(st.details.len(), 1);
        assert_eq!(st.details[0].type_url, SOURCE_DETAIL);
        let v: serde_json::Value = serde_json::from_slice(&st.details[0].value).unwrap();
        assert_eq!(v["ranges"][0]["start"]["line"], 2);
        assert_eq!(v["info"]["filename"], "goapp.yaml");
        let data = base64::engine::general_purpose::STANDARD.decode(v["info"]["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, b"name: x\nmian: ./cmd\n");
    }

    #[test]
    fn gateway_status_details_pass_through() {
        let inner = Status { code: 2, message: "exit code 1".into(), details: vec![prost_types::Any { type_url: "x".into(), value: vec![1] }] };
        let st = tonic::Status::with_details(tonic::Code::Unknown, "exit code 1", inner.encode_to_vec().into());
        let err = anyhow::Error::new(st).context("solving linux/arm64");
        assert_eq!(status_of(&err), inner);
    }
}
