"""The uncommitted state of the work tree a run's source lives in: ``git.diff``, ``untracked.txt``.

Read once per work tree for the life of the process, as the git tags are
(``_context_git``): the process keeps running the code it loaded. Only a dirty tree
gives files: ``git diff HEAD`` (staged and unstaged changes to tracked files, cut at
``MAX_DIFF_BYTES``) and the untracked files not ignored, listed with their sizes (at
most ``MAX_UNTRACKED_FILES``), not copied: they may be data or secrets.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

from sparktrack.tracking._snapshot_parts import MAX_DIFF_BYTES, MAX_UNTRACKED_FILES, Part

__all__ = ["GitState", "git_state"]

# Longer than the tags' 3 s: this runs off the user's thread, and a diff of a large
# change takes a while; still bounded, so a hung git cannot hold the snapshot forever.
_GIT_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class GitState:
    """What a snapshot records of a work tree.

    Attributes:
        commit: HEAD's commit (None before the first commit).
        root: The work tree's top folder.
        parts: ``git.diff`` and ``untracked.txt`` when the tree is dirty; else none.
    """

    commit: str | None
    root: str
    parts: tuple[Part, ...]


@functools.cache
def git_state(folder: str) -> GitState | None:
    """The work tree holding ``folder``; None when there is none (or no git).

    Cached per folder (see the module docstring).
    """
    if shutil.which("git") is None:
        return None
    found = _git(folder, "rev-parse", "--show-toplevel")
    if found is None:
        return None
    root = found[0].decode("utf-8", "replace").strip()
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    commit = head[0].decode().strip() if head else None
    parts: list[Part] = []
    if commit is not None:
        diff = _git(root, "diff", "HEAD", "--no-color", "--no-ext-diff", limit=MAX_DIFF_BYTES)
        if diff is not None and diff[0]:
            parts.append(_diff_part(*diff))
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    if untracked is not None and untracked[0]:
        parts.append(_untracked_part(root, untracked[0]))
    return GitState(commit, root, tuple(parts))


def _diff_part(diff: bytes, cut: bool) -> Part:
    if not cut:
        return Part("git.diff", "git-diff", diff)
    # Cut at a line end, so that what is kept is whole hunks' lines.
    kept = diff[: diff.rfind(b"\n", 0, MAX_DIFF_BYTES) + 1]
    note = f"cut at {len(kept):,} bytes (the cap is {MAX_DIFF_BYTES:,})"
    return Part("git.diff", "git-diff", kept, note)


def _untracked_part(root: str, listing: bytes) -> Part:
    paths = [p.decode("utf-8", "replace") for p in listing.split(b"\0") if p]
    lines = []
    for path in paths[:MAX_UNTRACKED_FILES]:
        try:
            size = str(os.lstat(os.path.join(root, path)).st_size)
        except OSError:
            size = "?"
        lines.append(f"{size}\t{path}\n")
    note = ""
    if len(paths) > MAX_UNTRACKED_FILES:
        note = f"{len(paths) - MAX_UNTRACKED_FILES:,} more untracked files not listed"
    return Part("untracked.txt", "untracked", "".join(lines).encode(), note)


def _git(folder: str, *args: str, limit: int | None = None) -> tuple[bytes, bool] | None:
    """One git command's output (at most ``limit`` bytes, and whether it was cut).

    None when git fails or outlives the timeout.
    """
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        process = subprocess.Popen(
            ["git", "-C", folder, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a failure is an answer: no state to record
            env=env,
        )
    except OSError:
        return None
    assert process.stdout is not None
    # A hung git (a network file system) blocks the read itself: the timer ends it.
    timer = threading.Timer(_GIT_TIMEOUT_SECONDS, process.kill)
    timer.start()
    try:
        # Read one byte past the cap: enough to know the output was longer, without
        # holding a diff of a huge data file in memory.
        data = process.stdout.read(limit + 1) if limit is not None else process.stdout.read()
        cut = limit is not None and len(data) > limit
        if cut:
            process.kill()
        returncode = process.wait()
    finally:
        timed_out = timer.finished.is_set()  # set only by firing, until cancel() below
        timer.cancel()
        process.stdout.close()
    if timed_out or (returncode != 0 and not cut):
        return None
    return data, cut
