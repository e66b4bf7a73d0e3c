"""`mlipm tokens create|list|revoke`: the caller's API tokens, through the API; with
``--user NAME`` (admins) another user's."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backend.client import ApiClient, ApiError
from backend.settings import get_settings

tokens_app = typer.Typer(help="Your API tokens (through the API).")
console = Console()
Token = Annotated[str, typer.Option(envvar="MLIPM_TOKEN", help="an API token of yours")]
User = Annotated[str, typer.Option("--user", help="another user's tokens (admins only)")]


def _client(token: str) -> ApiClient:
    return ApiClient(get_settings().api_url, token or None)


def user_id(client: ApiClient, name: str) -> str:
    """The id of the user named ``name`` (admins only: it reads the list of users)."""
    found = next((u for u in client.users() if u.name == name), None)
    if found is None:
        raise typer.BadParameter(f"no user named {name!r}")
    return str(found.id)


@tokens_app.command("create")
def tokens_create(
    token: Token = "",
    name: Annotated[str, typer.Option(help="a name to recognise it by")] = "default",
) -> None:
    """Create a token and print its secret (shown this once; it is stored only hashed)."""
    try:
        with _client(token) as client:
            created = client.create_token(name)
    except ApiError as exc:
        raise typer.BadParameter(exc.message) from exc
    typer.echo(created.token)


@tokens_app.command("list")
def tokens_list(token: Token = "", user: User = "") -> None:
    """List your tokens (admins, with --user: anyone's), without secrets, revoked ones too."""
    try:
        with _client(token) as client:
            items = client.user_tokens(user_id(client, user)) if user else client.tokens()
    except ApiError as exc:
        raise typer.BadParameter(exc.message) from exc
    table = Table("id", "name", "prefix", "created", "last used", "revoked")
    for t in items:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "-",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-",
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str, token: Token = "", user: User = "") -> None:
    """Revoke one of your tokens (admins: anyone's); it gives 401 from then on."""
    try:
        with _client(token) as client:
            if user:
                client.revoke_user_token(user_id(client, user), token_id)
            else:
                client.revoke_token(token_id)
    except ApiError as exc:
        raise typer.BadParameter(exc.message) from exc
    typer.echo(f"revoked {token_id}")
