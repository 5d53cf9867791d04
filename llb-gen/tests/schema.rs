//! The checked-in JSON Schema and spec reference must match what the spec types generate.
//! To update them: `GOAPP_BLESS=1 cargo test -p llb-gen --test schema`.

use std::path::PathBuf;

fn check(file: &str, generated: String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs").join(file);
    if std::env::var_os("GOAPP_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(checked_in == generated, "docs/{file} is out of date with the spec types: run `GOAPP_BLESS=1 cargo test -p llb-gen --test schema`");
}

#[test]
fn json_schema_is_up_to_date() {
    check("goapp.schema.json", llb_gen::schema::json_schema_text());
}

#[test]
fn spec_reference_is_up_to_date() {
    check("spec.md", llb_gen::schema::reference_markdown());
}

#[test]
fn schema_documents_every_field() {
    let schema = llb_gen::schema::json_schema();
    let mut missing = Vec::new();
    let mut visit = |name: &str, obj: &serde_json::Value| {
        for (k, v) in obj["properties"].as_object().into_iter().flatten() {
            if v.get("description").is_none() {
                missing.push(format!("{name}.{k}"));
            }
        }
    };
    visit("spec", schema);
    for (name, def) in schema["$defs"].as_object().unwrap() {
        visit(name, def);
    }
    assert!(missing.is_empty(), "fields without a doc comment: {missing:?}");
}
