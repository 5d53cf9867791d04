#!/usr/bin/env python3
"""A private Git server for the tests of authenticated module downloads, and go.sum lines.

    private-git.py --bind ADDR --port PORT --root DIR --user NAME:PASSWORD [--user ...]
    private-git.py gosum --module M --version V --dir CHECKOUT_DIR

The first form serves the bare repositories under DIR over Git's smart HTTP protocol, by
running `git http-backend` as a CGI program for each request, so that shallow fetches
(`git fetch --depth=1`, as the go command does) work. Every request must carry HTTP Basic
credentials, one of the NAME:PASSWORD pairs given, or it is answered 401. A repository
DIR/a/b.git is also reached as /a/b: the go command asks for a module path ending in .git
without the suffix. Each request is logged to stderr with its user, never its password.

The second form prints the two go.sum lines of module M at version V whose files are those of
CHECKOUT_DIR (a work tree at that version): the h1 hash of the module's files and that of its
go.mod, as the go command computes them (dirhash.Hash1).
"""

import argparse
import base64
import hashlib
import hmac
import os
import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REALM = "goapp-test"


# --- go.sum ---------------------------------------------------------------------------------

def hash1(names, read):
    """dirhash.Hash1: sha256 over the lines "<sha256 hex>  <name>\\n" of the sorted names."""
    lines = []
    for name in sorted(names):
        if "\n" in name:
            raise SystemExit(f"file name with a newline: {name!r}")
        lines.append(f"{hashlib.sha256(read(name)).hexdigest()}  {name}\n")
    summary = hashlib.sha256("".join(lines).encode()).digest()
    return "h1:" + base64.b64encode(summary).decode()


def is_vendored_package(name):
    """Files of vendored packages are left out of module zips (modzip's rule, quirk kept)."""
    if name.startswith("vendor/"):
        i = len("vendor/")
    elif "/vendor/" in name:
        i = len("/vendor/")
    else:
        return False
    return "/" in name[i:]


def module_files(top):
    """The files of the module rooted at top, relative, with / separators: no version-control
    data, no nested modules, no symbolic links, no vendored packages."""
    files = []
    for dirpath, dirnames, filenames in os.walk(top):
        keep = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if d in (".git", ".hg", ".svn", ".bzr") or os.path.islink(full):
                continue
            if os.path.exists(os.path.join(full, "go.mod")):
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            rel = os.path.relpath(full, top).replace(os.sep, "/")
            if not is_vendored_package(rel):
                files.append(rel)
    return files


def gosum(argv):
    p = argparse.ArgumentParser(prog="private-git.py gosum")
    p.add_argument("--module", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--dir", required=True)
    a = p.parse_args(argv)
    prefix = f"{a.module}@{a.version}/"

    def read(name):
        with open(os.path.join(a.dir, name[len(prefix):]), "rb") as f:
            return f.read()

    files = module_files(a.dir)
    if "go.mod" not in files:
        raise SystemExit(f"{a.dir} has no go.mod")
    zip_sum = hash1([prefix + f for f in files], read)
    # The go.mod line hashes that one file under the bare name go.mod.
    with open(os.path.join(a.dir, "go.mod"), "rb") as f:
        gomod = f.read()
    mod_sum = hash1(["go.mod"], lambda _: gomod)
    sys.stdout.write(f"{a.module} {a.version} {zip_sum}\n{a.module} {a.version}/go.mod {mod_sum}\n")


# --- the server -----------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "goapp-private-git"
    root = ""
    users = {}
    user = "-"

    def log_message(self, format, *args):
        sys.stderr.write("%s - %s [%s] %s\n" % (
            self.address_string(), self.user, self.log_date_time_string(), format % args))
        sys.stderr.flush()

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def authenticate(self):
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            name, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        want = self.users.get(name)
        if not sep or want is None or not hmac.compare_digest(want.encode(), password.encode()):
            return None
        return name

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def path_info(self, path):
        """The repository path asked for, /a/b/... reaching DIR/a/b.git when only that exists."""
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            return None
        if len(parts) >= 2 and not parts[1].endswith(".git"):
            plain = os.path.join(self.root, parts[0], parts[1])
            if not os.path.isdir(plain) and os.path.isdir(plain + ".git"):
                parts[1] += ".git"
        return "/" + "/".join(parts)

    def serve(self):
        self.user = "-"
        name = self.authenticate()
        if name is None:
            # The request body, if any, is left unread: close the connection after the answer.
            self.close_connection = True
            self.reply(401, b"authentication required\n",
                       [("WWW-Authenticate", f'Basic realm="{REALM}"'), ("Content-Type", "text/plain")])
            return
        self.user = name
        body = self.read_body()
        path, _, query = self.path.partition("?")
        path_info = self.path_info(urllib.parse.unquote(path))
        if path_info is None:
            self.reply(404, b"not found\n", [("Content-Type", "text/plain")])
            return

        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": self.server_version,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "AUTH_TYPE": "Basic",
            "REMOTE_USER": name,
            "REMOTE_ADDR": self.client_address[0],
        }
        for key, value in self.headers.items():
            k = key.upper().replace("-", "_")
            if k in ("AUTHORIZATION", "CONTENT_TYPE", "CONTENT_LENGTH", "TRANSFER_ENCODING"):
                continue
            env["HTTP_" + k] = value
        # Protocol v2 is asked for in this header; http-backend reads it from GIT_PROTOCOL.
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]

        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        if proc.stderr:
            sys.stderr.write(proc.stderr.decode(errors="replace"))
        # The CGI answer: header lines, an empty line, the body.
        out = proc.stdout
        seps = sorted((i, len(s)) for s in (b"\r\n\r\n", b"\n\n") if (i := out.find(s)) >= 0)
        if not seps:
            self.reply(500, b"git http-backend gave no answer\n", [("Content-Type", "text/plain")])
            return
        end, sep_len = seps[0]
        head, content = out[:end], out[end + sep_len:]
        code, reason = 200, None
        headers = []
        for line in head.decode("latin-1").splitlines():
            if not line.strip():
                continue
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k.lower() == "status":
                num, _, reason = v.partition(" ")
                code = int(num)
            elif k.lower() not in ("content-length", "connection", "transfer-encoding"):
                headers.append((k, v))
        self.send_response(code, reason or None)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


def serve(argv):
    p = argparse.ArgumentParser(prog="private-git.py")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--root", required=True, help="the directory of the bare repositories")
    p.add_argument("--user", action="append", required=True, metavar="NAME:PASSWORD")
    a = p.parse_args(argv)
    users = {}
    for pair in a.user:
        name, sep, password = pair.partition(":")
        if not sep or not name or not password:
            raise SystemExit(f"--user wants NAME:PASSWORD, not {pair.split(':', 1)[0]}:...")
        users[name] = password
    Handler.root = os.path.abspath(a.root)
    Handler.users = users
    server = ThreadingHTTPServer((a.bind, a.port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"serving {Handler.root} on http://{a.bind}:{a.port} for {', '.join(sorted(users))}\n")
    sys.stderr.flush()
    server.serve_forever()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "gosum":
        gosum(sys.argv[2:])
    else:
        serve(sys.argv[1:])


if __name__ == "__main__":
    main()
