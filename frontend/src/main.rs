//! `goapp-frontend`: goapp's BuildKit gateway frontend, and a local command line that checks a
//! spec and shows the LLB it becomes, without BuildKit.

mod errors;
mod frontend;
mod gateway;
mod opts;
mod proto;
mod subrequests;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use llb::Platform;
use prost::Message as _;

#[derive(Parser)]
#[command(name = "goapp-frontend", version, about = "goapp: Go app spec → multi-platform OCI images, as a BuildKit frontend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve BuildKit's gateway protocol on stdin/stdout (how BuildKit runs the image).
    Gateway,
    /// Check a spec; prints every problem with its line and column and exits non-zero.
    Validate {
        /// The spec file (goapp.yaml).
        file: PathBuf,
        /// A build arg for `${NAME}` in the spec, as `NAME=value` (repeatable).
        #[arg(long = "build-arg", value_name = "NAME=VALUE")]
        build_args: Vec<String>,
    },
    /// Print the spec's module directory and binaries as JSON, for scripts:
    /// `{"module": ".", "targets": [{"name": "api", "main": "./cmd/api"}]}`.
    Targets {
        /// The spec file (goapp.yaml).
        file: PathBuf,
        /// A build arg for `${NAME}` in the spec, as `NAME=value` (repeatable).
        #[arg(long = "build-arg", value_name = "NAME=VALUE")]
        build_args: Vec<String>,
    },
    /// Print the spec's JSON Schema (docs/goapp.schema.json).
    Schema,
    /// Print the spec reference (docs/spec.md).
    Docs,
    /// Print the LLB a spec becomes for one target platform.
    Llb {
        /// The spec file (goapp.yaml).
        file: PathBuf,
        /// The target platform.
        #[arg(long, default_value = "linux/amd64")]
        platform: String,
        /// The platform the builder runs on.
        #[arg(long, default_value = "linux/amd64")]
        build_platform: String,
        /// Rewrite the registry of every image (as the GOAPP_REGISTRY_MIRROR build arg does).
        #[arg(long)]
        registry_mirror: Option<String>,
        /// A build arg for `${NAME}` in the spec, as `NAME=value` (repeatable).
        #[arg(long = "build-arg", value_name = "NAME=VALUE")]
        build_args: Vec<String>,
        /// Write the marshalled pb.Definition (what `buildctl build` reads on stdin) instead of
        /// the readable dump.
        #[arg(long)]
        raw: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gateway => run_gateway(),
        Command::Validate { file, build_args } => validate(&file, &build_args),
        Command::Targets { file, build_args } => print_targets(&file, &build_args),
        Command::Schema => {
            print!("{}", llb_gen::schema::json_schema_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Docs => {
            print!("{}", llb_gen::schema::reference_markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Llb { file, platform, build_platform, registry_mirror, build_args, raw } => {
            print_llb(&file, &platform, &build_platform, registry_mirror.as_deref(), &build_args, raw)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("goapp-frontend: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_gateway() -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(frontend::serve())?;
    Ok(ExitCode::SUCCESS)
}

fn parse_build_args(build_args: &[String]) -> Result<BTreeMap<String, String>> {
    let mut args = BTreeMap::new();
    for a in build_args {
        let (k, v) = a.split_once('=').with_context(|| format!("--build-arg {a}: write NAME=value"))?;
        args.insert(k.to_string(), v.to_string());
    }
    Ok(args)
}

fn load(file: &PathBuf, build_args: &[String]) -> Result<Result<(llb_gen::Loaded, Vec<u8>, String), llb_gen::Diagnostics>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.display().to_string();
    Ok(llb_gen::load(&name, &bytes, &parse_build_args(build_args)?).map(|s| (s, bytes, name)))
}

fn color() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn validate(file: &PathBuf, build_args: &[String]) -> Result<ExitCode> {
    match load(file, build_args)? {
        Ok((loaded, _, _)) => {
            if !loaded.warnings.items.is_empty() {
                eprint!("{}", loaded.warnings.render(color()));
            }
            println!("{}: ok", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => {
            eprint!("{}", diags.render(color()));
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_targets(file: &PathBuf, build_args: &[String]) -> Result<ExitCode> {
    let spec = match load(file, build_args)? {
        Ok((loaded, _, _)) => loaded.spec,
        Err(diags) => {
            eprint!("{}", diags.render(color()));
            return Ok(ExitCode::FAILURE);
        }
    };
    let targets: Vec<_> = spec.targets.iter().map(|t| serde_json::json!({"name": t.name.value, "main": t.main.value})).collect();
    println!("{}", serde_json::json!({"module": spec.module.value, "targets": targets}));
    Ok(ExitCode::SUCCESS)
}

/// The go.work, else the go.mod, of the spec's module, taking the spec's directory as the
/// build context (as `docker buildx build -f goapp.yaml .` beside it does).
fn read_go_module(spec_file: &std::path::Path, spec: &llb_gen::Spec) -> Result<Result<Option<llb_gen::toolchain::ModFile>, llb_gen::Diagnostics>> {
    let context = spec_file.parent().unwrap_or(std::path::Path::new("."));
    let module = context.join(&spec.module.value);
    for name in ["go.work", "go.mod"] {
        let path = module.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok(llb_gen::toolchain::ModFile::parse(&path.display().to_string(), &text).map(Some)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    Ok(Ok(None))
}

fn print_llb(file: &PathBuf, platform: &str, build_platform: &str, mirror: Option<&str>, build_args: &[String], raw: bool) -> Result<ExitCode> {
    let (spec, bytes, name) = match load(file, build_args)? {
        Ok((loaded, bytes, name)) => (loaded.spec, bytes, name),
        Err(diags) => {
            eprint!("{}", diags.render(color()));
            return Ok(ExitCode::FAILURE);
        }
    };
    let target = Platform::parse(platform)?;
    let build_platform = Platform::parse(build_platform)?;
    let go_module = match read_go_module(file, &spec)? {
        Ok(m) => m,
        Err(diags) => {
            eprint!("{}", diags.render(color()));
            return Ok(ExitCode::FAILURE);
        }
    };
    let args = parse_build_args(build_args)?;
    let lowered = llb_gen::lower::lower_unresolved(&spec, &name, &bytes, &target, &build_platform, mirror, &args, go_module.as_ref())?;
    let mut out = std::io::stdout().lock();
    if raw {
        out.write_all(&lowered.definition.encode_to_vec())?;
    } else {
        out.write_all(subrequests::llb_text(&lowered)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
