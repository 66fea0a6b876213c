"""A web UI over a store: experiments, runs, curves, artifacts, compare, sweeps, registry.

    sparktrack ui --store /data/sparktrack-store            # http://127.0.0.1:5000/

or from Python:

    app = sparktrack.ui.create_app("/data/sparktrack-store")   # a FastAPI app
    sparktrack.ui.run("/data/sparktrack-store", port=5000)     # serve it

Every page is backed by a JSON API under ``/api`` (its schema at ``/openapi.json``),
read through the same path as ``search_runs``: delta-rs and Arrow, never a JVM. It is
read-only unless started with ``allow_writes``; ``token`` requires a bearer token.
Importing this package does not import FastAPI: serving needs the ``ui``
extra (``pip install 'sparktrack[ui]'``).
"""

from __future__ import annotations

from sparktrack.ui._app import create_app
from sparktrack.ui._runner import DEFAULT_PORT, run

__all__ = ["DEFAULT_PORT", "create_app", "run"]
