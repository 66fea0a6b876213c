"""Every name a public package exports is documented for users, in Google style.

ruff's pydocstyle rules (``D``, pyproject.toml) check the docstrings ruff can see, but
most exported names are defined in private ``_modules``, where ruff does not ask for a
docstring at all. This test walks each public package's ``__all__`` instead and asks of
every exported function, class and public method what ruff asks of public ones:

* a docstring;
* an ``Args:`` section naming every parameter, when it takes any (a class documents its
  ``__init__`` parameters in its own docstring or its ``__init__``'s);
* a ``Returns:`` section when it returns something (``Yields:`` for a generator or a
  ``@contextmanager``).

Constants and type aliases are left to the docs build (``mkdocs build --strict``).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, Protocol

import pytest

PUBLIC_PACKAGES = (
    "sparktrack",
    "sparktrack.tracking",
    "sparktrack.autologging",
    "sparktrack.sweeps",
    "sparktrack.projects",
    "sparktrack.models",
    "sparktrack.monitoring",
    "sparktrack.registry",
    "sparktrack.datasets",
    "sparktrack.serving",
    "sparktrack.ui",
    "sparktrack.search",
    "sparktrack.store",
    "sparktrack.spark",
    "sparktrack.h2o",
    "sparktrack.errors",
    "sparktrack.config",
    "sparktrack.session",
)

_SECTION = re.compile(r"^(\w[\w ]*):\s*$")
# An entry of an Args: section: "name: ...", "name (type): ...", "*args: ...".
_ARG_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(\([^)]*\))?\s*:")
_NOTHING_RETURNED = {"None", "NoReturn", "Never", "typing.NoReturn"}


def _home(obj: object) -> str | None:
    """The public package an object is defined in (the longest matching name), if any."""
    module = getattr(obj, "__module__", None) or ""
    homes = [p for p in PUBLIC_PACKAGES if module == p or module.startswith(p + ".")]
    return max(homes, key=len) if homes else None


def _sections(doc: str) -> dict[str, list[str]]:
    """Google-style sections of a cleaned docstring: {title: the lines under it}."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        if not line.startswith((" ", "\t")):
            match = _SECTION.match(line)
            current = sections.setdefault(match.group(1), []) if match else None
        elif current is not None:
            current.append(line)
    return sections


def _documented_args(lines: list[str]) -> set[str]:
    if not lines:
        return set()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    names = set()
    for line in lines:
        if line.strip() and len(line) - len(line.lstrip()) == indent:
            match = _ARG_ENTRY.match(line.strip())
            if match:
                names.add(match.group(1))
    return names


def _args_of(doc: str | None) -> set[str]:
    return _documented_args(_sections(inspect.cleandoc(doc or "")).get("Args", []))


def _parameters(func: Callable[..., Any]) -> list[str]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin without a signature
        return []
    return [name for name in signature.parameters if name not in ("self", "cls")]


def _returns_something(func: Callable[..., Any]) -> bool:
    annotation = inspect.signature(func).return_annotation
    if annotation is inspect.Signature.empty or annotation is None:
        return False
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return text not in _NOTHING_RETURNED


def _problems(func: Callable[..., Any], *docs: str | None) -> list[str]:
    """What ``func``'s docstring lacks.

    ``docs``: its docstring, then those of the methods it overrides: an implementation
    of an abstract method may leave the arguments and the result to the contract's
    docstring, as ``inspect.getdoc`` and the docs site show it.
    """
    if not docs or not docs[0]:
        return ["no docstring"]
    sections: dict[str, list[str]] = {}
    for doc in docs:
        for title, lines in _sections(inspect.cleandoc(doc or "")).items():
            sections.setdefault(title, []).extend(lines)
    found: list[str] = []
    parameters = _parameters(func)
    if parameters:
        missing = set(parameters) - _documented_args(sections.get("Args", []))
        if missing:
            found.append(f"Args: does not describe {sorted(missing)}")
    unwrapped = inspect.unwrap(func)
    if inspect.isgeneratorfunction(unwrapped) or inspect.isasyncgenfunction(unwrapped):
        if "Yields" not in sections:
            found.append("no Yields: section")
    elif _returns_something(func) and "Returns" not in sections:
        found.append("no Returns: section")
    return found


