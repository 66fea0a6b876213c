"""How a route handler reaches the app's shared state.

Imported only by the route modules, which ``create_app`` imports once FastAPI is known
to be there: ``Request`` must be a real name at run time, FastAPI reads the annotation.
"""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from sparktrack.ui._state import UiState

__all__ = ["ui_state"]


def ui_state(request: Request) -> UiState:
    """The UiState of the app serving ``request`` (set by ``create_app``)."""
    return cast(UiState, request.app.state.ui)
