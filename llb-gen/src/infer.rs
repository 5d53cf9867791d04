//! Zero configuration: the spec a Go module needs, inferred from its go.mod (or go.work) and
//! its Go files. [`scan`] reads what the code says of itself (package names, `import "C"`
//! and its `#cgo` lines, literal listen addresses, `go:embed` patterns); [`infer`] decides the
//! targets; [`build_spec`] writes the spec a build without one uses (or says why the module
//! needs one), and [`init_spec`] the commented spec `goapp-frontend init` writes. Pure: the
//! caller reads the files (from disk, or from the build context through BuildKit).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The file names that stand for a module in place of a spec (`-f go.mod`).
pub const MODULE_FILES: &[&str] = &["go.mod", "go.work"];

/// Whether the build's spec file is a module file: the build infers its spec.
pub fn is_module_file(filename: &str) -> bool {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    MODULE_FILES.contains(&base)
}

/// Directories never searched for Go packages: what `go build ./...` skips, and vendored code.
pub fn skipped_dir(name: &str) -> bool {
    name == "vendor" || name == "testdata" || name.starts_with('.') || name.starts_with('_')
}

/// Whether a file is one of a package's Go files (not a test).
pub fn is_go_source(name: &str) -> bool {
    name.ends_with(".go") && !name.ends_with("_test.go") && !name.starts_with(['.', '_'])
}

/// The most of each Go file that is read: its package clause, imports and preamble are near
/// the top, and a listen address further down is only a hint.
pub const MAX_GO_FILE_BYTES: usize = 256 * 1024;

/// What one Go file says of itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoFile {
    /// `package NAME`; `None` when the file has none (not Go, or cut short).
    pub package: Option<String>,
    /// `//go:build ignore`: never part of its package.
    pub ignored: bool,
    pub imports_c: bool,
    /// The `#cgo pkg-config:` names and `#cgo LDFLAGS: -lNAME` libraries of its preamble.
    pub pkg_config: Vec<String>,
    pub libs: Vec<String>,
    /// Ports of literal listen addresses (`":8080"` on a line that listens or sets an
    /// address).
    pub ports: Vec<u16>,
    /// The path of each `//go:embed` pattern, up to its first wildcard.
    pub embeds: Vec<String>,
    /// Whether it has `//go:generate` lines.
    pub generates: bool,
}

