#!/usr/bin/env python3
"""Makes a Go module proxy, as plain files, from Debian's golang-*-dev packages.

    goproxy.py OUT_DIR PACKAGE.deb...

Each package ships Go sources under /usr/share/gocode/src. Every module found there (a
directory with a go.mod, or a package directory without one) is published in the layout of the
GOPROXY protocol: <module>/@v/list, <version>.info, <version>.mod and <version>.zip. Any static
file server then serves it as GOPROXY=http://host:port, and GOPROXY=file:///OUT_DIR works too.

The version comes from the package version (1.6.1-1 is v1.6.1; 1.0.6~git20210604-d5e0c0615ace-1
is a pseudo-version). Debian ships one version of each module, so each go.mod is rewritten to
require exactly the versions published here and nothing that is not; the rest of the sources is
published unchanged, less test data. The output depends only on the packages, so go.sum files made against it
stay valid.
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
    major = re.search(r"(?:/v|\.v)(\d+)$", module)
    if major and int(major.group(1)) >= 2 and not version.startswith(f"v{major.group(1)}."):
        raise SystemExit(f"{module}: version {version} does not match the module's major version")
    return version


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


def module_files(moddir):
    """Files of the module rooted at moddir, relative to it: no nested modules, no vendor
    directories, no test data, no symbolic links, no version-control data."""
    files = []
    for dirpath, dirnames, filenames in os.walk(moddir):
        keep = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if os.path.islink(full) or d in ("vendor", ".git", ".hg", ".svn", "testdata"):
                continue
            if os.path.exists(os.path.join(full, "go.mod")):
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not os.path.isfile(full) or name == "go.mod":
                continue
            files.append(os.path.relpath(full, moddir))
    return files


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    debs = sorted(sys.argv[2:])
    modules = {}  # path -> (version, dir, original go.mod text)
    with tempfile.TemporaryDirectory() as tmp:
        for i, deb in enumerate(debs):
            root = os.path.join(tmp, str(i))
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
            version = deb_version(deb)
            for module, moddir, text in find_modules(root):
                if module in modules:
                    raise SystemExit(f"{module} is in two packages")
                modules[module] = (go_version(version, module), moddir, text)

        for module, (version, moddir, text) in sorted(modules.items()):
            go = None
            requires = []
            if text is not None:
                _, go, requires = read_go_mod(text)
            lines = [f"module {module}", ""]
            if go:
                lines += [f"go {go}", ""]
            deps = sorted(r for r in set(requires) if r in modules and r != module)
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
                for rel in module_files(moddir):
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
