#!/usr/bin/env python3
"""Pushes a one-platform image, made of a layer tarball on top of an optional base image, straight
to a registry over plain HTTP (the tests' local registry), without a container engine.

    oci-push.py REF --platform OS/ARCH --layer TAR... [--base REF] [--env K=V]... [--workdir DIR]
                [--user USER] [--cmd ARG]... [--os-version VERSION] [--index] [--comment TEXT]
    oci-push.py REF --layer TAR... --blob-only

The layers are the TARs, in order, each compressed with gzip (level 1: a local registry gains
little from smaller blobs); with --base, the image is that image's layers and config plus these,
and --env replaces or adds variables of the base's environment (a config with no variable has
no `Env`, as Microsoft's Windows images have none). --user and --workdir set the config's User
and WorkingDir, the --cmd arguments its Cmd, --os-version its `os.version` (a Windows image's).
With --index, REF is an index of that one image, whose entry names the platform (with its
`os.version`), as Microsoft's Windows images are published. A blob the registry has already is
not sent again; the base's layers are mounted from its repository. Nothing is unpacked
anywhere: this is what lets the builder stand-ins be put together quickly from a root file
system and a toolchain.

Each TAR's compressed form is kept as TAR.gz, its digests as TAR.gz.json: pushing the same TAR
again (to another image, or after --blob-only) does not compress it again. Remove them with TAR.
--blob-only sends the blobs to REF's repository, and nothing else, ahead of the image (whose base
may not exist yet).
"""

import argparse
import datetime
import hashlib
import http.client
import json
import os
import sys
import zlib

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"])


def parse_ref(ref):
    """host[:port]/repo[:tag] → (host, repo, tag)."""
    host, _, rest = ref.partition("/")
    repo, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    return host, repo, tag


class Registry:
    def __init__(self, host):
        self.host = host

    def request(self, method, path, body=None, headers=None, ok=(200,)):
        conn = http.client.HTTPConnection(self.host, timeout=600)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if resp.status not in ok:
            raise SystemExit(f"{method} {self.host}{path}: {resp.status} {data[:300]!r}")
        return resp, data

    def has_blob(self, repo, digest):
        resp, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", ok=(200, 404))
        return resp.status == 200

    def mount(self, repo, digest, source):
        """Links a blob of repository SOURCE into REPO; False if the registry did not."""
        resp, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={source}", ok=(201, 202))
        return resp.status == 201

    def put_blob(self, repo, digest, body, size):
        if self.has_blob(repo, digest):
            return
        resp, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", ok=(202,))
        location = resp.getheader("Location")
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        sep = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{sep}digest={digest}", body=body,
                     headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)}, ok=(201,))

    def get_json(self, repo, ref, accept):
        _, data = self.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": accept})
        return json.loads(data)

    def get_blob(self, repo, digest):
        # The registry may answer with a redirect; the local filesystem-backed one does not.
        _, data = self.request("GET", f"/v2/{repo}/blobs/{digest}")
        return data


def compressed(tar):
    """TAR gzipped as TAR.gz, made unless TAR.gz.json says it is there for this very TAR; returns
    (diff_id, digest, size)."""
    st = os.stat(tar)
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        with open(tar + ".gz.json") as f:
            known = json.load(f)
        if known["tar"] == stamp and os.path.getsize(tar + ".gz") == known["size"]:
            return known["diff_id"], known["digest"], known["size"]
    except (OSError, ValueError, KeyError):
        pass
    diff_id, digest, size = compress(tar, tar + ".gz")
    with open(tar + ".gz.json", "w") as f:
        json.dump({"tar": stamp, "diff_id": diff_id, "digest": digest, "size": size}, f)
    return diff_id, digest, size


