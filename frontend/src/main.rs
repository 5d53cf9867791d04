//! `goapp-frontend`: goapp's BuildKit gateway frontend, and a local command line that checks a
//! spec and shows the LLB it becomes, without BuildKit.

#[cfg(test)]
mod build_tests;
mod errors;
#[cfg(test)]
mod fake;
mod frontend;
mod gateway;
mod images;
mod keys;
mod opts;
mod proto;
mod reads;
mod result;
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
    /// Print what a build of the spec would do, as JSON: platforms, binaries, the Go release
    /// and what chose it, the images pulled, named contexts.
    Plan {
        /// The target platforms, comma-separated (default: the spec's, else the build platform).
        #[arg(long, default_value = "")]
        platform: String,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Print the LLB a spec becomes for one target platform.
    Llb {
        /// The target platform.
        #[arg(long, default_value = "linux/amd64")]
        platform: String,
        #[command(flatten)]
        build: BuildArgs,
        /// Write the marshalled pb.Definition (what `buildctl build` reads on stdin) instead of
        /// the readable dump.
        #[arg(long)]
        raw: bool,
    },
    /// Write a commented goapp.yaml for the Go module (or go.work workspace) in DIR, from
    /// what its code shows: its programs, cgo and the C libraries its #cgo lines name, its
    /// listen ports, vendor/, go:embed directories.
    Init {
        /// The module's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Replace an existing goapp.yaml.
        #[arg(long)]
        force: bool,
        /// Print the spec instead of writing it.
        #[arg(long)]
        stdout: bool,
        /// The frontend image of the spec's `# syntax=` line.
        #[arg(long, default_value = DEFAULT_SYNTAX)]
        syntax: String,
    },
}

/// The frontend image `init` names by default: the one this binary was built for
/// (`GOAPP_FRONTEND_IMAGE` when it was compiled), else the name it is published under.
pub(crate) const DEFAULT_SYNTAX: &str = match option_env!("GOAPP_FRONTEND_IMAGE") {
    Some(image) => image,
    None => "goapp-frontend",
};

