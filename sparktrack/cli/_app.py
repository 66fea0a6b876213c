"""The root ``sparktrack`` command: the global ``--store`` option, ``--version``, error handling.

Sub-commands live in their own modules and are attached in ``sparktrack.cli``; they
reach the store through :func:`cli_state`, which opens the TrackingClient only when a
command first needs it (so ``--help`` and usage errors never touch the store).

Every failure is reported one way: ``error: <message>`` on stderr. Exit codes: 0 done,
1 the command failed (a SparktrackError: bad input, nothing found, a store problem),
2 the command line itself is wrong (Click's usage errors, which add a pointer to
``--help``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from typer.core import TyperGroup

from sparktrack._version import __version__
from sparktrack.cli._output import echo_error
from sparktrack.config import DEFAULTS, Settings, load_settings
from sparktrack.errors import NotFoundError, SparktrackError
from sparktrack.store import parse_store_uri
from sparktrack.tracking import TrackingClient

__all__ = [
    "CliState",
    "LoopbackHostOption",
    "PortOption",
    "app",
    "cli_errors",
    "cli_state",
    "store_exists",
]

P = ParamSpec("P")

# The options of the commands that start a server (ui, server, serve).
PortOption = Annotated[
    int,
    typer.Option("--port", "-p", min=0, max=65535, help="Port to listen on; 0 picks a free one."),
]
LoopbackHostOption = Annotated[
    str,
    typer.Option(
        "--host",
        help="Interface to listen on. The default accepts local connections only; "
        "0.0.0.0 accepts any (give a --token then).",
    ),
]
"""--host of a server guarded by a token (ui, server)."""
R = TypeVar("R")


def store_exists(uri: str) -> bool:
    """Whether a local store is already there (remote stores: assumed, checked on open).

    Opening a store creates its tables, so read-only commands check first: a typo in
    ``--store`` must not leave an empty store behind in some random folder.
    """
    if uri.startswith("memory://"):
        return True
    location = parse_store_uri(uri)
    if not location.is_local:
        return True
    assert location.local_path is not None
    return (Path(location.local_path) / "runs" / "_delta_log").is_dir()


class CliState:
    """What the root command resolved, shared by every sub-command of one invocation."""

    def __init__(self, store: str | None) -> None:
        self.explicit_store = store
        self._settings: Settings | None = None
        self._client: TrackingClient | None = None

    @property
    def settings(self) -> Settings:
        # Precedence (explicit > SPARKTRACK_STORE > config file > default) is
        # load_settings' job; the CLI only passes --store along as the explicit value.
        if self._settings is None:
            self._settings = load_settings(store=self.explicit_store)
        return self._settings

    @property
    def store_uri(self) -> str:
        return self.settings.store

    @property
    def store_source(self) -> str:
        """Where the store URI came from, for messages that help fix a wrong one."""
        if self.explicit_store is not None:
            return "--store"
        if os.environ.get("SPARKTRACK_STORE"):
            return "SPARKTRACK_STORE"
        if self.settings.store != DEFAULTS["store"]:
            return "config file"
        return "default"

    def client(self, *, must_exist: bool = True, record_verdicts: bool = True) -> TrackingClient:
        """The TrackingClient of this invocation, opened on first use.

        ``record_verdicts`` False: a client that writes nothing (see TrackingClient).
        """
        if self._client is None:
            if must_exist and not store_exists(self.store_uri):
                raise NotFoundError(
                    f"no sparktrack store at {parse_store_uri(self.store_uri).uri!r} (store from "
                    f"{self.store_source}); pass `sparktrack --store URI ...`, set "
                    "SPARKTRACK_STORE, or log a run there first"
                )
            self._client = TrackingClient(settings=self.settings, record_verdicts=record_verdicts)
        return self._client

    def close(self) -> None:
        if self._client is None:
            return
        client, self._client = self._client, None
        try:
            client.close()
        except SparktrackError as exc:
            # Runs on context teardown, outside any command's error handling.
            echo_error(f"closing the store failed: {exc}")


def cli_state(ctx: typer.Context) -> CliState:
    state = ctx.find_object(CliState)
    if state is None:
        # A sub-app run without the root callback (embedded elsewhere): use the defaults.
        state = CliState(None)
        ctx.obj = state
        ctx.call_on_close(state.close)
    return state


def cli_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a SparktrackError into ``error: <message>`` on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SparktrackError as exc:
            echo_error(str(exc))
            raise typer.Exit(1) from None

    return wrapper


# Typer raises Click's exception classes (from its own copy of Click since 0.2x, from
# Click before): found through the one Typer exports, so either works.
_CLICK_EXCEPTION: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


def _lower_first(message: str) -> str:
    # Click writes "Invalid value ..."; sparktrack's messages start in lower case.
    return message[0].lower() + message[1:] if message[:2].istitle() else message


@contextmanager
def _click_errors_in_our_style() -> Iterator[None]:
    """Show Click's errors as ``error: <message>``, keeping Click's exit code.

    Usage errors (exit code 2) also say where ``--help`` is.
    """
    try:
        yield
    except _CLICK_EXCEPTION as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise  # a bare group prints its help: no error message to restyle
        echo_error(_lower_first(exc.format_message()))  # type: ignore[attr-defined]
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, _USAGE_ERROR) and ctx is not None:
            typer.echo(f"Try '{ctx.command_path} --help' for help.", err=True)
        raise typer.Exit(exc.exit_code) from None  # type: ignore[attr-defined]


class _RootGroup(TyperGroup):
    """The root command, restyling Click's errors.

    Every sub-command's arguments are parsed beneath it, so Click's errors for all of
    them pass through here.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        with _click_errors_in_our_style():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _click_errors_in_our_style():
            return super().invoke(ctx)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"sparktrack {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="sparktrack",
    cls=_RootGroup,
    help=(
        "Experiment tracking on Spark + Delta: list and search runs, inspect them, "
        "manage the model registry, serve models, maintain the store and check the "
        "environment."
    ),
    epilog=(
        "The store is chosen by --store, else $SPARKTRACK_STORE, else the config file "
        "($SPARKTRACK_CONFIG or ./conf/sparktrack.yaml), else ./sparktrack-store."
    ),
    no_args_is_help=True,
    add_completion=False,
    # Typer's default rich markup mode would reflow help text; keep it as written.
    rich_markup_mode=None,
)
"""The root ``sparktrack`` Typer app, with every command attached by ``sparktrack.cli``.

Call it like a function (``app(["runs", "list"], prog_name="sparktrack")``) or test
it with ``typer.testing.CliRunner().invoke(app, [...])``.
"""


@app.callback()
def root(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URI",
            help=(
                "Store to use: a folder or an hdfs://, s3a://, abfss:// URI. Default: "
                "$SPARKTRACK_STORE, then the config file, then ./sparktrack-store."
            ),
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the sparktrack version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    state = CliState(store)
    ctx.obj = state
    ctx.call_on_close(state.close)