/// Reads what [`GoFile`] holds from a Go file's text.
pub fn scan(text: &str) -> GoFile {
    let mut f = GoFile::default();
    let tokens = tokens(text);
    let mut i = 0;
    // Before the package clause: build constraints.
    while i < tokens.len() {
        match &tokens[i].kind {
            Tok::Comment(c) => {
                if let Some(expr) = c.strip_prefix("//go:build ") {
                    f.ignored |= expr.trim() == "ignore";
                }
            }
            Tok::Word(w) if w == "package" => break,
            _ => return f,
        }
        i += 1;
    }
    let Some(Tok::Word(name)) = tokens.get(i + 1).map(|t| &t.kind) else { return f };
    f.package = Some(name.clone());
    i += 2;
    // The imports, and the comments before them (cgo's preamble).
    let mut preamble = String::new();
    while i < tokens.len() {
        match &tokens[i].kind {
            Tok::Comment(c) => preamble.push_str(&format!("{c}\n")),
            Tok::Punct(';') => {}
            Tok::Word(w) if w == "import" => {
                let mut j = i + 1;
                let grouped = matches!(tokens.get(j).map(|t| &t.kind), Some(Tok::Punct('(')));
                if grouped {
                    j += 1;
                }
                while j < tokens.len() {
                    match &tokens[j].kind {
                        Tok::Str(path) => {
                            if path == "C" {
                                f.imports_c = true;
                                cgo_lines(&preamble, &mut f);
                            }
                            if !grouped {
                                break;
                            }
                        }
                        Tok::Punct(')') if grouped => break,
                        _ => {}
                    }
                    j += 1;
                }
                preamble.clear();
                i = j;
            }
            _ => break,
        }
        i += 1;
    }
    // Listen addresses and embeds anywhere in the file.
    let lines: Vec<&str> = text.lines().collect();
    for t in &tokens {
        match &t.kind {
            Tok::Str(s) => {
                let line = lines.get(t.line).copied().unwrap_or("");
                let listens = ["Listen", "listen", "Addr", "addr", "Port", "port"].iter().any(|k| line.contains(k)) && !line.contains("Dial");
                if let Some(port) = listen_port(s).filter(|_| listens)
                    && !f.ports.contains(&port)
                {
                    f.ports.push(port);
                }
            }
            Tok::Comment(c) => {
                f.generates |= c.starts_with("//go:generate ");
                if let Some(patterns) = c.strip_prefix("//go:embed ") {
                    for p in patterns.split_whitespace() {
                        let p = p.trim_matches(['"', '`']).trim_start_matches("all:");
                        let fixed: Vec<&str> = p.split('/').take_while(|e| !e.contains(['*', '?', '['])).collect();
                        let path = fixed.join("/");
                        if !path.is_empty() && !f.embeds.contains(&path) {
                            f.embeds.push(path);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    f
}

/// The `#cgo` lines of a preamble: pkg-config names, and `-l` libraries.
fn cgo_lines(preamble: &str, f: &mut GoFile) {
    for line in preamble.lines() {
        let line = line.trim_start_matches(['/', '*', ' ', '\t']).trim();
        let Some(rest) = line.strip_prefix("#cgo ") else { continue };
        let Some((what, values)) = rest.split_once(':') else { continue };
        let what = what.split_whitespace().last().unwrap_or("");
        for v in values.split_whitespace() {
            match what {
                "pkg-config" if !v.starts_with('-') && !f.pkg_config.iter().any(|p| p == v) => f.pkg_config.push(v.to_string()),
                "LDFLAGS" => {
                    if let Some(lib) = v.strip_prefix("-l").filter(|l| !l.is_empty() && !f.libs.iter().any(|x| x == l)) {
                        f.libs.push(lib.to_string());
                    }
                }
                _ => {}
            }
        }
    }
}

/// The port of a listen address literal: `:8080`, `0.0.0.0:8080`, `[::]:8080`,
/// `localhost:8080`, `127.0.0.1:8080`.
fn listen_port(s: &str) -> Option<u16> {
    let (host, port) = s.rsplit_once(':')?;
    let host_ok = ["", "0.0.0.0", "[::]", "localhost", "127.0.0.1"].contains(&host);
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    (host_ok && port.to_string() == s.rsplit_once(':')?.1).then_some(port)
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    /// An interpreted or raw string literal's contents.
    Str(String),
    Comment(String),
    Punct(char),
}

struct Token {
    kind: Tok,
    /// 0-based.
    line: usize,
}

/// Go's tokens, as far as [`scan`] needs them: words, strings, comments (a `/* */` comment
/// as one), punctuation; numbers and runes are words.
fn tokens(text: &str) -> Vec<Token> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 0;
    while i < b.len() {
        let c = b[i];
        let start_line = line;
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && b.get(i + 1) == Some(&'/') {
            let end = b[i..].iter().position(|&x| x == '\n').map_or(b.len(), |p| i + p);
            out.push(Token { kind: Tok::Comment(b[i..end].iter().collect::<String>().trim_end().to_string()), line: start_line });
            i = end;
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            let end = (i + 2..b.len().saturating_sub(1)).find(|&j| b[j] == '*' && b[j + 1] == '/').map_or(b.len(), |j| j + 2);
            let body: String = b[i..end].iter().collect();
            line += body.matches('\n').count();
            out.push(Token { kind: Tok::Comment(body), line: start_line });
            i = end;
        } else if c == '"' || c == '\'' {
            let mut j = i + 1;
            let mut s = String::new();
            while j < b.len() && b[j] != c && b[j] != '\n' {
                if b[j] == '\\' && j + 1 < b.len() {
                    s.push(b[j + 1]);
                    j += 2;
                } else {
                    s.push(b[j]);
                    j += 1;
                }
            }
            out.push(Token { kind: if c == '"' { Tok::Str(s) } else { Tok::Word(s) }, line: start_line });
            i = j + 1;
        } else if c == '`' {
            let end = b[i + 1..].iter().position(|&x| x == '`').map_or(b.len(), |p| i + 1 + p);
            let s: String = b[i + 1..end].iter().collect();
            line += s.matches('\n').count();
            out.push(Token { kind: Tok::Str(s), line: start_line });
            i = end + 1;
        } else if c.is_alphanumeric() || c == '_' {
            let end = b[i..].iter().position(|&x| !(x.is_alphanumeric() || x == '_' || x == '.')).map_or(b.len(), |p| i + p);
            out.push(Token { kind: Tok::Word(b[i..end].iter().collect()), line: start_line });
            i = end;
        } else {
            out.push(Token { kind: Tok::Punct(c), line: start_line });
            i += 1;
        }
    }
    out
}

/// The module (or workspace) as the caller read it: its module file, and the Go files of
/// its packages by path relative to the module file's directory (`cmd/api/main.go`).
#[derive(Clone, Debug, Default)]
pub struct Module {
    /// `go.mod` or `go.work`, and its text.
    pub file: String,
    pub text: String,
    pub go_files: BTreeMap<String, String>,
    /// Whether `vendor/modules.txt` is there.
    pub vendored: bool,
    /// Every file and directory of the module (relative), for the `go:embed` paths.
    pub paths: BTreeSet<String>,
}

/// A binary the module's code shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    /// `./cmd/api`, or `.`.
    pub main: String,
}

/// What the inference found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inference {
    /// The module path (go.mod), or the workspace's first module's.
    pub module_path: String,
    pub name: String,
    /// The binaries: `package main` under `cmd/`, else the one package main there is.
    pub targets: Vec<Found>,
    /// Every other `package main` (a tool, a generator), by directory.
    pub other_mains: Vec<String>,
    /// The packages (directories) that import "C".
    pub cgo: Vec<String>,
    /// The Debian packages their `#cgo` lines name, and the names it could not map.
    pub c_packages: Vec<String>,
    pub unknown_c: Vec<String>,
    pub ports: Vec<u16>,
    /// `go:embed` directories (relative to the module), and those that are not there (made by
    /// a generator).
    pub embeds: Vec<String>,
    pub missing_embeds: Vec<String>,
    /// The packages with `//go:generate` lines.
    pub generate: Vec<String>,
    pub vendored: bool,
    /// A workspace: the modules it uses.
    pub workspace: Vec<String>,
}

/// Why a module needs a spec.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NeedsSpec(pub String);

/// What the module's code says: its binaries, cgo, ports and embeds.
pub fn infer(m: &Module) -> Result<Inference, NeedsSpec> {
    let (module_path, workspace) = if m.file.ends_with("go.work") {
        let uses = work_uses(&m.text);
        if uses.is_empty() {
            return Err(NeedsSpec(format!("{} uses no module: add a `use ./DIR` line, or build from a module's go.mod", m.file)));
        }
        (uses[0].clone(), uses)
    } else {
        let path = m.text.lines().find_map(|l| l.trim().strip_prefix("module ")).map(|p| p.trim().trim_matches('"').to_string());
        (path.ok_or_else(|| NeedsSpec(format!("{} has no `module` line: it is not a Go module", m.file)))?, Vec::new())
    };
    // The packages: directory → its files' facts (ignored files left out).
    let mut packages: BTreeMap<String, Vec<GoFile>> = BTreeMap::new();
    for (path, text) in &m.go_files {
        let f = scan(text);
        if f.ignored || f.package.is_none() {
            continue;
        }
        let dir = path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_else(|| ".".into());
        packages.entry(dir).or_default().push(f);
    }
    let is_main = |files: &Vec<GoFile>| files.iter().any(|f| f.package.as_deref() == Some("main"));
    let mains: Vec<String> = packages.iter().filter(|(_, f)| is_main(f)).map(|(d, _)| d.clone()).collect();
    let under_cmd: Vec<String> = mains.iter().filter(|d| d.starts_with("cmd/") || d.contains("/cmd/")).cloned().collect();
    let (chosen, others): (Vec<String>, Vec<String>) = if !under_cmd.is_empty() {
        (under_cmd.clone(), mains.iter().filter(|d| !under_cmd.contains(d)).cloned().collect())
    } else if mains.iter().any(|d| d == ".") {
        (vec![".".into()], mains.iter().filter(|d| *d != ".").cloned().collect())
    } else {
        (mains.clone(), Vec::new())
    };
    let name = spec_name(&module_path);
    let mut targets: Vec<Found> = Vec::new();
    for dir in &chosen {
        let base = if dir == "." { name.clone() } else { spec_name(dir) };
        let mut n = base.clone();
        let mut k = 2;
        while targets.iter().any(|t| t.name == n) || crate::spec::RESERVED_TARGETS.iter().any(|(r, _)| *r == n) {
            n = format!("{base}-{k}");
            k += 1;
        }
        targets.push(Found { name: n, main: if dir == "." { ".".into() } else { format!("./{dir}") } });
    }
    // The program's own name first: the entrypoint.
    if let Some(i) = targets.iter().position(|t| t.name == name) {
        let t = targets.remove(i);
        targets.insert(0, t);
    }
    let mut cgo = Vec::new();
    let mut c = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    let mut ports = BTreeSet::new();
    let mut embeds = BTreeSet::new();
    let mut generate = Vec::new();
    for (dir, files) in &packages {
        for f in files {
            if f.imports_c && !cgo.contains(dir) {
                cgo.push(dir.clone());
            }
            let named = f.pkg_config.iter().map(|p| (p, true, format!("pkg-config {p}"))).chain(f.libs.iter().map(|l| (l, false, format!("-l{l}"))));
            for (name, pkg_config, written) in named {
                match debian_package(name, pkg_config) {
                    Some("") => {}
                    Some(d) => drop(c.insert(d.to_string())),
                    None => drop(unknown.insert(written)),
                }
            }
            ports.extend(f.ports.iter().copied());
            if f.generates && !generate.contains(dir) {
                generate.push(dir.clone());
            }
            for e in &f.embeds {
                embeds.insert(if dir == "." { e.clone() } else { format!("{dir}/{e}") });
            }
        }
    }
    let missing_embeds = embeds.iter().filter(|e| !m.paths.contains(*e) && !m.go_files.contains_key(*e)).cloned().collect();
    Ok(Inference {
        module_path,
        name,
        targets,
        other_mains: others,
        cgo,
        c_packages: c.into_iter().collect(),
        unknown_c: unknown.into_iter().collect(),
        ports: ports.into_iter().collect(),
        embeds: embeds.into_iter().collect(),
        missing_embeds,
        generate,
        vendored: m.vendored,
        workspace,
    })
}

/// The `use` directories of a go.work, as written (`./api`).
fn work_uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if block {
            if line == ")" {
                block = false;
            } else if !line.is_empty() {
                out.push(line.trim_matches('"').to_string());
            }
        } else if let Some(rest) = line.strip_prefix("use") {
            let rest = rest.trim();
            if rest == "(" {
                block = true;
            } else if !rest.is_empty() {
                out.push(rest.trim_matches('"').to_string());
            }
        }
    }
    out
}

/// A spec name from a module path or a directory: its last element that is not a major
/// version (`example.com/api/v2` → `api`), in the characters a name may have.
pub fn spec_name(path: &str) -> String {
    let elems: Vec<&str> = path.trim_end_matches('/').split('/').filter(|e| !e.is_empty() && *e != ".").collect();
    let last = elems.iter().rev().find(|e| !(e.len() > 1 && e.starts_with('v') && e[1..].bytes().all(|b| b.is_ascii_digit()))).copied().unwrap_or("app");
    let name: String = last.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if name.is_empty() { "app".into() } else { name.chars().take(128).collect() }
}

/// The Debian package of a pkg-config name (`pkg_config`) or an `-l` library: `Some("")` for
/// the C library's own (no package), `None` when not known.
fn debian_package(name: &str, pkg_config: bool) -> Option<&'static str> {
    const LIBC: &[&str] = &["c", "m", "dl", "pthread", "rt", "resolv", "util"];
    const KNOWN: &[(&str, &str, &str)] = &[
        // (pkg-config name, -l name, Debian package)
        ("sqlite3", "sqlite3", "libsqlite3-dev"),
        ("zlib", "z", "zlib1g-dev"),
        ("openssl", "ssl", "libssl-dev"),
        ("libcrypto", "crypto", "libssl-dev"),
        ("libssl", "ssl", "libssl-dev"),
        ("libcurl", "curl", "libcurl4-openssl-dev"),
        ("libpq", "pq", "libpq-dev"),
        ("libzstd", "zstd", "libzstd-dev"),
        ("liblz4", "lz4", "liblz4-dev"),
        ("libpng", "png", "libpng-dev"),
        ("libjpeg", "jpeg", "libjpeg-dev"),
        ("libxml-2.0", "xml2", "libxml2-dev"),
        ("libsodium", "sodium", "libsodium-dev"),
        ("rdkafka", "rdkafka", "librdkafka-dev"),
        ("libseccomp", "seccomp", "libseccomp-dev"),
        ("libsystemd", "systemd", "libsystemd-dev"),
        ("libudev", "udev", "libudev-dev"),
        ("gpgme", "gpgme", "libgpgme-dev"),
        ("libgit2", "git2", "libgit2-dev"),
        ("x11", "X11", "libx11-dev"),
        ("libffi", "ffi", "libffi-dev"),
        ("libbpf", "bpf", "libbpf-dev"),
        ("liblzma", "lzma", "liblzma-dev"),
        ("bzip2", "bz2", "libbz2-dev"),
        ("libarchive", "archive", "libarchive-dev"),
        ("libmagic", "magic", "libmagic-dev"),
        ("libpcap", "pcap", "libpcap-dev"),
    ];
    if !pkg_config && LIBC.contains(&name) {
        return Some("");
    }
    KNOWN.iter().find(|(p, l, _)| if pkg_config { *p == name } else { *l == name }).map(|(_, _, d)| *d)
}

