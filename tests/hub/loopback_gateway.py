"""A loopback write gateway for the Hub API, standard library only (plus the `git` binary).

It implements the endpoints `huggingface_hub` and `datasets` call to create a repo and push to it
(`specs/hub_and_hf_conventions.md` §4.3) and stores every commit as a git commit in plain git repositories laid
out as `<mirrors>/<type>s/<org>/<name>`: the same folders olah serves as offline mirrors, so a value table pushed
through `huggingface_hub` here is read back through olah. LFS uploads are kept by sha256 and committed as plain
blobs (small files need no LFS on the read side).

Not covered: Xet, real card validation, gated/private repos, rate limits, pull requests.

Usage:

```bash
python tests/hub/loopback_gateway.py --mirrors /tmp/hub/mirrors --port 8123
HF_ENDPOINT=http://127.0.0.1:8123 HF_HUB_DISABLE_XET=1 python -c "..."
```
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import tempfile
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

REPO_TYPES = {"datasets": "dataset", "models": "model", "spaces": "space"}
URL_PREFIX = {"dataset": "datasets/", "model": "", "space": "spaces/"}
LFS_SUFFIXES = (".parquet", ".arrow", ".png", ".jpg", ".npy", ".npz", ".safetensors", ".bin", ".pt", ".gz", ".zip")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "loopback-gateway",
    "GIT_AUTHOR_EMAIL": "gateway@localhost",
    "GIT_COMMITTER_NAME": "loopback-gateway",
    "GIT_COMMITTER_EMAIL": "gateway@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


class HubError(Exception):
    """An HTTP error answer: status, Hub error code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class GitStore:
    """Git repositories under `mirrors`, one per Hub repo, written only through plumbing commands."""

    def __init__(self, mirrors: Path, lfs_dir: Path):
        self.mirrors = mirrors
        self.lfs_dir = lfs_dir
        self.lock = threading.Lock()
        self.env = {**os.environ, **GIT_ENV, "HOME": str(mirrors)}

    def path(self, repo_type: str, repo_id: str) -> Path:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id) or ".." in repo_id:
            raise HubError(400, "BadRequest", f"invalid repo id {repo_id!r}")
        return self.mirrors / f"{repo_type}s" / repo_id

    def git(self, repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args], input=stdin, capture_output=True, env={**self.env, **(env or {})}
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout

    def repo(self, repo_type: str, repo_id: str) -> Path:
        path = self.path(repo_type, repo_id)
        if not (path / ".git").is_dir():
            raise HubError(404, "RepoNotFound", f"Repository {repo_id} not found")
        return path

    def create(self, repo_type: str, repo_id: str) -> bool:
        """Create a repo with an initial `.gitattributes` commit; False if it exists."""
        path = self.path(repo_type, repo_id)
        with self.lock:
            if (path / ".git").is_dir():
                return False
            # build the repo aside and move it into place, so readers never see a repo without a main branch
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".creating-", dir=self.mirrors))
            subprocess.run(["git", "init", "-q", "-b", "main", str(staging)], check=True, env=self.env)
            self._commit(
                staging,
                "main",
                None,
                [("add", ".gitattributes", b"*.parquet filter=lfs diff=lfs merge=lfs -text\n")],
                "initial commit",
            )
            os.rename(staging, path)
            return True

    def resolve(self, repo: Path, rev: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"],
            capture_output=True,
            env=self.env,
        )
        if proc.returncode != 0:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return proc.stdout.decode().strip()

    def entries(self, repo: Path, sha: str, path: str, recursive: bool, itself: bool = False) -> list[dict]:
        """Tree entries below `path` (or the entry at `path` itself) in the Hub's JSON shape."""
        args = ["ls-tree", "-l"]
        if recursive:
            args += ["-r", "-t"]
        target = path.strip("/")
        spec = [] if not target else [target if itself else target + "/"]
        out = self.git(repo, *args, sha, "--", *spec).decode()
        result = []
        for line in out.splitlines():
            meta, name = line.split("\t", 1)
            _mode, kind, oid, size = meta.split()
            if kind == "tree":
                result.append({"type": "directory", "path": name, "oid": oid, "size": 0})
            elif kind == "blob":
                result.append({"type": "file", "path": name, "oid": oid, "size": int(size)})
        return result

    def read(self, repo: Path, sha: str, path: str) -> tuple[bytes, str]:
        entry = self.entries(repo, sha, path, recursive=False, itself=True)
        if not entry or entry[0]["type"] != "file":
            raise HubError(404, "EntryNotFound", f"{path} does not exist at {sha}")
        return self.git(repo, "cat-file", "blob", entry[0]["oid"]), entry[0]["oid"]

    def commit(self, repo: Path, branch: str, parent: str | None, ops: list[tuple], message: str) -> str:
        with self.lock:
            return self._commit(repo, branch, parent, ops, message)

    def _commit(self, repo: Path, branch: str, parent: str | None, ops: list[tuple], message: str) -> str:
        head_proc = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
            capture_output=True,
            env=self.env,
        )
        head = head_proc.stdout.decode().strip() if head_proc.returncode == 0 else None
        if parent is not None and parent != head:
            raise HubError(412, "PreconditionFailed", f"parentCommit {parent} is not the head of {branch} ({head})")
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if head:
                self.git(repo, "read-tree", head, env=env)
            for op in ops:
                if op[0] == "add":
                    blob = self.git(repo, "hash-object", "-w", "--stdin", stdin=op[2]).decode().strip()
                    self.git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{op[1]}", env=env)
                elif op[0] == "delete":
                    self.git(repo, "update-index", "--force-remove", "--", op[1], env=env)
                elif op[0] == "delete_folder":
                    listed = self.git(repo, "ls-files", "-z", "--", op[1].rstrip("/") + "/", env=env)
                    for name in filter(None, listed.decode().split("\0")):
                        self.git(repo, "update-index", "--force-remove", "--", name, env=env)
            tree = self.git(repo, "write-tree", env=env).decode().strip()
        args = ["commit-tree", tree, "-m", message or "commit"]
        if head:
            args += ["-p", head]
        new = self.git(repo, *args).decode().strip()
        self.git(repo, "update-ref", f"refs/heads/{branch}", new, *([head] if head else []))
        return new

    def lfs_path(self, oid: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", oid):
            raise HubError(400, "BadRequest", f"invalid oid {oid!r}")
        return self.lfs_dir / oid


class Handler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet; never logs headers (tokens)
        if os.environ.get("LOOPBACK_GATEWAY_VERBOSE"):
            super().log_message(format, *args)

    # ----------------------------------------------------------------- plumbing
    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, ctype: str = "application/json"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _dispatch(self) -> None:
        try:
            split = urlsplit(self.path)
            segments = [unquote(s) for s in split.path.split("/")[1:]]
            query = parse_qs(split.query)
            body = self._body() if self.command in ("POST", "PUT") else b""
            self._route(segments, query, body)
        except HubError as err:
            headers = {"X-Error-Code": err.code, "X-Error-Message": err.message}
            self._json(err.status, {"error": err.message}, headers)
        except Exception as err:  # pragma: no cover - a gateway bug must answer, not hang the client
            self._json(500, {"error": f"gateway error: {type(err).__name__}: {err}"})

    do_GET = do_HEAD = do_POST = do_PUT = _dispatch  # noqa: N815

    # ----------------------------------------------------------------- routes
    def _route(self, seg: list[str], query: dict, body: bytes) -> None:
        store = self.server.store
        method = self.command
        if seg[:2] == ["api", "repos"] and seg[2:] == ["create"] and method == "POST":
            return self._create(json.loads(body or b"{}"))
        if seg[:2] == ["api", "validate-yaml"] and method == "POST":
            return self._json(200, {"errors": [], "warnings": []})
        if seg[:2] == ["api", "whoami-v2"]:
            return self._json(200, {"type": "user", "name": "local", "orgs": []})
        if seg and seg[0] == "_lfs" and len(seg) == 2:
            return self._lfs_put(seg[1], body) if method == "PUT" else self._send(405)
        if len(seg) >= 4 and seg[0] == "api" and seg[1] in REPO_TYPES:
            repo_type, repo_id, rest = REPO_TYPES[seg[1]], f"{seg[2]}/{seg[3]}", seg[4:]
            repo = store.repo(repo_type, repo_id)
            if not rest and method in ("GET", "HEAD"):
                return self._repo_info(repo_type, repo_id, repo, "main")
            action = rest[0]
            if action == "revision" and len(rest) >= 2:
                return self._repo_info(repo_type, repo_id, repo, "/".join(rest[1:]))
            if action == "preupload" and method == "POST":
                files = json.loads(body)["files"]
                modes = [
                    {"path": f["path"], "uploadMode": self._mode(f["path"]), "shouldIgnore": False} for f in files
                ]
                return self._json(200, {"files": modes, "commitOid": None})
            if action == "commit" and method == "POST":
                return self._commit(repo_type, repo_id, repo, "/".join(rest[1:]) or "main", body)
            if action == "tree" and len(rest) >= 2:
                sha = store.resolve(repo, rest[1])
                path = "/".join(rest[2:])
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                if path and not store.entries(repo, sha, path, recursive=False, itself=True):
                    raise HubError(404, "EntryNotFound", f"{path} does not exist at {sha}")
                return self._json(200, store.entries(repo, sha, path, recursive))
            if action == "paths-info" and method == "POST":
                sha = store.resolve(repo, "/".join(rest[1:]))
                form = parse_qs(body.decode())
                if not form and body.strip().startswith(b"{"):
                    form = {"paths": json.loads(body).get("paths", [])}
                out = []
                for path in form.get("paths", []):
                    out += store.entries(repo, sha, path, recursive=False, itself=True) if path.strip("/") else []
                return self._json(200, out)
            if action in ("tag", "branch") and method == "POST" and len(rest) >= 2:
                payload = json.loads(body or b"{}")
                if action == "tag":
                    sha = store.resolve(repo, "/".join(rest[1:]))
                    if store.git(repo, "tag", "--list", payload["tag"]).strip():
                        raise HubError(409, "Conflict", f"tag {payload['tag']} already exists")
                    store.git(repo, "tag", payload["tag"], sha)
                else:
                    sha = store.resolve(repo, payload.get("startingPoint") or "main")
                    store.git(repo, "branch", "-f", "/".join(rest[1:]), sha)
                return self._json(200, {})
            raise HubError(404, "NotFound", f"no route for {method} {self.path}")
        # LFS batch: /{prefix}{org}/{name}.git/info/lfs/objects/batch
        if seg[-4:] == ["info", "lfs", "objects", "batch"] and method == "POST":
            return self._lfs_batch(json.loads(body))
        # resolve: /{prefix}{org}/{name}/resolve/{rev}/{path}
        if "resolve" in seg and method in ("GET", "HEAD"):
            idx = seg.index("resolve")
            head = seg[:idx]
            repo_type = REPO_TYPES[head[0]] if len(head) == 3 and head[0] in REPO_TYPES else "model"
            repo_id = "/".join(head[-2:])
            repo = store.repo(repo_type, repo_id)
            sha = store.resolve(repo, seg[idx + 1])
            return self._resolve(repo, sha, "/".join(seg[idx + 2 :]))
        raise HubError(404, "NotFound", f"no route for {method} {self.path}")

    @staticmethod
    def _mode(path: str) -> str:
        return "lfs" if path.lower().endswith(LFS_SUFFIXES) else "regular"

    def _create(self, payload: dict) -> None:
        repo_type = payload.get("type") or "model"
        name, org = payload.get("name"), payload.get("organization") or "local"
        repo_id = f"{org}/{name}"
        url = f"{self.base}/{URL_PREFIX[repo_type]}{repo_id}"
        if not self.server.store.create(repo_type, repo_id):
            return self._json(409, {"error": "You already created this repo", "url": url})
        return self._json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _repo_info(self, repo_type: str, repo_id: str, repo: Path, rev: str) -> None:
        store = self.server.store
        sha = store.resolve(repo, rev)
        files = [e["path"] for e in store.entries(repo, sha, "", recursive=True) if e["type"] == "file"]
        stamp = store.git(repo, "show", "-s", "--format=%cI", sha).decode().strip()
        modified = datetime.fromisoformat(stamp).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        info = {
            "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0],
            "sha": sha,
            "private": False,
            "gated": False,
            "disabled": False,
            "lastModified": modified,
            "createdAt": modified,
            "tags": [],
            "downloads": 0,
            "likes": 0,
            "siblings": [{"rfilename": f} for f in files],
        }
        self._json(200, info)

    def _commit(self, repo_type: str, repo_id: str, repo: Path, branch: str, body: bytes) -> None:
        store = self.server.store
        header: dict = {}
        ops: list[tuple] = []
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
            elif key == "file":
                ops.append(("add", value["path"], base64.b64decode(value["content"])))
            elif key == "lfsFile":
                blob = store.lfs_path(value["oid"])
                if not blob.is_file():
                    raise HubError(
                        400, "BadRequest", f"LFS object {value['oid']} for {value['path']} was never uploaded"
                    )
                ops.append(("add", value["path"], blob.read_bytes()))
            elif key == "deletedFile":
                ops.append(("delete", value["path"]))
            elif key == "deletedFolder":
                ops.append(("delete_folder", value["path"]))
            else:
                raise HubError(400, "BadRequest", f"unsupported commit operation {key!r}")
        message = header.get("summary") or "commit"
        if header.get("description"):
            message += "\n\n" + header["description"]
        sha = store.commit(repo, branch, header.get("parentCommit"), ops, message)
        url = f"{self.base}/{URL_PREFIX[repo_type]}{repo_id}/commit/{sha}"
        self._json(200, {"success": True, "commitUrl": url, "commitOid": sha, "pullRequestUrl": None})

    def _lfs_batch(self, payload: dict) -> None:
        objects = []
        for obj in payload.get("objects", []):
            entry = {"oid": obj["oid"], "size": int(obj["size"]), "authenticated": True}
            if not self.server.store.lfs_path(obj["oid"]).is_file():
                entry["actions"] = {"upload": {"href": f"{self.base}/_lfs/{obj['oid']}"}}
            objects.append(entry)
        self._send(
            200, json.dumps({"transfer": "basic", "objects": objects}).encode(), ctype="application/vnd.git-lfs+json"
        )

    def _lfs_put(self, oid: str, body: bytes) -> None:
        path = self.server.store.lfs_path(oid)
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, "BadRequest", f"uploaded bytes do not hash to {oid}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, path)
        self._send(200)

    def _resolve(self, repo: Path, sha: str, path: str) -> None:
        data, oid = self.server.store.read(repo, sha, path)
        headers = {"X-Repo-Commit": sha, "ETag": f'"{oid}"', "Accept-Ranges": "bytes"}
        status, payload = 200, data
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and data:
            start = int(match.group(1)) if match.group(1) else max(len(data) - int(match.group(2)), 0)
            end = int(match.group(2)) if match.group(1) and match.group(2) else len(data) - 1
            end = min(end, len(data) - 1)
            status, payload = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._send(status, payload, headers, ctype="application/octet-stream")


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: GitStore):
        super().__init__(address, Handler)
        self.store = store


def make_server(mirrors: str | os.PathLike[str], port: int = 0, host: str = "127.0.0.1") -> GatewayServer:
    """A gateway bound to `host:port` (0 picks a free port) storing repos under `mirrors`."""
    mirrors = Path(mirrors)
    mirrors.mkdir(parents=True, exist_ok=True)
    lfs_dir = mirrors.parent / (mirrors.name + "-lfs")
    lfs_dir.mkdir(parents=True, exist_ok=True)
    return GatewayServer((host, port), GitStore(mirrors, lfs_dir))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", required=True, help="folder of git repos (olah's mirrors-path)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once listening")
    args = parser.parse_args(argv)
    server = make_server(args.mirrors, args.port, args.host)
    if args.port_file:
        Path(args.port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
