//! Subrequests: what goapp answers instead of building when buildx asks with `--call NAME`
//! (`--print NAME` in older buildx), which sends the option `requestid=frontend.NAME`.
//!
//! Each answer is a result with no filesystem and three metadata keys, as BuildKit's own
//! frontends answer: `result.json` (for programs), `result.txt` (for people) and `version`.
//! `frontend.lint` adds `result.statuscode` (1 when the spec has a problem).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::keys::answer as keys;
use crate::proto::gw;

/// The version of every request's result format.
const VERSION: &str = "1.0.0";

/// The requests goapp answers, by their full id, with what each returns.
pub const REQUESTS: &[(&str, &str)] = &[
    ("frontend.subrequests.describe", "List the requests the goapp frontend answers"),
    ("frontend.outline", "The build args the spec reads (with their defaults) and the ones goapp itself takes"),
    ("frontend.targets", "The binaries the spec builds; --target builds one of them"),
    ("frontend.lint", "Check the spec: every error and warning, with its line and column"),
    ("frontend.goapp.schema", "The JSON Schema of goapp.yaml, for editors"),
    ("frontend.goapp.plan", "What the build would do: platforms, binaries, Go release, images, named contexts"),
    ("frontend.goapp.llb", "The LLB of each platform, readable (builder and base unresolved)"),
    ("frontend.goapp.init", "A commented goapp.yaml for the module of -f go.mod (or go.work), from its code"),
];

/// `goapp.init`: the spec, as text (and as `{"spec": ...}`).
pub fn init(spec: &str) -> gw::Result {
    answer(&json!({ "spec": spec }), spec.to_string(), &[])
}

/// The request `id` names, with the `frontend.` prefix buildx adds (accepted without it).
pub fn known(id: &str) -> Option<&'static str> {
    let full = if id.starts_with("frontend.") { id.to_string() } else { format!("frontend.{id}") };
    REQUESTS.iter().map(|(n, _)| *n).find(|n| *n == full)
}

/// The result that carries an answer.
pub fn answer(json: &Value, text: String, extra: &[(&str, &str)]) -> gw::Result {
    let mut metadata: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    metadata.insert(keys::JSON.into(), serde_json::to_vec(json).expect("json"));
    metadata.insert(keys::TEXT.into(), text.into_bytes());
    metadata.insert(keys::VERSION.into(), VERSION.as_bytes().to_vec());
    for (k, v) in extra {
        metadata.insert(k.to_string(), v.as_bytes().to_vec());
    }
    gw::Result { result: Some(gw::result::Result::Ref(gw::Ref { id: String::new(), def: None })), metadata, attestations: Default::default() }
}

pub fn describe() -> gw::Result {
    let list: Vec<Value> = REQUESTS
        .iter()
        .map(|(name, description)| {
            let mut metadata = vec![json!({"name": keys::JSON}), json!({"name": keys::TEXT})];
            if *name == "frontend.lint" {
                metadata.push(json!({"name": keys::STATUS_CODE}));
            }
            json!({"name": name, "version": VERSION, "type": "rpc", "description": description, "opts": null, "inputs": null, "metadata": metadata, "refs": null})
        })
        .collect();
    let width = REQUESTS.iter().map(|(n, _)| n.len() - "frontend.".len()).max().unwrap_or(0);
    let text = REQUESTS.iter().map(|(n, d)| format!("{:width$}  {d}\n", n.trim_start_matches("frontend."))).collect();
    answer(&Value::Array(list), text, &[])
}

/// The spec file as a source of the answers' locations (`sources[0]`).
fn source(file: &str, data: &[u8]) -> Value {
    json!({"filename": file, "data": base64::engine::general_purpose::STANDARD.encode(data), "language": llb_gen::diag::SPEC_LANGUAGE})
}

/// A location in `sources[0]`: the span's line, from its first to its last column.
fn location(span: llb_gen::Span, data: &[u8]) -> Value {
    let span = llb_gen::diag::token_span(std::str::from_utf8(data).unwrap_or(""), span);
    json!({"sourceIndex": 0, "ranges": [{"start": {"line": span.start.line, "character": span.start.column}, "end": {"line": span.end.line, "character": span.end.column}}]})
}

