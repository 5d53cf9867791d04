//! The JSON Schema of the spec, generated from the types in [`crate::spec::raw`]. The loader
//! checks YAML against it, editors use the checked-in copy (`docs/goapp.schema.json`), and the
//! reference documentation is generated from it.

use std::sync::OnceLock;

use serde_json::Value;

use crate::spec::raw::RawSpec;

/// Where the published schema lives; examples point editors at it.
pub const SCHEMA_ID: &str = "https://raw.githubusercontent.com/goapp-dev/goapp/main/docs/goapp.schema.json";

/// The spec's JSON Schema (draft 2020-12).
pub fn json_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut v = serde_json::to_value(schemars::schema_for!(RawSpec)).expect("schema serializes");
        v["$id"] = Value::String(SCHEMA_ID.into());
        v
    })
}

/// The schema as checked in: pretty JSON with a final newline.
pub fn json_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(json_schema()).expect("schema serializes");
    s.push('\n');
    s
}
