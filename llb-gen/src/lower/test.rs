//! `--target test`: `go vet` and `go test` of the module on the build platform, with the
//! builder, module cache, build cache, secrets and tags of the build. The result is the
//! report, for `--output type=local`:
//!
//! ```text
//! builder ─> exec: go build goapp-test (its source is written by goapp; no network)
//! prepared root, sources, goapp-test ─> exec: goapp-test: go vet, go test -json ─> /report
//!     test.json, junit.xml, coverage.out
//! ```
//!
//! A failing test fails the step: its last lines name each failing test with the file and
//! line of its failure. Go's test cache (in the build cache mount) keeps the results of
//! packages that did not change, and BuildKit keeps the whole step while nothing changes.

use llb::{Exec, Mount};

use super::builder::{Sources, go_env};
use super::compile::Prepared;
use super::{Lowering, SRC};

/// The program that runs the tests and writes the report.
const TEST_REPORT: &str = include_str!("testreport.go");

/// Where the report is written.
pub(super) const REPORT: &str = "/report";
const TOOL_DIR: &str = "/goapp/test";

pub(super) fn run(cx: &mut Lowering<'_>, builder: llb::Output, sources: &Sources, prepared: &Prepared<'_>) -> llb::Output {
    let input = cx.input;
    let spec = input.spec;
    let test = &spec.test;
    let tool = report_tool(cx, builder);

    // The tests' own environment and tags, over the build's.
    let mut settings = input.targets[0].clone();
    settings.env = test.env.clone();
    settings.tags = test.tags.clone();
    // The race detector needs cgo, with the builder's C compiler.
    let cgo_env: Vec<String> = if prepared.cgo_env.is_empty() && test.race() { vec!["CC=gcc".into()] } else { prepared.cgo_env.clone() };
    let mut env = go_env(input, &settings, &cgo_env, &[]);
    if let Some(c) = &prepared.shared_cache {
        c.set_env(&mut env, &spec.name.value, "test", input.target);
    }

    let mut args = vec![format!("{TOOL_DIR}/goapp-test"), format!("-report={REPORT}"), format!("-vet={}", test.vet)];
    if !test.tags.is_empty() {
        args.push(format!("-tags={}", test.tags.join(",")));
    }
    if let Some(t) = &test.timeout {
        args.push(format!("-timeout={t}"));
    }
    if let Some(m) = spec.go.module_mode.filter(|m| *m != crate::spec::raw::ModMode::Auto) {
        args.push(format!("-mod={}", super::compile::mod_flag(m)));
    }
    args.push("--".into());
    args.extend(test.flags.iter().cloned());
    args.extend(test.packages.iter().cloned());

    let mut mounts = prepared.mounts(sources, vec![Mount::output(REPORT, None), Mount::readonly(TOOL_DIR, tool)]);
    // Tests may write beside their sources (testdata golden files): a scratch copy.
    for m in mounts.iter_mut().filter(|m| m.dest == SRC) {
        m.readonly = false;
    }
    let exec = cx
        .g
        .exec(Exec { args, env, cwd: prepared.cwd.clone(), user: String::new(), mounts, no_network: false, proxy: input.proxy.cloned() }, prepared.platform);
    let range = cx.range(test.span);
    let m = cx.g.meta(exec.op);
    let vet = if test.vet { "go vet, " } else { "" };
    m.name = Some(format!("[test] {vet}go test {}", test.packages.join(" ")));
    m.ignore_cache = input.no_cache;
    m.ranges.push(range);
    exec.get(REPORT)
}

/// Compiles [`TEST_REPORT`] on the builder, with no network: it uses the standard library
/// only.
fn report_tool(cx: &mut Lowering<'_>, builder: llb::Output) -> llb::Output {
    let names = ["[test] the test report program".to_string(), "[test] go build goapp-test".to_string()];
    super::builder::shipped_program(cx, builder, TEST_REPORT, "goapp-test", &[], names).get("/out")
}
