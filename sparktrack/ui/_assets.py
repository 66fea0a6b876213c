"""The page's files: served under an address naming their content, cached for good.

The pages are ES modules importing each other by relative path, plus uPlot and the
style sheets. They change only with the installed package, so the app serves them
under ``/assets/<digest of every file>/``: a browser keeps them without asking again
(``immutable``), and a new version of the package is a new address. The index page
names that address, lists every module for the browser to fetch at once (instead of
discovering them import by import), and carries what the header shows, so a page
load asks the server only for the page itself and the data it shows.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["ASSETS_PREFIX", "STATIC", "asset_tag", "index_page"]

STATIC = Path(str(resources.files("sparktrack.ui") / "static"))
ASSETS_PREFIX = "/assets"
_ASSETS = "{{ASSETS}}"
_PRELOADS = "{{MODULE_PRELOADS}}"
_INFO = "{{SERVER_INFO}}"
IMMUTABLE = "public, max-age=31536000, immutable"


def _files() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*") if p.is_file() and p.name != "index.html")


@cache
def asset_tag() -> str:
    """A short digest of every file the pages load (their names and bytes)."""
    digest = hashlib.sha256()
    for path in _files():
        digest.update(path.relative_to(STATIC).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _module_preloads(base: str) -> str:
    modules = [p.relative_to(STATIC).as_posix() for p in _files() if p.suffix == ".js"]
    return "\n  ".join(
        f'<link rel="modulepreload" href="{html.escape(f"{base}/{m}")}">' for m in modules
    )


def index_page(info: Mapping[str, Any]) -> str:
    """The index page, naming the assets' address and carrying ``info`` as JSON.

    Args:
        info: What the page header shows (JSON-serialisable); nothing secret, since
            the page loads without the token.

    Returns:
        The page's HTML.
    """
    base = f"{ASSETS_PREFIX}/{asset_tag()}"
    # In a JSON data block "</" could close the element: escaped, it stays JSON.
    data = json.dumps(dict(info)).replace("</", "<\\/")
    return (
        (STATIC / "index.html")
        .read_text(encoding="utf-8")
        .replace(_PRELOADS, _module_preloads(base))
        .replace(_ASSETS, base)
        .replace(_INFO, data)
    )
