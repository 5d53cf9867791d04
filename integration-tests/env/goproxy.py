#!/usr/bin/env python3
"""Makes a Go module proxy, as plain files, from Debian's golang-*-dev packages.

    goproxy.py OUT_DIR SOURCE... [--group SOURCE...]... [--patch MODULE=PATCH]...

    SOURCE: PACKAGE.deb
          | --module-tarball TARBALL=MODULE@VERSION
          | --vendored-module PACKAGE.deb=MODULE

Each package ships Go sources under /usr/share/gocode/src. Every module found there (a
directory with a go.mod, or a package directory without one) is published in the layout of the
GOPROXY protocol: <module>/@v/list, <version>.info, <version>.mod and <version>.zip. Any static
file server then serves it as GOPROXY=http://host:port, and GOPROXY=file:///OUT_DIR works too.

The version comes from the package version (1.6.1-1 is v1.6.1; 1.0.6~git20210604-d5e0c0615ace-1
is a pseudo-version). Debian ships one version of each module, so each go.mod is rewritten to
require exactly the versions published here and nothing that is not; the rest of the sources is
published unchanged, less test data. The output depends only on the packages, so go.sum files made against it
stay valid.

Two more kinds of source publish modules Debian has no golang-*-dev package of:
--module-tarball publishes the module of a source tarball (its go.mod at the top or in the
tarball's one top-level directory, such as Debian's orig tarball of a Go program) at the given
path and version; --vendored-module publishes a module as a package vendors it (a vendor
directory with a modules.txt, such as the Go toolchain's src/cmd/vendor in golang-X.Y-src),
at the version modules.txt names, with a go.mod of its path and go directive only.

--group starts a group of sources. A module's go.mod requires modules of its own group and of
the groups before it, never of a later one, so a group added after the others publishes
modules beside theirs without changing a byte of what they publish: go.sum files made against
the first group stay valid. No module is published twice.

--patch applies a patch (a unified diff of paths relative to the module's root, as git apply
takes it, with or without context lines) to a module's sources before they are published.
"""

import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

GOCODE = "usr/share/gocode/src"


def escape(path):
    """Module path escaping of the proxy protocol: upper-case letters become !lower."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def deb_version(deb):
    out = subprocess.run(["dpkg-deb", "-f", deb, "Version"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def go_version(debian_version, module):
    upstream = debian_version.split(":")[-1]
    if "-" in upstream:
        upstream = upstream.rsplit("-", 1)[0]
    upstream = re.sub(r"\+(ds|dfsg|really).*$", "", upstream)
    m = re.match(r"^(\d+(?:\.\d+)*)~git(\d{8})[.-]([0-9a-f]{7,40})$", upstream)
    if m:
        base, date, commit = m.groups()
        parts = (base.split(".") + ["0", "0"])[:3]
        rev = (commit + "0" * 12)[:12]
        if parts == ["0", "0", "0"]:
            version = f"v0.0.0-{date}000000-{rev}"
        else:
            version = f"v{'.'.join(parts)}-0.{date}000000-{rev}"
    else:
        m = re.match(r"^(\d+(?:\.\d+)*)(?:~(.*))?$", upstream)
        if not m:
            raise SystemExit(f"{module}: cannot make a Go version of {debian_version}")
        parts = (m.group(1).split(".") + ["0", "0"])[:3]
        version = "v" + ".".join(parts) + (f"-{m.group(2)}" if m.group(2) else "")
    check_major(module, version)
    return version


def check_major(module, version):
    major = re.search(r"(?:/v|\.v)(\d+)$", module)
    if major and int(major.group(1)) >= 2 and not version.startswith(f"v{major.group(1)}."):
        raise SystemExit(f"{module}: version {version} does not match the module's major version")


def read_go_mod(text):
    """The module path and go directive of a go.mod, and the modules it requires."""
    module = go = None
    requires = []
    in_block = False
    for line in text.splitlines():
        line = line.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
            elif block_kind == "require":
                requires.append(line.split()[0].strip('"'))
            continue
        words = line.split()
        if words[0] == "module":
            module = words[1].strip('"')
        elif words[0] == "go":
            go = words[1]
        elif words[0] in ("require", "replace", "exclude", "retract", "toolchain", "godebug"):
            if len(words) > 1 and words[1] == "(":
                in_block, block_kind = True, words[0]
            elif words[0] == "require":
                requires.append(words[1].strip('"'))
    return module, go, requires


def find_modules(root):
    """(module path, directory, original go.mod text or None) for every module under root."""
    found = []
    src = os.path.join(root, GOCODE)
    covered = set()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        if "go.mod" in filenames:
            with open(os.path.join(dirpath, "go.mod")) as f:
                text = f.read()
            module, _, _ = read_go_mod(text)
            found.append((module, dirpath, text))
            covered.add(dirpath)
    if not found:
        # A package without a go.mod is one module whose path is the import path of the
        # deepest directory holding all of its Go packages.
        dirs = []
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)) and d != "testdata")
            if any(f.endswith(".go") for f in filenames):
                dirs.append(dirpath)
        if dirs:
            top = os.path.commonpath(dirs)
            found.append((os.path.relpath(top, src), top, None))
    return found


def module_files(moddir, others=()):
    """Files of the module rooted at moddir, relative to it: no nested modules (nor the
    directories in others), no vendor directories, no test data, no symbolic links, no
    version-control data."""
    files = []
    for dirpath, dirnames, filenames in os.walk(moddir):
        keep = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if os.path.islink(full) or d in ("vendor", ".git", ".hg", ".svn", "testdata"):
                continue
            if os.path.exists(os.path.join(full, "go.mod")) or full in others:
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not os.path.isfile(full) or name == "go.mod":
                continue
            files.append(os.path.relpath(full, moddir))
    return files


def tarball_module(tarball, module, version, tmp):
    """(directory, go.mod text) of the module a source tarball holds."""
    if not re.match(r"^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+incompatible)?$", version):
        raise SystemExit(f"{tarball}: {version} is no module version")
    check_major(module, version)
    root = tempfile.mkdtemp(dir=tmp)
    subprocess.run(["tar", "-xf", tarball, "-C", root, "--no-same-owner", "--no-same-permissions"], check=True)
    top = root
    entries = os.listdir(root)
    if not os.path.isfile(os.path.join(root, "go.mod")) and len(entries) == 1:
        top = os.path.join(root, entries[0])
    gomod = os.path.join(top, "go.mod")
    if not os.path.isfile(gomod) or os.path.islink(gomod):
        raise SystemExit(f"{tarball}: no go.mod at its top")
    with open(gomod) as f:
        text = f.read()
    found, _, _ = read_go_mod(text)
    if found != module:
        raise SystemExit(f"{tarball}: its go.mod is of {found}, not {module}")
    return top, text


def read_modules_txt(path):
    """{module path: (version, go version or None)} of a vendor directory's modules.txt."""
    found = {}
    current = None
    with open(path) as f:
        for line in f:
            words = line.split()
            if line.startswith("# ") and len(words) == 3:
                current = words[1]
                found[current] = [words[2], None]
            elif line.startswith("## ") and current:
                for item in line[3:].split(";"):
                    item = item.split()
                    if len(item) == 2 and item[0] == "go":
                        found[current][1] = item[1]
            elif line.startswith("# "):
                current = None
    return {m: tuple(v) for m, v in found.items()}


