"""Where a project's files come from: a local folder, or a git repository cloned at a commit.

URIs, as MLflow reads them: anything with a scheme (``https://``, ``ssh://``,
``file://``, each optionally as ``git+...``) or in scp form (``git@host:org/repo``) is a
git repository; everything else is a local folder. ``#sub/dir`` after a URI names the
project's folder inside it. ``version`` (a commit, branch or tag) applies to git only.
A clone goes into a temporary folder, removed once the run has ended; ``git`` itself does
the work, prompts for nothing (``GIT_TERMINAL_PROMPT=0``), and its error is shown as is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sparktrack.errors import ConfigurationError, InvalidInputError, NotFoundError

__all__ = ["FetchedProject", "fetch_project", "is_git_uri"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


@dataclass(frozen=True)
class FetchedProject:
    """A project's files on this machine.

    Attributes:
        directory: The project's folder.
        uri: The URI to record on the run (local folders made absolute; credentials
            removed from git URLs; ``#subdir`` kept).
        temporary: A folder to remove once the run ended (a clone), or None.
    """

    directory: Path
    uri: str
    temporary: Path | None = None

    def remove(self) -> None:
        """Remove the clone, if this is one."""
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)


def is_git_uri(uri: str) -> bool:
    """Whether ``uri`` names a git repository rather than a local folder.

    Args:
        uri: The project URI, ``#subdir`` included or not.

    Returns:
        True for URIs with a scheme (``file://`` included) and scp-like ``user@host:path``.
    """
    return bool(_SCHEME.match(uri) or _SCP_LIKE.match(uri))


def fetch_project(uri: str, version: str | None = None) -> FetchedProject:
    """Make the project at ``uri`` available locally (see the module docstring).

    Args:
        uri: A local folder, or a git URI, with an optional ``#subdir``.
        version: For git URIs, the commit, branch or tag to check out (default: the
            repository's default branch).

    Returns:
        The project's folder and what to record about it.

    Raises:
        NotFoundError: The folder, repository, version or subfolder does not exist.
        InvalidInputError: ``version`` was given for a local folder, or ``#subdir``
            leaves the repository.
        ConfigurationError: git is needed but not installed.
    """
    location, _, subdir = uri.partition("#")
    if not is_git_uri(location):
        if version is not None:
            raise InvalidInputError(
                f"--version {version!r} applies to git URIs only, and {uri!r} is a local "
                "folder; check out the version there, or pass a git URI (git+file:///...)"
            )
        folder = Path(location).expanduser().resolve()
        directory = _inside(folder, subdir, uri)
        return FetchedProject(directory, str(folder) + (f"#{subdir}" if subdir else ""))
    if shutil.which("git") is None:
        raise ConfigurationError(f"project {uri!r} is a git repository, but git is not installed")
    source = location.removeprefix("git+")
    clone = Path(tempfile.mkdtemp(prefix="sparktrack-project-"))
    try:
        _git(["clone", "--quiet", "--", source, str(clone)], uri, f"could not clone {uri!r}")
        if version is not None:
            _git(
                ["-C", str(clone), "checkout", "--quiet", version],
                uri,
                f"version {version!r} does not exist in {uri!r}",
            )
        if (clone / ".gitmodules").is_file():
            _git(
                ["-C", str(clone), "submodule", "update", "--init", "--recursive", "--quiet"],
                uri,
                f"could not fetch the submodules of {uri!r}",
            )
        directory = _inside(clone, subdir, uri)
    except BaseException:
        shutil.rmtree(clone, ignore_errors=True)
        raise
    recorded = _without_credentials(location) + (f"#{subdir}" if subdir else "")
    return FetchedProject(directory, recorded, temporary=clone)


def _inside(root: Path, subdir: str, uri: str) -> Path:
    directory = (root / subdir).resolve() if subdir else root
    if not directory.is_relative_to(root.resolve()):
        raise InvalidInputError(f"#{subdir} in {uri!r} leaves the project's repository")
    if not directory.is_dir():
        raise NotFoundError(f"project folder {str(directory)!r} (from {uri!r}) does not exist")
    return directory


def _git(arguments: list[str], uri: str, failure: str) -> None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    done = subprocess.run(
        ["git", *arguments],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        check=False,
    )
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}"
        raise NotFoundError(f"{failure}: git said: {said}")


def _without_credentials(url: str) -> str:
    # Tags are readable by everyone who reads the store; a CI token in the URL is not.
    if not _SCHEME.match(url):
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
