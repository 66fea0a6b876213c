"""``python -m sparktrack.cli``: the same as the ``sparktrack`` console script."""

from __future__ import annotations

from sparktrack.cli import main

if __name__ == "__main__":
    main()