/// What `plan` and `llb` build from besides the target platforms.
#[derive(clap::Args)]
struct BuildArgs {
    /// The spec file (goapp.yaml).
    file: PathBuf,
    /// The platform the builder runs on.
    #[arg(long, default_value = "linux/amd64")]
    build_platform: String,
    /// Rewrite the registry of every image (as the GOAPP_REGISTRY_MIRROR build arg does).
    #[arg(long)]
    registry_mirror: Option<String>,
    /// A build arg for `${NAME}` in the spec, as `NAME=value` (repeatable).
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    build_args: Vec<String>,
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
        Command::Plan { platform, build } => print_plan(&platform, &build),
        Command::Llb { platform, build, raw } => print_llb(&platform, &build, raw),
        Command::Init { dir, force, stdout, syntax } => init(&dir, force, stdout, &syntax),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("goapp-frontend: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `init`: the module in `dir`, read from disk, inferred, and its spec written beside it
/// (whole or not at all) unless one is there.
fn init(dir: &std::path::Path, force: bool, stdout: bool, syntax: &str) -> Result<ExitCode> {
    let module = read_module(dir)?;
    let inferred = llb_gen::infer::infer(&module).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    llb_gen::infer::require_main(&inferred, &dir.join(&module.file).display().to_string())?;
    let text = llb_gen::infer::init_spec(&inferred, Some(syntax));
    // What init writes must load as it is.
    if let Err(d) = llb_gen::load("goapp.yaml", text.as_bytes(), &BTreeMap::new()) {
        anyhow::bail!("the spec inferred for {} does not load; please report this:\n{}\n{text}", dir.display(), d.render(false));
    }
    if stdout {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let path = dir.join("goapp.yaml");
    if path.exists() && !force {
        anyhow::bail!("{} exists: pass --force to replace it, or --stdout to see the inferred spec", path.display());
    }
    let part = dir.join(".goapp.yaml.part");
    std::fs::write(&part, &text).with_context(|| format!("writing {}", part.display()))?;
    std::fs::rename(&part, &path).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {} (targets: {})", path.display(), inferred.targets.iter().map(|t| t.main.as_str()).collect::<Vec<_>>().join(", "));
    Ok(ExitCode::SUCCESS)
}

/// A module on disk: its go.mod (or go.work), the Go files of its packages (each at most
/// [`llb_gen::infer::MAX_GO_FILE_BYTES`]), and every path, without vendor/, testdata/ and
/// hidden directories.
fn read_module(dir: &std::path::Path) -> Result<llb_gen::infer::Module> {
    let file = llb_gen::infer::MODULE_FILES
        .iter()
        .rev()
        .find(|f| dir.join(f).is_file())
        .with_context(|| format!("{} has no go.mod or go.work: init writes the spec of a Go module, from its directory", dir.display()))?;
    let text = std::fs::read_to_string(dir.join(file)).with_context(|| format!("reading {}", dir.join(file).display()))?;
    let mut module = llb_gen::infer::Module { file: file.to_string(), text, vendored: dir.join("vendor/modules.txt").is_file(), ..Default::default() };
    let mut pending = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let here = if rel.is_empty() { dir.to_path_buf() } else { dir.join(&rel) };
        for entry in std::fs::read_dir(&here).with_context(|| format!("reading {}", here.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if !llb_gen::infer::skipped_dir(&name) {
                    module.paths.insert(path.clone());
                    pending.push(path);
                }
            } else {
                module.paths.insert(path.clone());
                if kind.is_file() && llb_gen::infer::is_go_source(&name) {
                    let mut text = Vec::new();
                    let f = std::fs::File::open(entry.path()).with_context(|| format!("reading {}", entry.path().display()))?;
                    std::io::Read::read_to_end(&mut std::io::Read::take(f, llb_gen::infer::MAX_GO_FILE_BYTES as u64), &mut text)?;
                    module.go_files.insert(path, String::from_utf8_lossy(&text).into_owned());
                }
            }
        }
    }
    Ok(module)
}

fn run_gateway() -> Result<ExitCode> {
    let started = std::time::SystemTime::now();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let served = rt.block_on(frontend::serve(started));
    drop(rt);
    gateway::log_exit(&opts::Opts::from_env());
    served?;
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

/// A spec loaded from a file: what the loader made of it, its bytes and its name.
type LoadedFile = (llb_gen::Loaded, Vec<u8>, String);

fn load(file: &PathBuf, build_args: &[String]) -> Result<Result<LoadedFile, llb_gen::Diagnostics>> {
    // Never more than one byte past the limit: the loader refuses the file then, and a
    // device such as /dev/zero is not read to the end.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?, llb_gen::load::MAX_SPEC_BYTES as u64 + 1),
        &mut bytes,
    )
    .with_context(|| format!("reading {}", file.display()))?;
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

/// The plan of a spec for `platforms`, taking the spec's directory as the build context (as
/// `docker buildx build -f goapp.yaml .` beside it does): its go.mod, go.work, go.sum,
/// vendor/modules.txt and .dockerignore are read from there. `Ok(Err(_))`: the spec or
/// go.mod has problems, already printed.
fn plan_from_disk(platforms: Vec<Platform>, b: &BuildArgs) -> Result<Option<llb_gen::Plan>> {
    let (file, build_platform, mirror, build_args) = (&b.file, b.build_platform.as_str(), b.registry_mirror.as_deref(), b.build_args.as_slice());
    let (loaded, bytes, name) = match load(file, build_args)? {
        Ok(l) => l,
        Err(diags) => {
            eprint!("{}", diags.render(color()));
            return Ok(None);
        }
    };
    let context = file.parent().unwrap_or(std::path::Path::new("."));
    let files = llb_gen::context::FactFiles::of(&loaded.spec.module.value);
    let facts = files.facts(&llb_gen::context::ContextSource::Local, |p| std::fs::read(context.join(p)).ok());
    let mut args = parse_build_args(build_args)?;
    if let Some(m) = mirror {
        args.insert(llb_gen::plan::MIRROR_ARG.to_string(), m.to_string());
    }
    let request = llb_gen::Request { platforms, build_platform: Platform::parse(build_platform)?, build_args: args, ..Default::default() };
    match llb_gen::plan(loaded.spec, llb_gen::plan::SpecSource { file: name, data: bytes }, &request, &facts) {
        Ok(plan) => Ok(Some(plan)),
        Err(llb_gen::PlanError::Diagnostics(diags)) => {
            eprint!("{}", diags.render(color()));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn print_plan(platforms: &str, build: &BuildArgs) -> Result<ExitCode> {
    let platforms = if platforms.is_empty() { Vec::new() } else { platforms.split(',').map(Platform::parse).collect::<Result<_, _>>()? };
    let Some(plan) = plan_from_disk(platforms, build)? else { return Ok(ExitCode::FAILURE) };
    println!("{}", serde_json::to_string_pretty(&plan.summary())?);
    Ok(ExitCode::SUCCESS)
}

fn print_llb(platform: &str, build: &BuildArgs, raw: bool) -> Result<ExitCode> {
    let target = Platform::parse(platform)?;
    let Some(plan) = plan_from_disk(vec![target.clone()], build)? else { return Ok(ExitCode::FAILURE) };
    let lowered = llb_gen::lower(&plan, &llb_gen::Resolved::unresolved(&plan), &target)?;
    let mut out = std::io::stdout().lock();
    if raw {
        out.write_all(&lowered.definition.encode_to_vec())?;
    } else {
        out.write_all(subrequests::llb_text(&lowered)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
