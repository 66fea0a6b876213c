"""Small accessors for the JVM objects a DataFrame's plan hands over through py4j.

py4j proxies carry no static types, hence ``JavaObject = Any``. Scala collections and
options are read through their own methods; nothing here starts a Spark job.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JavaObject", "as_int", "option", "private_field", "qualified_name", "seq"]

JavaObject = Any  # py4j proxies carry no static types


def seq(scala_seq: JavaObject) -> list[JavaObject]:
    """A Scala Seq as a Python list."""
    return [scala_seq.apply(i) for i in range(int(scala_seq.size()))]


def option(scala_option: JavaObject) -> JavaObject | None:
    """A Scala Option's value, or None."""
    return scala_option.get() if scala_option.isDefined() else None


def private_field(obj: JavaObject, name: str) -> JavaObject:
    """A field the JVM class does not expose, read by reflection."""
    found = obj.getClass().getDeclaredField(name)
    found.setAccessible(True)
    return found.get(obj)


def as_int(value: JavaObject) -> int:
    """A JVM number as a Python int."""
    # py4j hands some numbers over as Python ints, Scala BigInts as proxies.
    return value if isinstance(value, int) else int(str(value.toString()))


def qualified_name(catalog: JavaObject) -> str:
    """A CatalogTable's name as ``db.table`` (with the catalog where it has one)."""
    return str(catalog.identifier().unquotedString())