/// The build args goapp reads itself, whatever the spec says.
const GOAPP_ARGS: &[(&str, &str)] = &[
    ("GOAPP_REGISTRY_MIRROR", "a registry mirror every image is pulled from (over the spec's registry_mirror)"),
    ("SOURCE_DATE_EPOCH", "the image's creation time, in seconds since 1970"),
];

/// The build args the spec reads, with their defaults and lines, then goapp's own, then the
/// proxy args (never their values); the description says which Go release builds it, and
/// `platforms` the platforms the build makes (the spec's, unless `--platform` names others),
/// for a CI matrix to read.
pub fn outline(file: &str, data: &[u8], loaded: &llb_gen::Loaded, plan: &llb_gen::Plan) -> gw::Result {
    let mut args: Vec<Value> = loaded
        .args
        .iter()
        .map(|a| {
            let mut v = json!({"name": a.name, "description": format!("read by {file}"), "location": location(a.span, data)});
            if let Some(d) = &a.default {
                v["value"] = json!(d);
            }
            v
        })
        .collect();
    let fetch: Vec<(&str, &str)> =
        llb_gen::golang::MODULE_FETCH_ARGS.iter().map(|a| (*a, "set for every go command, over go.env")).chain(llb_gen::stamp::ARGS.iter().copied()).collect();
    let proxies: Vec<(&str, &str)> =
        llb_gen::golang::PROXY_ARGS.iter().map(|a| (*a, "a proxy for every step that reaches the network; never in the image or the cache key")).collect();
    for (name, description) in GOAPP_ARGS.iter().chain(&fetch).chain(&proxies) {
        if !loaded.args.iter().any(|a| a.name == *name) {
            args.push(json!({"name": name, "description": description}));
        }
    }
    // A proxy may carry credentials: its value is never shown, not even a default the spec
    // writes (`${HTTP_PROXY:-http://user:secret@proxy}`); build args' values never are.
    for a in args.iter_mut() {
        if let Some(o) = a.as_object_mut().filter(|o| o.get("name").and_then(Value::as_str).is_some_and(llb_gen::golang::is_proxy_arg)) {
            o.remove("value");
        }
    }
    let go = plan.release.describe(file);
    let platforms: Vec<String> = plan.platforms.iter().map(|p| p.to_string()).collect();
    let from = match plan.platforms_from {
        llb_gen::PlatformsFrom::Request => "--platform".to_string(),
        llb_gen::PlatformsFrom::Spec(span) => format!("{file}:{}", span.start.line),
        llb_gen::PlatformsFrom::BuildPlatform => "the build platform".to_string(),
    };
    let mut json = json!({"name": loaded.spec.name.value, "description": format!("goapp spec {file}, built with {go}"), "platforms": platforms, "args": args, "sources": [base64::engine::general_purpose::STANDARD.encode(data)]});
    if let llb_gen::PlatformsFrom::Spec(span) = plan.platforms_from {
        json["platformsLocation"] = location(span, data);
    }
    let mut text = format!("Go\t{go}\nPlatforms\t{} ({from})\n\nBUILD ARG\tVALUE\tDESCRIPTION\n", platforms.join(","));
    for a in json["args"].as_array().expect("args") {
        text.push_str(&format!("{}\t{}\t{}\n", a["name"].as_str().unwrap_or(""), a["value"].as_str().unwrap_or(""), a["description"].as_str().unwrap_or("")));
    }
    answer(&json, text, &[])
}

const BINARIES_DESCRIPTION: &str = "the binaries alone, without an image (--output type=local)";