def vendored_module(deb, module, tmp):
    """(version, directory, go.mod text, directories of other modules inside it) of a module
    the package vendors."""
    root = tempfile.mkdtemp(dir=tmp)
    # (Only the package's vendor directories are unpacked: a toolchain's sources are large.)
    unpack = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", root, "--wildcards", "*/vendor/*"], stdin=unpack.stdout, check=True)
    unpack.stdout.close()
    if unpack.wait() != 0:
        raise SystemExit(f"dpkg-deb cannot read {deb}")
    hits = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        if os.path.basename(dirpath) == "vendor" and "modules.txt" in filenames:
            listed = read_modules_txt(os.path.join(dirpath, "modules.txt"))
            if module in listed:
                hits.append((dirpath, listed))
    if len(hits) != 1:
        raise SystemExit(f"{deb}: {len(hits)} vendor directories hold {module}, not one")
    vendor, listed = hits[0]
    version, go = listed[module]
    if not re.match(r"^v\d+\.\d+\.\d+", version):
        raise SystemExit(f"{deb}: {module} is vendored at {version}, no module version")
    check_major(module, version)
    moddir = os.path.join(vendor, *module.split("/"))
    if not os.path.isdir(moddir):
        raise SystemExit(f"{deb}: {module} is listed in {vendor}/modules.txt but not there")
    others = {os.path.join(vendor, *m.split("/")) for m in listed if m.startswith(module + "/")}
    text = f"module {module}\n" + (f"\ngo {go}\n" if go else "")
    return version, moddir, text, others


def parse_args(args):
    """OUT_DIR, the groups of sources (lists of ("deb", PATH), ("tarball", PATH, MODULE,
    VERSION) and ("vendored", PATH, MODULE)) and the patches ((MODULE, PATH))."""
    if len(args) < 2 or args[0].startswith("-"):
        raise SystemExit(__doc__)
    out, groups, patches = args[0], [[]], []
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--group":
            groups.append([])
        elif arg in ("--module-tarball", "--vendored-module"):
            value = next(rest, "")
            path, _, target = value.rpartition("=")
            if arg == "--module-tarball":
                module, _, version = target.partition("@")
                if not (path and module and version):
                    raise SystemExit(f"{arg} takes TARBALL=MODULE@VERSION, not {value!r}")
                groups[-1].append(("tarball", path, module, version))
            else:
                if not (path and target):
                    raise SystemExit(f"{arg} takes PACKAGE.deb=MODULE, not {value!r}")
                groups[-1].append(("vendored", path, target))
        elif arg == "--patch":
            value = next(rest, "")
            module, _, path = value.partition("=")
            if not (module and path):
                raise SystemExit(f"{arg} takes MODULE=PATCH, not {value!r}")
            patches.append((module, path))
        elif arg.startswith("-"):
            raise SystemExit(f"unknown option {arg}\n{__doc__}")
        else:
            groups[-1].append(("deb", arg))
    if not any(groups):
        raise SystemExit(__doc__)
    return out, groups, patches


def apply_patch(moddir, module, patch):
    """Applies a patch file to the sources of a module in moddir (a copy of them)."""
    with open(patch, "rb") as f:
        diff = f.read()
    # (git apply outside any repository: GIT_CEILING_DIRECTORIES keeps it from taking a
    # repository above moddir for its own.)
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=os.path.dirname(os.path.abspath(moddir)))
    done = subprocess.run(["git", "apply", "--unidiff-zero", "-p1", "-"], cwd=moddir, input=diff, env=env, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"{patch} does not apply to {module}:\n{done.stderr.decode(errors='replace')}")


def main():
    out, groups, patches = parse_args(sys.argv[1:])
    modules = {}  # path -> (version, dir, original go.mod text, group, directories of other modules)
    with tempfile.TemporaryDirectory() as tmp:

        def add(module, version, moddir, text, group, others=()):
            if module in modules:
                raise SystemExit(f"{module} is in two packages")
            modules[module] = (version, moddir, text, group, others)

        i = 0
        for group, sources in enumerate(groups):
            debs = sorted(s[1] for s in sources if s[0] == "deb")
            for deb in debs:
                root = os.path.join(tmp, str(i))
                i += 1
                subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
                version = deb_version(deb)
                for module, moddir, text in find_modules(root):
                    add(module, go_version(version, module), moddir, text, group)
            for source in sources:
                if source[0] == "tarball":
                    _, tarball, module, version = source
                    moddir, text = tarball_module(tarball, module, version, tmp)
                    add(module, version, moddir, text, group)
                elif source[0] == "vendored":
                    _, deb, module = source
                    version, moddir, text, others = vendored_module(deb, module, tmp)
                    add(module, version, moddir, text, group, others)

        for module, patch in patches:
            if module not in modules:
                raise SystemExit(f"--patch: {module} is not published")
            version, moddir, text, group, others = modules[module]
            apply_patch(moddir, module, patch)
            gomod = os.path.join(moddir, "go.mod")
            if text is not None and os.path.isfile(gomod):
                with open(gomod) as f:
                    text = f.read()
                if read_go_mod(text)[0] != module:
                    raise SystemExit(f"{patch} changes the module path of {module}")
                modules[module] = (version, moddir, text, group, others)

        for module, (version, moddir, text, group, others) in sorted(modules.items()):
            go = None
            requires = []
            if text is not None:
                _, go, requires = read_go_mod(text)
            lines = [f"module {module}", ""]
            if go:
                lines += [f"go {go}", ""]
            deps = sorted(r for r in set(requires) if r in modules and modules[r][3] <= group and r != module)
            if deps:
                lines.append("require (")
                lines += [f"\t{d} {modules[d][0]}" for d in deps]
                lines += [")", ""]
            gomod = "\n".join(lines)

            base = os.path.join(out, escape(module), "@v")
            os.makedirs(base, exist_ok=True)
            with open(os.path.join(base, f"{version}.mod"), "w") as f:
                f.write(gomod)
            with open(os.path.join(base, f"{version}.info"), "w") as f:
                json.dump({"Version": version, "Time": "2023-01-01T00:00:00Z"}, f)
            buf = io.BytesIO()
            prefix = f"{module}@{version}/"
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(zipfile.ZipInfo(prefix + "go.mod", (2023, 1, 1, 0, 0, 0)), gomod)
                for rel in module_files(moddir, others):
                    info = zipfile.ZipInfo(prefix + rel.replace(os.sep, "/"), (2023, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    with open(os.path.join(moddir, rel), "rb") as f:
                        z.writestr(info, f.read())
            with open(os.path.join(base, f"{version}.zip"), "wb") as f:
                f.write(buf.getvalue())
            with open(os.path.join(base, "list"), "w") as f:
                f.write(version + "\n")
            print(f"{module} {version}")


if __name__ == "__main__":
    main()
