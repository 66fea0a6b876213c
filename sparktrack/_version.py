"""The version of sparktrack.

In a module of its own: the layers below the facade read it without importing the
facade (``sparktrack/__init__.py``), which imports them.
"""

__version__ = "0.1.0"
