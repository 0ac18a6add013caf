"""``salesbi`` command line (Typer). Every command exits non-zero with a one-line reason."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from core.actor import Role
from core.audit import set_actor
from core.company.services import initialise_company
from core.config import Settings
from core.customers.models import Customer
from core.db import make_engine, make_session_factory, transaction
from core.errors import DomainError, InvalidInput
from core.migrate import upgrade
from core.users.models import SalesRep, User
from core.users.services import create_user
from etl.checks import CheckFailed
from etl.lock import AlreadyQueued, RunInProgress
from etl.publish import PublishConflict

app = typer.Typer(help="salesbi: order-to-cash records, star schema and dashboards.",
                  no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="Manage logins and their roles.", no_args_is_help=True)
app.add_typer(users_app, name="users")
etl_app = typer.Typer(help="Build and publish the star schema.", no_args_is_help=True)
app.add_typer(etl_app, name="etl")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])

DEMO_CUSTOMERS = 1_000
DEMO_LINES = 100_000
DEMO_SEED = 7
DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo logins of the embedded default


def fails_cleanly(command: F) -> F:
    """Turn expected failures into one line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DomainError as exc:
            reason = exc.message
        except ValidationError as exc:
            reason = "invalid configuration: " + "; ".join(
                str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
            )
        except OperationalError as exc:
            reason = f"database unreachable: {str(exc.orig).strip().splitlines()[0]}"
        except SQLAlchemyError as exc:
            reason = f"database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        except ValueError as exc:
            reason = str(exc).splitlines()[0]
        except CheckFailed as exc:
            reason = f"checks failed, nothing published: {exc}"
        except (RunInProgress, PublishConflict) as exc:
            reason = f"nothing published: {exc}"
        err_console.print(f"[red]error:[/red] {reason}", highlight=False)
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def _settings() -> Settings:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return Settings()


def _init_database(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        set_actor(session, "cli:init-db")
        initialise_company(session, company_name="salesbi demo company",
                           base_currency=settings.base_currency, timezone=settings.timezone)
    engine.dispose()


def _run_demo(settings: Settings, customers: int, lines: int, seed: int,
              end_date: date | None) -> None:
    from core.demo import generate_demo

    engine = make_engine(settings.resolved_database_url)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.fields[rows]:>12,} rows"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("generating", total=None, rows=0)

        def report(stage: str, rows: int) -> None:
            progress.update(task, description=stage, rows=rows)

        summary = generate_demo(engine, customers=customers, lines=lines, seed=seed,
                                end_date=end_date, progress=report)
    engine.dispose()
    console.print(f"demo data: {summary.rows.get('invoice_line', 0):,} invoice lines, "
                  f"{summary.rows.get('customer', 0):,} customers in {summary.seconds:.1f} s")
    _print_logins(settings)


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{option} must be a date as YYYY-MM-DD, not {text!r}") from None