/// The targets: the spec's binaries (the entrypoint's is the default), then the ones goapp
/// adds: `binaries`, `test` (what it runs) and `debug` (its base and Delve's port).
pub fn targets(file: &str, data: &[u8], loaded: &llb_gen::Loaded) -> gw::Result {
    let spec = &loaded.spec;
    let test = &spec.test;
    let test_description = format!(
        "{}go test {}{} (the report: --output type=local)",
        if test.vet { "go vet, " } else { "" },
        test.flags.iter().map(|f| format!("{f} ")).collect::<String>(),
        test.packages.join(" ")
    );
    let debug_description = format!("the program under Delve, listening on {}/tcp, on {}", spec.debug.port, spec.debug.base_image);
    // `test` and `debug` point at their section when the spec has one.
    let at = |span: llb_gen::Span| (span != spec.name.span).then(|| location(span, data));
    let mut targets: Vec<Value> = spec
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"name": t.name.value, "default": i == spec.runtime.entrypoint, "description": format!("go build {}", t.main.value), "location": location(t.name.span, data)})
        })
        .collect();
    targets.push(json!({"name": llb_gen::spec::BINARIES_TARGET, "description": BINARIES_DESCRIPTION}));
    for (name, description, span) in
        [(llb_gen::spec::TEST_TARGET, &test_description, test.span), (llb_gen::spec::DEBUG_TARGET, &debug_description, spec.debug.span)]
    {
        let mut t = json!({"name": name, "description": description});
        if let Some(l) = at(span) {
            t["location"] = l;
        }
        targets.push(t);
    }
    let json = json!({"targets": targets, "sources": [base64::engine::general_purpose::STANDARD.encode(data)]});
    let mut text = format!("TARGET\tDESCRIPTION\t({file})\n");
    for t in &spec.targets {
        let default = if t.name.value == spec.entrypoint().name.value { " (default)" } else { "" };
        text.push_str(&format!("{}{default}\tgo build {}\n", t.name.value, t.main.value));
    }
    text.push_str(&format!("{}\t{BINARIES_DESCRIPTION}\n", llb_gen::spec::BINARIES_TARGET));
    text.push_str(&format!("{}\t{test_description}\n{}\t{debug_description}\n", llb_gen::spec::TEST_TARGET, llb_gen::spec::DEBUG_TARGET));
    answer(&json, text, &[])
}

/// Every problem of the spec, as BuildKit's lint results: errors and warnings alike, the
/// first error also as the build error.
pub fn lint(file: &str, data: &[u8], diags: &llb_gen::Diagnostics) -> gw::Result {
    let warnings: Vec<Value> = diags
        .items
        .iter()
        .map(|d| {
            // The rule of an error is its kind; a warning's is what `# check=skip=RULE` names.
            let rule = d.rule.unwrap_or(if d.severity == llb_gen::Severity::Error { "SpecError" } else { "SpecWarning" });
            let description = llb_gen::diag::rule_description(rule).unwrap_or("a problem of the spec");
            // buildx shows the rule and the detail: the problem, and what to do.
            let detail = match &d.hint {
                Some(h) => format!("{} ({h})", d.message),
                None => d.message.clone(),
            };
            json!({"ruleName": rule, "description": description, "detail": detail, "location": location(d.span, data)})
        })
        .collect();
    let mut json = json!({"warnings": warnings, "sources": [source(file, data)]});
    if let Some(e) = diags.errors().next() {
        json["buildError"] = json!({"message": e.message, "location": location(e.span, data)});
    }
    let text = if diags.items.is_empty() { format!("{file}: no problems found\n") } else { diags.render(false) };
    let status = if diags.items.is_empty() { "0" } else { "1" };
    answer(&json, text, &[(keys::STATUS_CODE, status)])
}

pub fn schema() -> gw::Result {
    answer(llb_gen::schema::json_schema(), llb_gen::schema::json_schema_text(), &[])
}

/// The readable LLB and image config of one lowered platform.
pub fn llb_text(lowered: &llb_gen::Lowered) -> anyhow::Result<String> {
    let mut out = llb::dump::to_text(&lowered.definition)?;
    out.push_str("image config\n");
    out.push_str(&serde_json::to_string_pretty(&lowered.config)?);
    out.push('\n');
    Ok(out)
}

