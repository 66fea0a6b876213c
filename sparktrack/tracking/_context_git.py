"""The git state of the work tree a run's source lives in.

``sparktrack.git.dirty`` counts untracked files (see ``_context``); credentials are
removed from the remote URL; a hung git cannot stall run creation for long.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "GIT_BRANCH",
    "GIT_COMMIT",
    "GIT_DIRTY",
    "GIT_REPO_URL",
    "git_tags",
    "read_git_tags",
]

GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
GIT_DIRTY = "sparktrack.git.dirty"
# Enough for `git status` on a large work tree; short enough that a hung git (network
# file system, credential prompt) cannot stall run creation for long.
_GIT_TIMEOUT_SECONDS = 3.0


def read_git_tags(folder: str) -> dict[str, str]:
    """Git state of the work tree holding ``folder`` now; empty when there is none or no git.

    Internal use: the tags of a project's run (``sparktrack run``), read afresh each time.

    Args:
        folder: A folder inside the work tree.

    Returns:
        ``mlflow.source.git.commit``, ``mlflow.source.git.branch``,
        ``mlflow.source.git.repoURL`` (credentials removed) and ``sparktrack.git.dirty``,
        each only when known.
    """
    if shutil.which("git") is None or _git(folder, "rev-parse", "--is-inside-work-tree") != "true":
        return {}
    found = {
        GIT_COMMIT: _git(folder, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"),
        # symbolic-ref fails on a detached HEAD (typical in CI): no branch is better
        # than the literal "HEAD".
        GIT_BRANCH: _git(folder, "symbolic-ref", "--quiet", "--short", "HEAD"),
        GIT_REPO_URL: _remote_url(folder),
        GIT_DIRTY: _dirty(folder),
    }
    return {name: value for name, value in found.items() if value}


# Cached per folder: the process keeps running the code it loaded, whatever happens to
# the work tree afterwards.
git_tags = functools.cache(read_git_tags)
"""``read_git_tags``, read once per folder for the life of the process (the run context)."""


def _remote_url(folder: str) -> str | None:
    url = _git(folder, "config", "--get", "remote.origin.url")
    return _without_credentials(url) if url else None


def _without_credentials(url: str) -> str:
    if "://" not in url:
        return url  # scp-like `git@host:org/repo.git`: the user part is no secret
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _dirty(folder: str) -> str | None:
    # Untracked files count (see the module docstring); ignored ones never show here.
    status = _git(folder, "status", "--porcelain", "--untracked-files=normal")
    if status is None:
        return None
    return "true" if status else "false"


def _git(folder: str, *args: str) -> str | None:
    """Output of one git command in ``folder``, or None when it fails or hangs."""
    env = {
        **os.environ,
        # `git status` would otherwise refresh and rewrite the index, racing with the
        # user's own git commands in the same work tree.
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
    }
    try:
        completed = subprocess.run(
            ["git", "-C", folder, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=_GIT_TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None
