"""A run's code, put back on disk for a re-run: from its snapshot, or its git commit.

``commit``: the repository cloned at the commit the run recorded. ``snapshot`` (what
ran, as closely as it was recorded): the same clone with the snapshot's ``git diff``
applied (uncommitted changes) and the snapshot's script or notebook written over its
place (an untracked script too). Without git, ``snapshot`` has the script alone (a
project's other files are taken as they are now, and said so), and ``commit`` is
refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sparktrack.errors import ConfigurationError, InvalidInputError, NotFoundError
from sparktrack.projects._fetch import fetch_project, is_git_uri
from sparktrack.tracking import SourceSnapshot

__all__ = ["CodeMode", "CodeOrigin", "RebuiltCode", "rebuild_code"]

CodeMode = Literal["snapshot", "commit"]


@dataclass
class RebuiltCode:
    """The run's code in a temporary folder.

    Attributes:
        directory: Where the code that ran lies (a project's folder, a script's folder).
        script: The script or notebook that ran, inside ``directory`` (None if unknown).
        notes: What could not be rebuilt as it was, for the user.
        temporary: The folder to remove afterwards.
    """

    directory: Path
    script: Path | None
    temporary: Path
    notes: list[str] = field(default_factory=list)

    def remove(self) -> None:
        """Remove the temporary folder."""
        shutil.rmtree(self.temporary, ignore_errors=True)


@dataclass(frozen=True)
class CodeOrigin:
    """Where the run's code came from.

    Attributes:
        repository: A git URI or local repository folder (None: not in git).
        commit: The commit that ran (None: not in git).
        subdir: The code's folder inside the repository ("" for its root).
        folder: The code's local folder when it ran (for code outside git).
    """

    repository: str | None
    commit: str | None
    subdir: str
    folder: str | None


def rebuild_code(
    origin: CodeOrigin, snapshot: SourceSnapshot | None, mode: CodeMode, run_id: str
) -> RebuiltCode:
    """Put the run's code back in a temporary folder (see the module docstring).

    Raises:
        InvalidInputError: ``commit`` for a run whose code was not in git, or
            ``snapshot`` for a run without one.
        NotFoundError: The repository or the commit cannot be found any more.
        ConfigurationError: git is needed and not installed, or the snapshot's diff
            does not apply to its commit.
    """
    if mode == "snapshot" and snapshot is None:
        raise InvalidInputError(
            f"run {run_id} has no source snapshot to re-run; use --code commit to run its "
            "git commit instead"
        )
    if origin.repository and origin.commit:
        try:
            return _from_git(origin, snapshot if mode == "snapshot" else None)
        except NotFoundError:
            if mode == "commit" or snapshot is None:
                raise
            # The code's folder was never committed (untracked): the snapshot's script
            # and the folder as it is now are what is left of it.
    if mode == "commit":
        raise InvalidInputError(
            f"run {run_id} recorded no git commit (its code was not in a git repository); "
            "re-run it from its snapshot (--code snapshot)"
        )
    assert snapshot is not None
    return _from_snapshot_alone(origin, snapshot)


def _from_git(origin: CodeOrigin, snapshot: SourceSnapshot | None) -> RebuiltCode:
    assert origin.repository is not None
    uri = origin.repository if is_git_uri(origin.repository) else f"git+file://{origin.repository}"
    fetched = fetch_project(uri + (f"#{origin.subdir}" if origin.subdir else ""), origin.commit)
    assert fetched.temporary is not None
    rebuilt = RebuiltCode(fetched.directory, None, fetched.temporary)
    try:
        if snapshot is not None:
            _apply_snapshot(rebuilt, fetched.temporary, snapshot)
    except BaseException:
        rebuilt.remove()
        raise
    return rebuilt


def _apply_snapshot(rebuilt: RebuiltCode, root: Path, snapshot: SourceSnapshot) -> None:
    if "git.diff" in snapshot.files:
        diff = snapshot.read("git.diff")
        done = subprocess.run(
            ["git", "-C", str(root), "apply", "--whitespace=nowarn", "-"],
            input=diff,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip()
            raise ConfigurationError(
                f"the uncommitted changes of snapshot {snapshot.digest} do not apply to its "
                f"commit: git said: {said}"
            )
        note = snapshot.manifest["files"]["git.diff"].get("note")
        if note:
            rebuilt.notes.append(f"the snapshot's git diff was cut ({note})")
    script = _script_place(snapshot, root)
    if script is not None:
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_bytes(snapshot.read())
        rebuilt.script = script


def _script_place(snapshot: SourceSnapshot, root: Path) -> Path | None:
    """Where the snapshot's script lies in a copy of its repository rooted at ``root``."""
    source = str(snapshot.manifest.get("source", {}).get("name") or "")
    git_root = str((snapshot.manifest.get("git") or {}).get("root") or "")
    if not snapshot.main or not source or not git_root or not os.path.isabs(source):
        return None
    relative = os.path.relpath(source, git_root)
    if relative.startswith(".."):
        return None
    return root / relative


def _from_snapshot_alone(origin: CodeOrigin, snapshot: SourceSnapshot) -> RebuiltCode:
    temporary = Path(tempfile.mkdtemp(prefix="sparktrack-rerun-"))
    rebuilt = RebuiltCode(temporary / "code", None, temporary)
    try:
        if origin.folder and Path(origin.folder).is_dir():
            shutil.copytree(origin.folder, rebuilt.directory, symlinks=True)
            rebuilt.notes.append(
                f"the code is not in its commit: files other than the snapshot's script are "
                f"taken from {origin.folder} as they are now"
            )
        else:
            rebuilt.directory.mkdir()
        if snapshot.main is None:
            raise NotFoundError(f"source snapshot {snapshot.digest} holds no script to run")
        source = str(snapshot.manifest.get("source", {}).get("name") or snapshot.main)
        place = (
            Path(os.path.relpath(source, origin.folder))
            if origin.folder and os.path.isabs(source)
            else Path(os.path.basename(source))
        )
        if place.is_absolute() or place.parts[:1] == ("..",):
            place = Path(os.path.basename(source))
        rebuilt.script = rebuilt.directory / place
        rebuilt.script.parent.mkdir(parents=True, exist_ok=True)
        rebuilt.script.write_bytes(snapshot.read())
    except BaseException:
        rebuilt.remove()
        raise
    return rebuilt