/// The plan of the build, as JSON (and indented JSON for people).
/// The plan, and the frontend that made it: its version and the platform its binary is for
/// (which image of the frontend's index BuildKit ran).
pub fn plan(plan: &llb_gen::Plan, frontend_platform: &llb::Platform) -> gw::Result {
    let mut summary = plan.summary();
    summary["frontend"] = json!({"version": env!("CARGO_PKG_VERSION"), "platform": frontend_platform.to_string()});
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    answer(&summary, text, &[])
}

/// The LLB of every platform of the plan, with nothing resolved ([`llb_gen::Resolved::unresolved`]).
pub fn llb(plan: &llb_gen::Plan) -> anyhow::Result<gw::Result> {
    let resolved = llb_gen::Resolved::unresolved(plan);
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    for t in &plan.platforms {
        let dump = llb_text(&llb_gen::lower(plan, &resolved, t)?)?;
        text.push_str(&format!("# {t}\n{dump}"));
        json.insert(t.id(), Value::String(dump));
    }
    Ok(answer(&Value::Object(json), text, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(r: &gw::Result, k: &str) -> String {
        String::from_utf8(r.metadata[k].clone()).unwrap()
    }

    #[test]
    fn names_with_or_without_the_prefix() {
        assert_eq!(known("goapp.schema"), Some("frontend.goapp.schema"));
        assert_eq!(known("frontend.outline"), Some("frontend.outline"));
        assert_eq!(known("frontend.nope"), None);
    }

    #[test]
    fn describe_lists_every_request() {
        let r = describe();
        let list: Vec<Value> = serde_json::from_str(&meta(&r, "result.json")).unwrap();
        assert_eq!(list.len(), REQUESTS.len());
        assert!(list.iter().all(|r| r["version"] == VERSION && r["type"] == "rpc"));
        assert!(meta(&r, "result.txt").contains("goapp.schema"));
    }

    #[test]
    fn outline_targets_and_lint_point_at_the_spec() {
        let data = b"name: app\ntargets:\n  - name: api\n    main: ./cmd/api\n  - name: cli\n    main: ./cmd/cli\nversion: ${VERSION:-dev}\nruntime:\n  user: root\n  env:\n    UPSTREAM: ${HTTP_PROXY:-http://user:secret@proxy.example:3128}\n";
        let loaded = llb_gen::load("goapp.yaml", data, &BTreeMap::new()).unwrap();
        let plan = |request: &llb_gen::Request| {
            let files = llb_gen::context::FactFiles::of(".");
            let facts = files.facts(&request.context, |p| (p == "go.mod").then(|| b"module m\n\ngo 1.26\n".to_vec()));
            let source = llb_gen::plan::SpecSource { file: "goapp.yaml".into(), data: data.to_vec() };
            llb_gen::plan(loaded.spec.clone(), source, request, &facts).unwrap()
        };
        let request = llb_gen::Request::default();
        let answer = outline("goapp.yaml", data, &loaded, &plan(&request));
        let text = meta(&answer, "result.txt");
        assert!(text.starts_with("Go\tGo 1.26 (the go line, go.mod:3)\nPlatforms\tlinux/amd64 (the build platform)\n"), "{text}");
        let o: Value = serde_json::from_str(&meta(&answer, "result.json")).unwrap();
        assert_eq!(o["platforms"], json!(["linux/amd64"]));
        assert_eq!(o["description"], "goapp spec goapp.yaml, built with Go 1.26 (the go line, go.mod:3)");
        assert!(o["args"].as_array().unwrap().iter().any(|a| a["name"] == "HTTPS_PROXY" && a.get("value").is_none()));
        // The spec reads HTTP_PROXY with a default: listed where it is read, its value not shown.
        let http = o["args"].as_array().unwrap().iter().find(|a| a["name"] == "HTTP_PROXY").unwrap();
        assert!(http.get("value").is_none() && http.get("location").is_some(), "{http}");
        assert!(!meta(&answer, "result.json").contains("secret") && !meta(&answer, "result.txt").contains("secret"));
        assert_eq!(o["args"][0]["name"], "VERSION");
        assert_eq!(o["args"][0]["value"], "dev");
        assert_eq!(o["args"][0]["location"]["ranges"][0]["start"]["line"], 7);
        assert!(o["args"].as_array().unwrap().iter().any(|a| a["name"] == "GOPROXY"));
        let t: Value = serde_json::from_str(&meta(&targets("goapp.yaml", data, &loaded), "result.json")).unwrap();
        assert_eq!(t["targets"][1]["name"], "cli");
        assert_eq!(t["targets"][0]["default"], true);
        assert_eq!(t["targets"][1]["location"]["ranges"][0]["start"]["line"], 5);
        // goapp's own targets: what the tests run, and the debug image.
        assert_eq!(t["targets"][3]["name"], "test");
        assert_eq!(t["targets"][3]["description"], "go vet, go test ./... (the report: --output type=local)");
        assert_eq!(t["targets"][4]["name"], "debug");
        assert_eq!(t["targets"][4]["description"], "the program under Delve, listening on 2345/tcp, on docker.io/library/debian:bookworm-slim");
        let with_test = b"name: app\ntest:\n  flags: [-race]\n  packages: [./internal/...]\n  vet: false\n";
        let tt: Value =
            serde_json::from_str(&meta(&targets("goapp.yaml", with_test, &llb_gen::load("goapp.yaml", with_test, &BTreeMap::new()).unwrap()), "result.json"))
                .unwrap();
        assert_eq!(tt["targets"][2]["description"], "go test -race ./internal/... (the report: --output type=local)");
        assert_eq!(tt["targets"][2]["location"]["ranges"][0]["start"]["line"], 3);
        // The build args of the version templates are listed.
        assert!(o["args"].as_array().unwrap().iter().any(|a| a["name"] == "GOAPP_GIT_TAG"), "{o}");
        let l = lint("goapp.yaml", data, &loaded.warnings);
        assert_eq!(meta(&l, "result.statuscode"), "1");
        let l: Value = serde_json::from_str(&meta(&l, "result.json")).unwrap();
        assert_eq!(l["warnings"][0]["ruleName"], "RunsAsRoot");
        // The spec's platforms, where it names them, unless --platform names others.
        let with_platforms = b"name: app\nplatforms: [linux/arm64, linux/arm/v7]\n";
        let loaded = llb_gen::load("goapp.yaml", with_platforms, &BTreeMap::new()).unwrap();
        let facts = llb_gen::context::FactFiles::of(".").facts(&request.context, |_| None);
        let source = llb_gen::plan::SpecSource { file: "goapp.yaml".into(), data: with_platforms.to_vec() };
        let p = llb_gen::plan(loaded.spec.clone(), source.clone(), &request, &facts).unwrap();
        let answer = outline("goapp.yaml", with_platforms, &loaded, &p);
        let o: Value = serde_json::from_str(&meta(&answer, "result.json")).unwrap();
        assert_eq!(o["platforms"], json!(["linux/arm64", "linux/arm/v7"]));
        assert_eq!(o["platformsLocation"]["ranges"][0]["start"]["line"], 2);
        assert!(meta(&answer, "result.txt").contains("Platforms\tlinux/arm64,linux/arm/v7 (goapp.yaml:2)\n"));
        let asked = llb_gen::Request { platforms: vec![llb::Platform::new("linux", "riscv64", None)], ..request.clone() };
        let p = llb_gen::plan(loaded.spec.clone(), source, &asked, &facts).unwrap();
        let o: Value = serde_json::from_str(&meta(&outline("goapp.yaml", with_platforms, &loaded, &p), "result.json")).unwrap();
        assert_eq!(o["platforms"], json!(["linux/riscv64"]));
        assert!(o.get("platformsLocation").is_none());
        assert_eq!(l["warnings"][0]["location"]["ranges"][0]["start"]["line"], 9);
        let detail = l["warnings"][0]["detail"].as_str().unwrap();
        assert!(detail.starts_with("the program runs as root (run as `nonroot`"), "{detail}");
        assert_eq!(t["targets"][2]["name"], "binaries");
        assert!(l.get("buildError").is_none());
    }
}