def _print_logins(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        users = session.scalars(select(User).where(User.is_active).order_by(User.role)).all()
    engine.dispose()
    table = Table(title=f"Logins (demo password: {DEMO_PASSWORD!r})")
    for column in ("role", "username", "name"):
        table.add_column(column)
    for user in users:
        table.add_row(user.role.value, user.username, user.full_name)
    console.print(table)


@app.command("init-db")
@fails_cleanly
def init_db(
    demo_if_empty: Annotated[bool, typer.Option(help="Load demo data into an empty database.")]
    = False,
    customers: int = DEMO_CUSTOMERS,
    lines: int = DEMO_LINES,
    seed: int = DEMO_SEED,
) -> None:
    """Create or migrate the database and seed company settings from SALESBI_* variables."""
    settings = _settings()
    _init_database(settings)
    console.print(f"database ready: {settings.resolved_database_url}")
    engine = make_engine(settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        has_customers = bool(session.scalar(select(func.count()).select_from(Customer)))
    engine.dispose()
    if demo_if_empty and not has_customers:
        _run_demo(settings, customers, lines, seed, None)
    elif demo_if_empty:
        _print_logins(settings)


@app.command()
@fails_cleanly
def demo(
    customers: Annotated[int, typer.Option(min=10, help="Number of customers.")] = DEMO_CUSTOMERS,
    lines: Annotated[int, typer.Option(min=100, help="About this many invoice lines.")]
    = DEMO_LINES,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = DEMO_SEED,
    end_date: Annotated[str | None, typer.Option(help="Last day of history (YYYY-MM-DD).")]
    = None,
) -> None:
    """Generate three years of deterministic demo history into an empty database."""
    settings = _settings()
    end = _parse_date(end_date, "--end-date") if end_date else None
    _init_database(settings)
    _run_demo(settings, customers, lines, seed, end)


@app.command()
@fails_cleanly
def serve(
    prod: Annotated[bool, typer.Option("--prod", help="Serve with gunicorn.")] = False,
    host: str = "127.0.0.1",
    port: int = 8050,
) -> None:
    """Serve the web app (development server, or gunicorn with --prod)."""
    from dashboard.serve import serve as run_server

    settings = _settings()
    console.print(f"serving on http://{host}:{port}")
    run_server(settings, prod=prod, host=host, port=port)


def _rep_id(session: Any, rep_code: str | None) -> int | None:
    if rep_code is None:
        return None
    rep_id = session.scalar(select(SalesRep.id).where(SalesRep.code == rep_code))
    if rep_id is None:
        raise DomainError(f"no sales rep with code {rep_code!r}")
    return int(rep_id)


def _user(session: Any, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.lower()))
    if user is None:
        raise DomainError(f"no user {username!r}")
    return user


def _users_session() -> Any:
    engine = make_engine(_settings().resolved_database_url)
    return transaction(make_session_factory(engine))


@users_app.command("add")
@fails_cleanly
def users_add(
    username: str,
    role: Annotated[Role, typer.Option(help="One role per user.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    rep_code: Annotated[str | None, typer.Option(help="Sales rep code (rep, sales_manager).")]
    = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True)] = "",
) -> None:
    """Add a login (the password is prompted for, never echoed)."""
    with _users_session() as session:
        set_actor(session, "cli:users")
        create_user(session, username=username, full_name=name, role=role, password=password,
                    rep_id=_rep_id(session, rep_code))
    console.print(f"user {username} added as {role.value}")


@users_app.command("disable")
@fails_cleanly
def users_disable(username: str) -> None:
    """Disable a login; its history stays."""
    with _users_session() as session:
        set_actor(session, "cli:users")
        _user(session, username).is_active = False
    console.print(f"user {username} disabled")


@users_app.command("set-role")
@fails_cleanly
def users_set_role(username: str, role: Role,
                   rep_code: Annotated[str | None, typer.Option()] = None) -> None:
    """Change a user's role (reps and sales managers need --rep-code unless linked)."""
    with _users_session() as session:
        set_actor(session, "cli:users")
        user = _user(session, username)
        rep_id = _rep_id(session, rep_code) or user.rep_id
        if role in (Role.REP, Role.SALES_MANAGER) and rep_id is None:
            raise DomainError(f"role {role.value} needs --rep-code")
        user.role, user.rep_id = role, rep_id
    console.print(f"user {username} is now {role.value}")


@users_app.command("list")
@fails_cleanly
def users_list() -> None:
    """List logins with their role and state."""
    with _users_session() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
        table = Table()
        for column in ("username", "role", "name", "active"):
            table.add_column(column)
        for user in users:
            table.add_row(user.username, user.role.value, user.full_name,
                          "yes" if user.is_active else "no")
    console.print(table)


@etl_app.command("run")
@fails_cleanly
def etl_run(
    full: Annotated[bool, typer.Option("--full", help="Rebuild everything.")] = False,
    queue: Annotated[bool, typer.Option(
        "--queue", help="Wait for a run in progress instead of failing; do nothing when "
                        "another run already waits (it will publish these changes).")] = False,
) -> None:
    """Build the star schema from the core, check it and publish it as one batch:
    incrementally from the audit-log watermark, or everything with ``--full``. Prints one
    line per stage (``stage: <name>``) as it starts."""
    from etl.publish import mart_target
    from etl.run import run_etl

    if full and queue:
        raise InvalidInput("--queue runs incrementally: it cannot be combined with --full")
    settings = _settings()
    core_engine = make_engine(settings.resolved_database_url)
    target = mart_target(settings.resolved_mart_url, settings.resolved_mart_dir,
                         schema=settings.mart_schema,
                         load_connections=settings.etl_connections)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("starting", total=None)

        def stage(name: str) -> None:
            progress.console.print(f"stage: {name}", highlight=False)
            progress.update(task, description=name)

        try:
            result = run_etl(core_engine, target, full=full, queue=queue, progress=stage,
                             connections=settings.etl_connections)
        except AlreadyQueued as exc:
            progress.console.print(f"nothing to do: {exc}, which will publish these changes",
                                   highlight=False)
            return
    if not result.published:
        console.print(f"no changes since watermark {result.watermark_seq}: nothing published "
                      f"(batch {result.batch_id} stays)", highlight=False)
        return
    rebuilt = ""
    if result.customers is not None:
        rebuilt = f", {result.customers:,} customer{'' if result.customers == 1 else 's'} rebuilt"
    console.print(f"published batch {result.batch_id} ({result.mode}{rebuilt})",
                  highlight=False)
    table = Table(title="rows per table")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in result.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