def _own_classes(cls: type) -> Iterator[type]:
    """The class and the sparktrack classes it inherits from (mixins included)."""
    for klass in cls.__mro__:
        if klass.__module__.startswith("sparktrack"):
            yield klass


def _class_problems(cls: type) -> list[str]:
    found: list[str] = []
    if not cls.__doc__:
        found.append(f"{cls.__qualname__}: no docstring")
    if issubclass(cls, enum.Enum):
        return found
    init = vars(cls).get("__init__")
    # Generated, not written here: a dataclass's, and the stand-in typing.Protocol puts
    # in every protocol class (its (*args, **kwargs) are nobody's to document).
    generated = dataclasses.is_dataclass(cls) or getattr(init, "__module__", None) == "typing"
    if init is not None and not generated and _parameters(init):
        # The parameters may be described in the class docstring or in __init__'s.
        described = _args_of(cls.__doc__) | _args_of(init.__doc__)
        missing = set(_parameters(init)) - described
        if missing:
            found.append(f"{cls.__qualname__}: Args: does not describe {sorted(missing)}")
    seen: set[str] = set()
    for klass in _own_classes(cls):
        for name, attr in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            where = f"{klass.__qualname__}.{name}"
            overridden = [vars(k)[name] for k in cls.__mro__ if name in vars(k)]
            if isinstance(attr, property):
                # A property overriding a documented one shows that one's docstring.
                if not any(getattr(o, "__doc__", None) for o in overridden):
                    found.append(f"{where}: no docstring")
                continue
            func = attr.__func__ if isinstance(attr, classmethod | staticmethod) else attr
            if not inspect.isfunction(func):
                continue  # class attributes, enum members, dataclass fields
            # A method without a docstring of its own inherits the one it overrides
            # (inspect.getdoc, the docs site); the overridden ones may hold its Args.
            docs = [inspect.getdoc(getattr(cls, name))]
            docs += [getattr(o, "__doc__", None) for o in overridden]
            found += [f"{where}: {p}" for p in _problems(func, *docs)]
    return found


def _exported() -> list[tuple[str, str]]:
    pairs = []
    checked: set[int] = set()
    for package in PUBLIC_PACKAGES:
        module: ModuleType = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            home = _home(obj)
            if home is None or id(obj) in checked:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                checked.add(id(obj))
                pairs.append((package, name))
    return pairs


@pytest.mark.parametrize(("package", "name"), _exported())
def test_exported_name_is_documented(package: str, name: str) -> None:
    obj = getattr(importlib.import_module(package), name)
    problems = _class_problems(obj) if inspect.isclass(obj) else _problems(obj, obj.__doc__)
    assert not problems, f"{package}.{name}:\n  " + "\n  ".join(problems)


def test_every_public_package_exports_names() -> None:
    for package in PUBLIC_PACKAGES:
        assert importlib.import_module(package).__all__, f"{package} exports nothing"


def test_the_checker_finds_what_is_missing() -> None:
    """The checks themselves can fail: an undocumented function is caught."""

    def bare(alpha: int, beta: str = "") -> int:
        return alpha

    def half(alpha: int, beta: str = "") -> int:
        """Do something.

        Args:
            alpha: the first.
        """
        return alpha

    def whole(alpha: int, *, beta: str = "") -> int:
        """Do something.

        Args:
            alpha (int): the first.
            beta: the second,
                on two lines.

        Returns:
            The first.
        """
        return alpha

    def gen(alpha: int) -> Iterator[int]:
        """Count.

        Args:
            alpha: up to this.

        Returns:
            Not a generator's section.
        """
        yield from range(alpha)

    assert _problems(bare, bare.__doc__) == ["no docstring"]
    assert _problems(half, half.__doc__) == [
        "Args: does not describe ['beta']",
        "no Returns: section",
    ]
    assert _problems(whole, whole.__doc__) == []
    assert _problems(gen, gen.__doc__) == ["no Yields: section"]


def test_the_checker_reads_constructors_written_here_only() -> None:
    """A protocol's generated constructor is skipped; a hand-written one is checked."""

    class Shape(Protocol):
        """Something with an area."""

    class Square:
        """A square.

        Args:
            side: Its side.
        """

        def __init__(self, side: float, unit: str) -> None:
            self.side = side

    assert _class_problems(Shape) == []
    assert _class_problems(Square) == [f"{Square.__qualname__}: Args: does not describe ['unit']"]
