"""The progress bar: trials done / running / failed and the best value so far."""

from __future__ import annotations

from typing import Any

__all__ = ["Progress"]


class Progress:
    """tqdm's bar (a widget in notebooks, text in terminals); silent when disabled."""

    def __init__(self, total: int | None, enabled: bool, description: str) -> None:
        self._bar: Any = None
        if enabled:
            # Imported here, not at the top: loading tqdm.auto picks the notebook widget
            # or the text bar, and warns in a notebook without ipywidgets; a sweep
            # with progress=False shows none of that.
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, unit="trial", dynamic_ncols=True)

    def update(self, *, done: int, running: int, failed: int, pruned: int, best: Any) -> None:
        if self._bar is None:
            return
        self._bar.n = done
        shown = "-" if best is None else f"{best:.6g}"
        self._bar.set_postfix(
            running=running, failed=failed, pruned=pruned, best=shown, refresh=False
        )
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