/// The spec of a build without one (`-f go.mod`): the binaries the code shows on the static
/// base, as the user; or why the module needs a spec, with the one `init` would write.
pub fn build_spec(inf: &Inference, module_file: &str) -> Result<String, NeedsSpec> {
    require_main(inf, module_file)?;
    let write = |why: String| NeedsSpec(format!("{why}\n\nA spec that builds it (goapp-frontend init writes one):\n\n{}", init_spec(inf, None)));
    if inf.targets.len() > 1 && !inf.targets.iter().all(|t| t.main.starts_with("./cmd/")) {
        let found: Vec<&str> = inf.targets.iter().map(|t| t.main.as_str()).collect();
        return Err(write(format!(
            "{module_file}: the module has several `package main` outside cmd/ ({}), and goapp builds without a spec only those under cmd/, or the module's own",
            found.join(", ")
        )));
    }
    if !inf.cgo.is_empty() {
        return Err(write(format!(
            "{module_file}: the module uses cgo (`import \"C\"` in {}): a cgo build needs its C libraries and a base with glibc, which a spec names",
            inf.cgo.iter().map(|d| if d == "." { "the module's root".to_string() } else { d.clone() }).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut s = format!("# The spec goapp inferred from {module_file}.\nname: {}\n", inf.name);
    write_targets(&mut s, inf, false);
    s.push_str("runtime:\n  base: static\n");
    Ok(s)
}

/// A package path as a YAML value: as it is, or quoted when a character in it could mean
/// something else to YAML (a directory named `a #b`).
fn yaml_path(path: &str) -> String {
    if path.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c)) { path.to_string() } else { serde_json::to_string(path).unwrap_or_default() }
}

/// A module with no `package main` has nothing to build, with a spec or without.
pub fn require_main(inf: &Inference, module_file: &str) -> Result<(), NeedsSpec> {
    if !inf.targets.is_empty() {
        return Ok(());
    }
    Err(NeedsSpec(format!(
        "{module_file}: the module has no `package main` (looked for under cmd/ and in every package of the module): there is nothing to build; write a spec that names the program's package (`main: ./path/to/main`)"
    )))
}

fn write_targets(s: &mut String, inf: &Inference, comments: bool) {
    if let [t] = inf.targets.as_slice()
        && t.name == inf.name
    {
        let _ = writeln!(s, "main: {}", yaml_path(&t.main));
        return;
    }
    s.push_str("targets:\n");
    for t in &inf.targets {
        let _ = writeln!(s, "  - name: {}\n    main: {}", t.name, yaml_path(&t.main));
    }
    if comments && !inf.other_mains.is_empty() {
        let _ = writeln!(s, "  # Also package main, left out: {}", inf.other_mains.iter().map(|d| format!("./{d}")).collect::<Vec<_>>().join(", "));
    }
}

/// The commented spec `goapp-frontend init` writes (and `--call goapp.init` returns):
/// what [`build_spec`] builds, plus what the code shows: cgo with the C packages its `#cgo`
/// lines name, the ports of its listen addresses, its vendor directory, its `go:embed`
/// directories. `syntax`: the frontend image for the `# syntax=` line.
pub fn init_spec(inf: &Inference, syntax: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(image) = syntax {
        let _ = writeln!(s, "# syntax={image}");
    }
    let _ = writeln!(s, "# The goapp spec of {} (written by goapp-frontend init from its code; edit freely).", inf.module_path);
    let _ = writeln!(s, "# Reference: the `goapp-frontend docs` command, or docs/spec.md.");
    let _ = writeln!(s, "name: {}", inf.name);
    write_targets(&mut s, inf, true);
    if !inf.workspace.is_empty() {
        let _ = writeln!(s, "# A workspace (go.work) of {}.", inf.workspace.join(", "));
    }
    let cgo = !inf.cgo.is_empty();
    if cgo || inf.vendored {
        s.push_str("go:\n");
    }
    if inf.vendored {
        s.push_str("  # The module's vendor/ directory: nothing is downloaded.\n  mod: vendor\n");
    }
    if cgo {
        let _ = writeln!(s, "  # `import \"C\"` in {}: the C code is compiled with gcc and links glibc.", inf.cgo.join(", "));
        s.push_str("  cgo: true\n");
        if !inf.c_packages.is_empty() {
            let _ = writeln!(s, "  # From the #cgo lines: the Debian packages of the C libraries.\n  c_packages: [{}]", inf.c_packages.join(", "));
        }
        for u in &inf.unknown_c {
            let _ = writeln!(s, "  # {u}: add the Debian -dev package that provides it to c_packages.");
        }
    }
    s.push_str("runtime:\n");
    if cgo {
        s.push_str("  # A base with glibc, which the binaries link (or set go.static: true for `static`).\n  base: distroless/cc\n");
    } else {
        s.push_str("  # No shell, no package manager: CA certificates, time zones, a nonroot user.\n  base: static\n");
    }
    if !inf.ports.is_empty() {
        let _ = writeln!(s, "  # From the listen addresses in the code.\n  ports: [{}]", inf.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", "));
    }
    if !inf.generate.is_empty() {
        let _ = writeln!(s, "# //go:generate lines in {}: run before the compile, in the builder.", inf.generate.join(", "));
        s.push_str("generate:\n  - go generate ./...\n");
    }
    if !inf.embeds.is_empty() {
        let _ = writeln!(s, "# go:embed reads {} at compile time, from the build context.", inf.embeds.join(", "));
    }
    for e in &inf.missing_embeds {
        let _ = writeln!(s, "# {e} is not in the module: if a tool makes it, add it with `assets` or `generate`.");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_says_its_package_cgo_ports_and_embeds() {
        let f = scan(
            "// Copyright\n\n//go:build linux\n\npackage main\n\n// #cgo pkg-config: sqlite3\n// #cgo LDFLAGS: -lz -lm\n// #include <x.h>\nimport \"C\"\n\nimport (\n\t\"fmt\"\n\t_ \"embed\"\n)\n\n//go:embed static/*.html templates\nvar x string\n\nfunc main() {\n\tlisten := flag.String(\"listen\", \":8080\", \"addr\")\n\tredis.Dial(\":6379\")\n\thttp.ListenAndServe(\"0.0.0.0:9090\", nil)\n\tfmt.Println(\"a:1\")\n}\n",
        );
        assert_eq!(f.package.as_deref(), Some("main"));
        assert!(f.imports_c && !f.ignored);
        assert_eq!(f.pkg_config, ["sqlite3"]);
        assert_eq!(f.libs, ["z", "m"]);
        assert_eq!(f.ports, [8080, 9090]);
        assert_eq!(f.embeds, ["static", "templates"]);
        assert_eq!(scan("package x\n//go:embed web/dist all:assets/img/*.png\nvar f embed.FS\n").embeds, ["web/dist", "assets/img"]);
        let ignored = scan("//go:build ignore\n\npackage main\n");
        assert!(ignored.ignored);
        assert!(scan("/* a */ package lib; import \"C\"").imports_c);
        assert_eq!(scan("not go").package, None);
        assert!(scan("package x\nimport `C`\n").imports_c);
    }

    fn module(files: &[(&str, &str)]) -> Module {
        Module {
            file: "go.mod".into(),
            text: "module example.com/shop/v2\n\ngo 1.26\n".into(),
            go_files: files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect(),
            vendored: false,
            paths: BTreeSet::new(),
        }
    }

    #[test]
    fn the_binaries_are_under_cmd_or_the_module_itself() {
        let m =
            module(&[("cmd/api/main.go", "package main"), ("cmd/shop/main.go", "package main"), ("tools/gen.go", "package main"), ("lib/a.go", "package lib")]);
        let inf = infer(&m).unwrap();
        assert_eq!(inf.name, "shop");
        // The module's own name first: the entrypoint.
        assert_eq!(inf.targets, [Found { name: "shop".into(), main: "./cmd/shop".into() }, Found { name: "api".into(), main: "./cmd/api".into() }]);
        assert_eq!(inf.other_mains, ["tools"]);
        let spec = build_spec(&inf, "go.mod").unwrap();
        assert!(spec.contains("targets:\n  - name: shop\n    main: ./cmd/shop\n  - name: api\n"), "{spec}");
        crate::load("goapp.yaml", spec.as_bytes(), &Default::default()).unwrap();
        // A directory whose name YAML would misread.
        let odd = infer(&module(&[("cmd/a #b: c/main.go", "package main")])).unwrap();
        let spec = build_spec(&odd, "go.mod").unwrap();
        assert!(spec.contains("main: \"./cmd/a #b: c\""), "{spec}");
        let root = infer(&module(&[("main.go", "package main"), ("gen.go", "//go:build ignore\n\npackage main")])).unwrap();
        assert_eq!(root.targets, [Found { name: "shop".into(), main: ".".into() }]);
        assert_eq!(build_spec(&root, "go.mod").unwrap(), "# The spec goapp inferred from go.mod.\nname: shop\nmain: .\nruntime:\n  base: static\n");
    }

    #[test]
    fn a_module_that_needs_a_spec_says_so_with_the_spec() {
        let none = infer(&module(&[("lib/a.go", "package lib")])).unwrap();
        assert!(build_spec(&none, "go.mod").unwrap_err().0.contains("no `package main`"));
        let several = infer(&module(&[("server/main.go", "package main"), ("client/main.go", "package main")])).unwrap();
        let e = build_spec(&several, "go.mod").unwrap_err().0;
        assert!(e.contains("several `package main` outside cmd/ (./client, ./server)") && e.contains("  - name: client\n    main: ./client"), "{e}");
        let cgo = infer(&module(&[("main.go", "package main\n// #cgo LDFLAGS: -lsqlite3\nimport \"C\"\n")])).unwrap();
        let e = build_spec(&cgo, "go.mod").unwrap_err().0;
        assert!(e.contains("uses cgo (`import \"C\"` in the module's root)") && e.contains("c_packages: [libsqlite3-dev]"), "{e}");
        assert!(e.contains("base: distroless/cc"), "{e}");
    }

    #[test]
    fn init_writes_a_spec_that_loads() {
        let mut m = module(&[("main.go", "package main\n//go:embed web/dist\nvar f embed.FS\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n")]);
        m.vendored = true;
        let inf = infer(&m).unwrap();
        let spec = init_spec(&inf, Some("registry.example.com/goapp-frontend:1"));
        assert!(spec.starts_with("# syntax=registry.example.com/goapp-frontend:1\n"), "{spec}");
        assert!(spec.contains("  mod: vendor\n") && spec.contains("  ports: [8080]\n") && spec.contains("# web/dist is not in the module"), "{spec}");
        assert!(!spec.contains("generate:"), "{spec}");
        m.go_files.insert("web/web.go".into(), "package web\n\n//go:generate go run ./gen\n".into());
        let spec = init_spec(&infer(&m).unwrap(), None);
        assert!(spec.contains("lines in web: run before the compile, in the builder.\ngenerate:\n  - go generate ./...\n"), "{spec}");
        crate::load("goapp.yaml", spec.as_bytes(), &Default::default()).unwrap();
    }

    #[test]
    fn names_and_workspaces() {
        assert_eq!(spec_name("example.com/My_Service/v3"), "my_service");
        assert_eq!(spec_name("cmd/hello world"), "hello-world");
        assert_eq!(spec_name("example.com/v2"), "example.com");
        assert_eq!(work_uses("go 1.26\n\nuse (\n\t./api\n\t./greeting // lib\n)\nuse ./x\n"), ["./api", "./greeting", "./x"]);
        let w = Module {
            file: "go.work".into(),
            text: "go 1.26\nuse ./api\n".into(),
            go_files: [("api/main.go".to_string(), "package main".to_string())].into(),
            ..Default::default()
        };
        let inf = infer(&w).unwrap();
        assert_eq!((inf.name.as_str(), inf.targets[0].main.as_str()), ("api", "./api"));
    }
}
