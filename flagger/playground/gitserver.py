"""A bare Git repository served over Git's smart HTTP on 127.0.0.1, and a clone to commit in.

:class:`GitServer` runs ``git http-backend`` (Git's own CGI program) for each request that an
aiohttp server on 127.0.0.1 receives: clones, fetches (Flux's source-controller) and pushes (the
playground) speak the real protocol. The repository is ``<root>/<name>.git`` with
``http.receivepack`` on, so pushing needs no credentials; nothing listens beyond 127.0.0.1.

:class:`Checkout` is a working clone with an author of its own: :meth:`Checkout.commit` writes
files, commits them and pushes, returning the commit (sha and subject).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import shutil
import subprocess
from collections.abc import Mapping

from aiohttp import web

from flagger.observability import logs

__all__ = ["Checkout", "Commit", "GitError", "GitServer"]

log = logs.get_logger(__name__)

BRANCH = "main"
AUTHOR = ("Flagger Playground", "playground@flagger.invalid")


class GitError(RuntimeError):
    """A git command failed (its stderr is in the message)."""


def git(*args: str, cwd: pathlib.Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run git; its stdout, or :class:`GitError`."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


class GitServer:
    """``git http-backend`` behind an HTTP server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, root: pathlib.Path, name: str = "playground") -> None:
        self.root, self.name = root, name
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._backend = _backend_path()

    @property
    def repository(self) -> pathlib.Path:
        """The bare repository on disk."""
        return self.root / f"{self.name}.git"

    @property
    def url(self) -> str:
        """The clone URL."""
        return f"http://127.0.0.1:{self.port}/{self.name}.git"

    async def start(self) -> None:
        """Create the bare repository (if needed) and serve it."""
        if not self.repository.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            git("init", "--bare", "--initial-branch", BRANCH, str(self.repository))
            git("config", "http.receivepack", "true", cwd=self.repository)
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("Git server started", url=self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.method,
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query_string,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": request.remote or "",
            "REMOTE_USER": "playground",
            "HTTP_GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
        }
        process = await asyncio.create_subprocess_exec(
            self._backend,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate(body)
        if process.returncode != 0 and not out:
            log.warning("git http-backend failed", path=request.path, error=err.decode()[-500:])
            return web.Response(status=500, text="git http-backend failed\n")
        head, payload = _split_cgi(out)
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        response = web.Response(status=status, body=payload)
        for name, value in headers:
            response.headers[name] = value
        return response


def _split_cgi(out: bytes) -> tuple[bytes, bytes]:
    """A CGI answer's header block and body (lines end in CRLF or LF)."""
    ends = [(out.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if out.find(sep) >= 0]
    if not ends:
        return out, b""
    at, sep = min(ends)
    return out[:at], out[at + len(sep) :]


def _backend_path() -> str:
    exec_path = git("--exec-path").strip()
    backend = pathlib.Path(exec_path) / "git-http-backend"
    if not backend.exists():
        raise GitError(f"git http-backend is missing from {exec_path}: install git")
    return str(backend)


@dataclasses.dataclass(frozen=True)
class Commit:
    """A pushed commit."""

    sha: str
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:7]

    @property
    def revision(self) -> str:
        """The revision as Flux names it."""
        return f"{BRANCH}@sha1:{self.sha}"


class Checkout:
    """A working clone of the served repository, to commit and push in."""

    def __init__(self, url: str, path: pathlib.Path) -> None:
        self.url, self.path = url, path
        self._env = {
            "GIT_AUTHOR_NAME": AUTHOR[0],
            "GIT_AUTHOR_EMAIL": AUTHOR[1],
            "GIT_COMMITTER_NAME": AUTHOR[0],
            "GIT_COMMITTER_EMAIL": AUTHOR[1],
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(path.parent),
        }

    def git(self, *args: str) -> str:
        return git(*args, cwd=self.path, env=self._env)

    def clone(self) -> None:
        """Clone (an empty repository gives an empty checkout on ``main``)."""
        if self.path.exists():
            shutil.rmtree(self.path)
        git("clone", "--quiet", self.url, str(self.path), env=self._env)
        self.git("checkout", "--quiet", "-B", BRANCH)

    def write(self, files: Mapping[str, str]) -> None:
        """Write files (relative paths) into the work tree."""
        for relative, text in files.items():
            target = self.path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def copy_tree(self, source: pathlib.Path, relative: str) -> None:
        """Copy a directory (a chart) into the work tree."""
        target = self.path / relative
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)

    def commit(self, subject: str, files: Mapping[str, str] | None = None) -> Commit:
        """Write ``files``, commit everything with ``subject`` and push; the commit."""
        if files:
            self.write(files)
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", subject)
        return self.push()

    def revert(self, commit: Commit) -> Commit:
        """``git revert`` a commit and push."""
        self.git("revert", "--no-edit", commit.sha)
        return self.push()

    def push(self) -> Commit:
        self.git("push", "--quiet", "origin", f"HEAD:{BRANCH}")
        sha = self.git("rev-parse", "HEAD").strip()
        return Commit(sha, self.git("log", "-1", "--format=%s").strip())

    def last_commit_touching(self, revision: str, path: str) -> Commit | None:
        """The newest commit up to ``revision`` that changed ``path``."""
        out = self.git("log", "-1", "--format=%H%x00%s", revision, "--", path).strip()
        if not out:
            return None
        sha, _, subject = out.partition("\x00")
        return Commit(sha, subject)
