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

/// The status for a spec (or go.mod) that did not load: the message lists every problem as
/// `file:line:col: message (hint)`, and each problem gets a source detail.
pub fn spec_status(diags: &Diagnostics) -> Status {
    let items: Vec<_> = diags.errors().collect();
    let mut message = String::new();
    for (i, d) in items.iter().enumerate() {
        if i > 0 {
            message.push('\n');
        }
        message.push_str(&format!("{}:{}:{}: {}", diags.file, d.span.start.line, d.span.start.column, d.message));
        if let Some(h) = &d.hint {
            message.push_str(&format!(" ({h})"));
        }
    }
    if diags.omitted > 0 {
        message.push_str(&format!("\n{}: {} more problems not shown", diags.file, diags.omitted));
    }
    let details = items.iter().take(MAX_DETAILS).map(|d| source_detail(&Place { file: &diags.file, source: &diags.source, span: d.span })).collect();
    Status { code: INVALID_ARGUMENT, message, details }
}

/// A line of a file that an error points at.
pub struct Place<'a> {
    pub file: &'a str,
    pub source: &'a str,
    pub span: llb_gen::Span,
}

/// The status for one problem seen at several places (go.mod's line and the spec's): the
/// message starts with the first place, and each place gets a source detail, so buildx
/// shows every line involved.
pub fn located_status(message: &str, places: &[Place<'_>]) -> Status {
    let message = match places.first() {
        Some(p) => format!("{}:{}:{}: {message}", p.file, p.span.start.line, p.span.start.column),
        None => message.to_string(),
    };
    Status { code: INVALID_ARGUMENT, message, details: places.iter().take(MAX_DETAILS).map(source_detail).collect() }
}

/// The language of a file BuildKit shows lines of: go.mod and go.work, or the spec's YAML.
pub fn language(file: &str) -> &'static str {
    if file.ends_with("go.mod") || file.ends_with("go.work") { llb_gen::diag::GO_MOD_LANGUAGE } else { llb_gen::diag::SPEC_LANGUAGE }
}

/// BuildKit's source-location detail for one place. Its language is the file's: go.mod
/// and go.work, or the spec's YAML.
fn source_detail(p: &Place<'_>) -> prost_types::Any {
    let span = llb_gen::diag::token_span(p.source, p.span);
    let language = language(p.file);
    let json = serde_json::json!({
        "info": {
            "filename": p.file,
            "data": base64::engine::general_purpose::STANDARD.encode(p.source.as_bytes()),
            "language": language,
        },
        "ranges": [{
            "start": {"line": span.start.line, "character": span.start.column},
            "end": {"line": span.end.line, "character": span.end.column},
        }],
    });
    prost_types::Any { type_url: SOURCE_DETAIL.into(), value: serde_json::to_vec(&json).expect("json") }
}

/// The status for any other failure. When it is a failed gateway call, the status BuildKit
/// sent (with its own details: failing vertex, source ranges) is passed on unchanged.
pub fn status_of(err: &anyhow::Error) -> Status {
    if let Some(s) = err.chain().find_map(|e| e.downcast_ref::<tonic::Status>()) {
        if !s.details().is_empty()
            && let Ok(st) = Status::decode(s.details())
            && st.code != 0
        {
            return st;
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
    fn a_problem_at_two_places_has_a_detail_for_each() {
        let gomod = "module m\n\ngo 1.27\n";
        let spec = "name: x\ngo:\n  version: \"1.26\"\n";
        let span = |line, column| llb_gen::Span::point(line, column);
        let st = located_status(
            "go.mod needs Go 1.27",
            &[Place { file: "go.mod", source: gomod, span: span(3, 4) }, Place { file: "goapp.yaml", source: spec, span: span(3, 12) }],
        );
        assert_eq!(st.message, "go.mod:3:4: go.mod needs Go 1.27");
        let details: Vec<serde_json::Value> = st.details.iter().map(|d| serde_json::from_slice(&d.value).unwrap()).collect();
        assert_eq!((details[0]["info"]["language"].as_str(), details[1]["info"]["language"].as_str()), (Some("go.mod"), Some("YAML")));
        assert_eq!(details[0]["ranges"][0]["end"]["character"], 7);
        assert_eq!(details[1]["ranges"][0]["start"]["line"], 3);
    }

    #[test]
    fn gateway_status_details_pass_through() {
        let inner = Status { code: 2, message: "exit code 1".into(), details: vec![prost_types::Any { type_url: "x".into(), value: vec![1] }] };
        let st = tonic::Status::with_details(tonic::Code::Unknown, "exit code 1", inner.encode_to_vec().into());
        let err = anyhow::Error::new(st).context("solving linux/arm64");
        assert_eq!(status_of(&err), inner);
    }
}