def compress(tar, out):
    """Gzips TAR into OUT; returns (diff_id, digest, size)."""
    raw, gz = hashlib.sha256(), hashlib.sha256()
    size = 0
    # A gzip stream with no name and no time in its header: the same tarball makes the same blob.
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(tar, "rb") as src, open(out, "wb") as dst:
        def write(chunk):
            nonlocal size
            if chunk:
                gz.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            raw.update(chunk)
            write(comp.compress(chunk))
        write(comp.flush())
    return "sha256:" + raw.hexdigest(), "sha256:" + gz.hexdigest(), size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref")
    ap.add_argument("--platform")
    ap.add_argument("--layer", action="append", required=True)
    ap.add_argument("--base")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--workdir")
    ap.add_argument("--user")
    ap.add_argument("--cmd", action="append")
    ap.add_argument("--os-version")
    ap.add_argument("--index", action="store_true")
    ap.add_argument("--comment", default="")
    ap.add_argument("--blob-only", action="store_true")
    args = ap.parse_args()

    host, repo, tag = parse_ref(args.ref)
    reg = Registry(host)
    blobs = []
    for tar in args.layer:
        diff_id, digest, size = compressed(tar)
        with open(tar + ".gz", "rb") as body:
            reg.put_blob(repo, digest, body, size)
        blobs.append((diff_id, digest, size))
    if args.blob_only:
        return 0
    if not args.platform:
        ap.error("--platform is required")
    os_name, _, arch = args.platform.partition("/")

    layers, config = [], {"architecture": arch, "os": os_name, "config": {},
                          "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    if args.base:
        bhost, brepo, btag = parse_ref(args.base)
        if bhost != host:
            raise SystemExit("the base must be on the same registry")
        manifest = reg.get_json(brepo, btag, ACCEPT)
        if manifest.get("mediaType", OCI_MANIFEST) not in (OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"):
            raise SystemExit(f"{args.base} is not a one-platform image")
        config = json.loads(reg.get_blob(brepo, manifest["config"]["digest"]))
        config["config"] = config.get("config") or {}
        if (config.get("os"), config.get("architecture")) != (os_name, arch):
            raise SystemExit(f"{args.base} is {config.get('os')}/{config.get('architecture')}, not {args.platform}")
        for layer in manifest["layers"]:
            if brepo != repo and not reg.has_blob(repo, layer["digest"]):
                if not reg.mount(repo, layer["digest"], brepo):
                    reg.put_blob(repo, layer["digest"], reg.get_blob(brepo, layer["digest"]), layer["size"])
            layers.append(layer)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config["history"] = config.get("history") or []
    for tar, (diff_id, digest, size) in zip(args.layer, blobs):
        layers.append({"mediaType": OCI_LAYER, "digest": digest, "size": size})
        config["rootfs"]["diff_ids"].append(diff_id)
        config["history"].append({"created": now, "created_by": "oci-push.py " + os.path.basename(tar),
                                  "comment": args.comment})
    env = config["config"].get("Env") or []
    for kv in args.env:
        key = kv.split("=", 1)[0]
        env = [e for e in env if e.split("=", 1)[0] != key] + [kv]
    if env or "Env" in config["config"]:
        config["config"]["Env"] = env
    if args.workdir:
        config["config"]["WorkingDir"] = args.workdir
    if args.user:
        config["config"]["User"] = args.user
    if args.cmd:
        config["config"]["Cmd"] = args.cmd
    if args.os_version:
        config["os.version"] = args.os_version
    config["created"] = now

    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    reg.put_blob(repo, config_digest, config_bytes, len(config_bytes))
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
                "layers": layers}
    body = json.dumps(manifest, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    media_type = OCI_MANIFEST
    if args.index:
        reg.request("PUT", f"/v2/{repo}/manifests/{digest}", body=body,
                    headers={"Content-Type": OCI_MANIFEST, "Content-Length": str(len(body))}, ok=(201,))
        platform = {"architecture": arch, "os": os_name}
        if args.os_version:
            platform["os.version"] = args.os_version
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                 "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body), "platform": platform}]}
        body = json.dumps(index, separators=(",", ":")).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        media_type = OCI_INDEX
    reg.request("PUT", f"/v2/{repo}/manifests/{tag}", body=body,
                headers={"Content-Type": media_type, "Content-Length": str(len(body))}, ok=(201,))
    print(digest)


if __name__ == "__main__":
    sys.exit(main())
