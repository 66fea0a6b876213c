"""``sparktrack models ...``: the model registry from the shell."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from sparktrack.cli._app import cli_errors, cli_state
from sparktrack.cli._output import echo_json, echo_table, iso_time, short_time
from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.registry import ModelVersion, RegistryClient, check_stage

__all__ = ["models_app"]

models_app = typer.Typer(
    name="models",
    help="The model registry: registered models, versions, stages, aliases and history.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _registry(ctx: typer.Context, *, must_exist: bool = True) -> RegistryClient:
    return RegistryClient(cli_state(ctx).client(must_exist=must_exist))


def _version_json(version: ModelVersion) -> dict[str, Any]:
    data = asdict(version)
    data["aliases"] = list(version.aliases)
    data["creation_timestamp"] = iso_time(version.creation_timestamp)
    data["last_updated_timestamp"] = iso_time(version.last_updated_timestamp)
    data["model_uri"] = version.model_uri
    return data


def _echo_versions(versions: list[ModelVersion], as_json: bool, empty: str) -> None:
    if as_json:
        echo_json([_version_json(v) for v in versions])
        return
    echo_table(
        ["NAME", "VERSION", "STAGE", "ALIASES", "CREATED", "RUN", "SOURCE"],
        [
            [
                v.name,
                v.version,
                v.current_stage,
                ",".join(v.aliases),
                short_time(v.creation_timestamp),
                v.run_id or "",
                v.source,
            ]
            for v in versions
        ],
        empty=empty,
    )


@models_app.command("list")
@cli_errors
def list_models(
    ctx: typer.Context,
    filter_string: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"name LIKE 'churn%' AND tags.team = 'risk'\""),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List registered models with their version count, aliases and stage holders."""
    models = _registry(ctx).search_registered_models(filter_string)
    if as_json:
        echo_json(
            [
                {
                    "name": m.name,
                    "description": m.description,
                    "tags": m.tags,
                    "aliases": m.aliases,
                    "versions": m.version_count,
                    "latest_versions": [_version_json(v) for v in m.latest_versions],
                    "creation_timestamp": iso_time(m.creation_timestamp),
                    "last_updated_timestamp": iso_time(m.last_updated_timestamp),
                }
                for m in models
            ]
        )
        return

    def holder(model: Any, stage: str) -> str:
        held = [str(v.version) for v in model.latest_versions if v.current_stage == stage]
        return held[0] if held else ""

    echo_table(
        ["NAME", "VERSIONS", "PRODUCTION", "STAGING", "ALIASES", "UPDATED"],
        [
            [
                m.name,
                m.version_count,
                holder(m, "Production"),
                holder(m, "Staging"),
                ",".join(f"{a}->{n}" for a, n in m.aliases.items()),
                short_time(m.last_updated_timestamp),
            ]
            for m in models
        ],
        empty="No registered models. Register one with `sparktrack models register URI NAME`.",
    )


@models_app.command("show")
@cli_errors
def show_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[
        str | None,
        typer.Option("--version", "-v", help="Only this version (number, stage or @alias)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a registered model's versions (newest first), or one version."""
    registry = _registry(ctx)
    if version is not None:
        selector = f"models:/{name}{version}" if version.startswith("@") else None
        one = registry.resolve(selector or f"models:/{name}/{version}")
        if as_json:
            echo_json(_version_json(one))
            return
        for key, value in _version_json(one).items():
            typer.echo(f"{key:24}{value}")
        return
    model = registry.get_registered_model(name)
    versions = registry.search_model_versions(f"name = '{name.replace(chr(39), chr(39) * 2)}'")
    if as_json:
        echo_json(
            {
                "name": model.name,
                "description": model.description,
                "tags": model.tags,
                "aliases": model.aliases,
                "versions": [_version_json(v) for v in versions],
            }
        )
        return
    typer.echo(f"{model.name}: {model.description}" if model.description else model.name)
    if model.tags:
        typer.echo("tags: " + ", ".join(f"{k}={v}" for k, v in sorted(model.tags.items())))
    _echo_versions(versions, False, empty="No versions.")


def _parse_tags(tags: list[str] | None) -> dict[str, str]:
    parsed = {}
    for item in tags or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--tag {item!r} is not KEY=VALUE")
        parsed[key] = value
    return parsed


@models_app.command("register")
@cli_errors
def register(
    ctx: typer.Context,
    model_uri: Annotated[str, typer.Argument(help="runs:/<run_id>/<path>, a folder or a URI.")],
    name: Annotated[str, typer.Argument(help="Registered model name (created if new).")],
    description: Annotated[str | None, typer.Option(help="Version description.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="KEY=VALUE tag (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a logged model as the next version of NAME."""
    version = _registry(ctx, must_exist=False).register_model(
        model_uri, name, tags=_parse_tags(tag), description=description
    )
    if as_json:
        echo_json(_version_json(version))
    else:
        typer.echo(f"Registered {version.model_uri} from {version.source}")


@models_app.command("stage")
@cli_errors
def stage(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int, typer.Argument(help="Version number.")],
    to: Annotated[str, typer.Argument(help="None, Staging, Production or Archived.")],
) -> None:
    """Move a version to a stage; the previous Staging/Production holder is archived."""
    to = check_stage(to)  # before any read, so a typo fails the same for every model
    registry = _registry(ctx)
    before = {
        v.version: v.current_stage for v in registry.get_registered_model(name).latest_versions
    }
    moved = registry.transition_model_version_stage(name, version, to)
    typer.echo(f"{name} version {moved.version}: now {moved.current_stage}")
    for number, old in sorted(before.items()):
        if (
            number != moved.version
            and old == moved.current_stage
            and old in ("Staging", "Production")
        ):
            typer.echo(f"{name} version {number}: {old} -> Archived")


@models_app.command("alias")
@cli_errors
def alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. champion.")],
    version: Annotated[
        int | None, typer.Argument(help="Version to point the alias at (omit with --delete).")
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
) -> None:
    """Point ALIAS at VERSION (models:/NAME@ALIAS), or remove it with --delete."""
    registry = _registry(ctx)
    if delete:
        registry.delete_registered_model_alias(name, alias_name)
        typer.echo(f"Removed alias {alias_name!r} of {name}")
        return
    if version is None:
        raise InvalidInputError("give the VERSION the alias should point to, or --delete")
    registry.set_registered_model_alias(name, alias_name, version)
    typer.echo(f"models:/{name}@{alias_name} -> version {version}")


@models_app.command("history")
@cli_errors
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int | None, typer.Option("--version", "-v", help="One version.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every registration, stage transition, alias move and deletion: who, when, from, to."""
    entries = _registry(ctx).get_model_history(name, version)  # NotFoundError: unknown model
    if version is not None and not entries:
        # Every version ever registered has its registration in the history, deleted
        # ones included: no entry means no such version.
        raise NotFoundError(
            f"registered model {name!r} has no version {version}; "
            f"`sparktrack models show {name}` lists its versions"
        )
    if as_json:
        echo_json([{**asdict(t), "timestamp": iso_time(t.timestamp)} for t in entries])
        return

    def what(kind: str, key: str | None) -> str:
        return f"alias {key}" if kind.startswith("alias") else kind

    echo_table(
        ["WHEN", "USER", "VERSION", "CHANGE", "FROM", "TO"],
        [
            [
                short_time(t.timestamp),
                t.user_id or "",
                "" if t.version is None else t.version,
                what(t.kind, t.key),
                t.from_value or "",
                t.to_value or "",
            ]
            for t in entries
        ],
        empty="No history.",
    )
