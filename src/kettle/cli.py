"""The ``kettle`` command: ``run``, ``serve``, ``routes``, ``check``, ``shell`` and
``db``.

Every command takes the app as ``MODULE:APP`` (``myproject.web:app``). ``MODULE``
alone means its attribute ``app``; with no argument at all, ``app.py`` in the current
folder must define ``app``. The current folder is put on ``sys.path`` first.

The servers (granian, uvicorn) and the database battery (SQLAlchemy, Alembic) are
imported by the commands that use them, never when this module is imported. The
``db`` commands take the app as ``--app MODULE:APP`` (before or after the command
name), since their arguments are revisions, files and models.
"""

from __future__ import annotations

import atexit
import code
import contextlib
import functools
import importlib
import os
import sys
import traceback
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import Literal

import click

import kettle

from .app import Kettle
from .exceptions import ImproperlyConfigured
from .routing import Mount
from .routing import WebSocketRoute

__all__ = ("AppImportError", "cli", "load_app", "main", "route_table")

Interface = Literal["asgi", "wsgi"]
ServerName = Literal["granian", "uvicorn"]

APP_METAVAR = "[MODULE:APP]"
DEFAULT_FILE = "app.py"
DEFAULT_ATTR = "app"


# -- finding the app ------------------------------------------------------------------


class AppImportError(click.ClickException):
    """The app's module raised an exception while being imported (exit code 1)."""


def _split_target(target: str | None) -> tuple[str, str]:
    """``MODULE:APP`` as ``(module, attribute path)``, applying the defaults.

    Raises:
        click.UsageError: No target and no ``app.py``, or a malformed target.
    """
    if target is None:
        if not Path(DEFAULT_FILE).is_file():
            raise click.UsageError(
                f"no app given and there is no {DEFAULT_FILE} in {os.getcwd()}. "
                "Pass MODULE:APP (for example 'myproject.web:app'), or run this "
                f"command in the folder of an {DEFAULT_FILE} that defines 'app'."
            )
        return "app", DEFAULT_ATTR
    module, _, attr = target.strip().partition(":")
    if module.endswith(".py"):  # a file name: "app.py" or "pkg/web.py"
        module = module[:-3].replace(os.sep, ".").replace("/", ".")
    attr = attr or DEFAULT_ATTR
    names = module.split(".") + attr.split(".")
    if not all(name.isidentifier() for name in names):
        raise click.UsageError(
            f"{target!r} is not MODULE or MODULE:APP (for example 'myproject.web:app')"
        )
    return module, attr


def _error_location(exc: BaseException) -> str:
    """Where ``exc`` was raised, as `` (file, line N)``, or an empty string."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({exc.filename}, line {exc.lineno})"
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen ")
    ]
    if not frames:
        return ""
    return f" ({frames[-1].filename}, line {frames[-1].lineno})"


def _import_failure(module_name: str, exc: Exception) -> AppImportError:
    """The error for an exception raised by the app's module while importing."""
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return AppImportError(
        f"while importing {module_name!r}: {type(exc).__name__}: {message}"
        f"{_error_location(exc)}"
    )


def _import_module(module_name: str) -> Any:
    """Import the app's module, turning failures into click errors."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (
            module_name == missing or module_name.startswith(missing + ".")
        ):
            raise click.UsageError(
                f"could not import {module_name!r}: there is no such module in "
                f"{os.getcwd()} or on sys.path"
            ) from None
        raise _import_failure(module_name, exc) from None
    except Exception as exc:
        raise _import_failure(module_name, exc) from None


def load_app(target: str | None) -> tuple[Kettle, str]:
    """Import the app named by ``target`` (``MODULE:APP``, ``MODULE`` or None).

    Returns:
        The app and its import string, ``"module:attribute"``.

    Raises:
        click.UsageError: The module or attribute does not exist, or is not a
            :class:`~kettle.Kettle` app (exit code 2).
        AppImportError: Importing the module raised an exception (exit code 1).
    """
    module_name, attr = _split_target(target)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    module = _import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            apps = sorted(k for k, v in vars(module).items() if isinstance(v, Kettle))
            hint = f" (it defines: {', '.join(apps)})" if apps else ""
            where = DEFAULT_FILE if target is None else f"module {module_name!r}"
            raise click.UsageError(f"{where} does not define {attr!r}{hint}") from None
    if not isinstance(obj, Kettle):
        raise click.UsageError(
            f"{module_name}:{attr} is a {type(obj).__name__}, not a Kettle app"
        )
    return obj, f"{module_name}:{attr}"


# -- server workers (these run in the server's worker processes) ----------------------


def _load_in_worker(target: str) -> Kettle:
    """:func:`load_app` in a server worker: a failure is one line, then exit 1."""
    try:
        return load_app(target)[0]
    except click.ClickException as exc:
        click.echo(f"kettle: error: {exc.format_message()}", err=True)
        raise SystemExit(1) from None


def _granian_asgi_loader(target: str) -> Kettle:
    """Granian's target loader for ASGI: the app itself."""
    return _load_in_worker(target)


#: Apps started by :func:`_granian_wsgi_loader` in this (worker) process.
_started_wsgi_apps: list[Kettle] = []


def _granian_wsgi_loader(target: str) -> Callable[..., Any]:
    """Granian's target loader for WSGI: ``app.wsgi``, its start-up hooks run now."""
    app = _load_in_worker(target)
    app.wsgi_startup()
    _started_wsgi_apps.append(app)
    atexit.register(_shutdown_wsgi_apps)  # in case the worker ends another way
    return app.wsgi


def _shutdown_wsgi_apps() -> None:
    """Run the shutdown hooks of the apps this worker started, once."""
    while _started_wsgi_apps:
        _started_wsgi_apps.pop().wsgi_shutdown()


def _granian_wsgi_worker(spawn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run granian's WSGI worker, then the app's shutdown hooks when it stops.

    Done here rather than at interpreter exit, where Python no longer lets the
    thread pool that runs sync hooks take work.
    """
    try:
        spawn(*args, **kwargs)
    finally:
        _shutdown_wsgi_apps()


def _serve_granian(
    import_string: str,
    interface: Interface,
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int | None = None,
    reload: bool = False,
    log_access: bool = False,
    graceful_timeout: int | None = None,
    log_config: dict[str, Any] | None = None,
) -> None:
    import multiprocessing

    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LOGGING_CONFIG
    from watchfiles import PythonFilter

    # The app is already imported here (to check it); workers must import it afresh,
    # or they would serve stale code after a reload.
    multiprocessing.set_start_method("spawn", force=True)
    server = Granian(
        import_string,
        address=host,
        port=port,
        interface=Interfaces(interface),
        workers=workers,
        blocking_threads=threads,
        log_access=log_access,
        reload=reload,
        reload_paths=[Path.cwd()],
        reload_filter=PythonFilter,  # like uvicorn: not on logs, databases...
        reload_ignore_worker_failure=reload,
        # A stopping worker finishes its requests, then is killed after this long.
        workers_kill_timeout=graceful_timeout,
        log_dictconfig=_merge_log_config(LOGGING_CONFIG, log_config),
    )
    if interface == "asgi":  # hooks run in the ASGI lifespan
        server.serve(target_loader=_granian_asgi_loader)
        return
    # granian's own WSGI worker function, wrapped to run the app's shutdown hooks.
    spawner = getattr(type(server), "_spawn_wsgi_worker", None)
    worker = (
        None if spawner is None else functools.partial(_granian_wsgi_worker, spawner)
    )
    server.serve(spawn_target=worker, target_loader=_granian_wsgi_loader)


def _merge_log_config(
    server: dict[str, Any], ours: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The server's logging config with Kettle's (:func:`kettle.logs.logging_config`)
    added: the server's loggers keep their own handlers; the root and
    ``kettle.access`` loggers get Kettle's."""
    if ours is None:
        return None
    import copy

    merged = copy.deepcopy(server)
    for key in ("filters", "formatters", "handlers", "loggers"):
        merged.setdefault(key, {}).update(ours.get(key, {}))
    merged["root"] = ours["root"]
    merged["disable_existing_loggers"] = False
    return merged


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _serve_uvicorn(
    import_string: str,
    *,
    host: str,
    port: int,
    workers: int = 1,
    reload: bool = False,
    graceful_timeout: int | None = None,
    log_config: dict[str, Any] | None = None,
) -> None:
    import signal

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    # NOTE: uvicorn raises the signal that stopped it again once it has stopped;
    # exit with 0 then, as granian does, rather than be killed by SIGTERM.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    merged = _merge_log_config(LOGGING_CONFIG, log_config)
    try:
        uvicorn.run(
            import_string,
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            reload_dirs=[os.getcwd()] if reload else None,
            lifespan="on",
            timeout_graceful_shutdown=graceful_timeout,
            access_log=merged is None,  # Kettle's replaces uvicorn's
            log_config=merged if merged is not None else LOGGING_CONFIG,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)


def _announce(
    import_string: str,
    server: str,
    interface: str,
    host: str,
    port: int,
    details: Iterable[str],
) -> None:
    address = f"[{host}]" if ":" in host else host
    extra = ", ".join([interface, *details])
    click.echo(
        f"kettle: serving {import_string} with {server} ({extra}) "
        f"at http://{address}:{port}",
        err=True,
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# -- commands -------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    kettle.__version__,
    prog_name="kettle",
    message=f"%(prog)s %(version)s (Python {sys.version.split()[0]})",
)
def cli() -> None:
    """Run, serve and inspect Kettle apps.

    Name the app as MODULE:APP (for example myproject.web:app). MODULE alone
    means its attribute 'app'; with no name, app.py in the current folder must
    define 'app'.
    """


def _app_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("target", metavar=APP_METAVAR, required=False)(func)


def _address_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--port",
        "-p",
        default=8000,
        show_default=True,
        type=click.IntRange(1, 65535),
        help="Port to listen on.",
    )(func)
    return click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        help="Address to listen on (0.0.0.0 for every interface).",
    )(func)


@cli.command()
@click.argument("name")
@click.option(
    "--full",
    is_flag=True,
    help="A package layout: settings, blueprints, models, migrations, templates, "
    "static files and tests.",
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where to make the project's folder.",
)
def new(name: str, full: bool, directory: str) -> None:
    """Make a new project in the folder NAME: one file (app.py and its tests),
    or with --full a package layout. Then: cd NAME && kettle run."""
    from .project import ProjectError
    from .project import create_project

    try:
        root = create_project(name, directory, full=full)
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from None
    kind = "project" if full else "one-file app"
    click.echo(f"Made the {kind} {name} in {root}.")
    click.echo(f"Next: cd {root} && kettle run  (tests: pytest)")


@cli.command()
@_app_argument
@_address_options
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Restart the server when files in the current folder change.",
)
@click.option(
    "--server",
    type=click.Choice(["granian", "uvicorn"]),
    default="granian",
    show_default=True,
    help="The server to run the app with.",
)
def run(
    target: str | None, host: str, port: int, reload: bool, server: ServerName
) -> None:
    """Run the development server: debug mode, reload on changes, ASGI."""
    os.environ["KETTLE_DEBUG"] = "1"  # read by Kettle() when the app is created
    _, import_string = load_app(target)
    details = ["debug", "reload" if reload else "no reload"]
    _announce(import_string, server, "asgi", host, port, details)
    if server == "uvicorn":
        _serve_uvicorn(import_string, host=host, port=port, reload=reload)
    else:
        _serve_granian(
            import_string, "asgi", host=host, port=port, reload=reload, log_access=True
        )


@cli.command()
@_app_argument
@_address_options
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of worker processes.",
)
@click.option(
    "--interface",
    type=click.Choice(["auto", "asgi", "wsgi"]),
    default="auto",
    show_default=True,
    help="auto: WSGI when every handler and hook is sync and nothing needs ASGI.",
)
@click.option(
    "--server",
    type=click.Choice(["granian", "uvicorn"]),
    default="granian",
    show_default=True,
    help="The server; uvicorn serves ASGI only.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads per worker for the WSGI interface (default: granian's).",
)
@click.option(
    "--graceful-timeout",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Seconds a stopping worker has to finish its requests before it is killed.",
)
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="Log each request on the kettle.access logger  [default: on, unless the "
    "ACCESS_LOG setting is False]",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "logfmt", "none"]),
    default="json",
    show_default=True,
    help="Logs to stderr as JSON lines or key=value pairs, each with the request's "
    "ID; none: leave logging to the app.",
)
def serve(
    target: str | None,
    host: str,
    port: int,
    workers: int,
    interface: Literal["auto", "asgi", "wsgi"],
    server: ServerName,
    threads: int | None,
    graceful_timeout: int,
    access_log: bool | None,
    log_format: Literal["json", "logfmt", "none"],
) -> None:
    """Serve the app in production: worker processes, debug off.

    On SIGTERM or SIGINT, the server stops accepting connections, lets the
    requests in progress finish (for up to --graceful-timeout seconds), runs the
    app's shutdown hooks and exits with status 0.
    """
    from .operations import worker_warning

    os.environ["KETTLE_DEBUG"] = "0"  # read by Kettle() when the app is created
    app, import_string = load_app(target)
    if access_log is None:
        access_log = app.config.get_flag("ACCESS_LOG") is not False
    chosen: Interface
    if interface == "auto":
        chosen = "asgi" if server == "uvicorn" else app.preferred_interface()
    else:
        chosen = interface
    if server == "uvicorn" and chosen == "wsgi":
        raise click.UsageError(
            "uvicorn serves ASGI only: use '--server granian' for WSGI, "
            "or '--interface asgi'"
        )
    if threads is not None and chosen != "wsgi":
        raise click.UsageError("--threads applies to the WSGI interface only")
    if app.debug:
        click.echo(
            "kettle: warning: debug is on (set in the app's code): error pages "
            "show tracebacks to clients",
            err=True,
        )
    warning = worker_warning(app.config, workers)
    if warning is not None:
        click.echo(warning, err=True)
    details = [_plural(workers, "worker")]
    if threads is not None:
        details.append(_plural(threads, "thread"))
    _announce(import_string, server, chosen, host, port, details)
    log_config = None
    if log_format != "none":
        from .logs import logging_config

        log_config = logging_config(log_format)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "workers": workers,
        "graceful_timeout": graceful_timeout,
        "log_config": log_config,
    }
    with contextlib.ExitStack() as stack:
        # Read by the app in each worker; restored when the server stops. The
        # app loaded here is the one uvicorn serves with one worker: set it too.
        stack.enter_context(_environ("KETTLE_ACCESS_LOG", "1" if access_log else "0"))
        app.config["ACCESS_LOG"] = access_log
        if app.config.get("METRICS_URL") and workers > 1:
            from .metrics import multiprocess_dir

            stack.enter_context(multiprocess_dir())  # workers count in shared files
        if server == "uvicorn":
            _serve_uvicorn(import_string, **options)
        else:
            _serve_granian(import_string, chosen, threads=threads, **options)


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """Set the environment variable ``name`` inside, as it was afterwards."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@cli.command()
@_app_argument
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes.",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Threads per process (each runs one job at a time).",
)
@click.option("--queues", default=None, help="Only these queues (comma-separated).")
def worker(
    target: str | None, processes: int, threads: int, queues: str | None
) -> None:
    """Run the app's background tasks (TASKS_BACKEND = 'dramatiq') and periodic
    tasks until SIGTERM or SIGINT."""
    app, import_string = load_app(target)
    from .tasks.worker import run_worker

    names = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    try:
        code = run_worker(
            app, import_string, processes=processes, threads=threads, queues=names
        )
    except ImproperlyConfigured as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


def _qualified_name(obj: Any) -> str:
    """``module.qualname`` of a handler, view class or mounted app."""
    if isinstance(obj, functools.partial):
        obj = obj.func
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(qualname, str):
        obj = type(obj)
        qualname = obj.__qualname__
    module = getattr(obj, "__module__", None)
    return f"{module}.{qualname}" if module and module != "builtins" else qualname


def route_table(app: Kettle) -> list[tuple[str, str, str, str]]:
    """The rows of ``kettle routes``: path, methods, name, endpoint.

    Methods are sorted; ``HEAD`` added automatically for ``GET`` is left out. Routes
    for the same path, name and endpoint (a :class:`~kettle.View`'s methods) share a
    row. Mounts come last, with ``(mount)`` as their method.
    """
    rows: dict[tuple[str, str, str], set[str]] = {}
    mounts: list[tuple[str, str, str, str]] = []
    for item in app.router.iter_routes():
        if isinstance(item, Mount):
            endpoint = _qualified_name(item.app)
            mounts.append((item.path, "(mount)", item.name or "", endpoint))
            continue
        if isinstance(item, WebSocketRoute):
            methods = set(item.methods)
        else:
            methods = {m for m in item.methods if not (m == "HEAD" and item.auto_head)}
        key = (item.path, item.name, _qualified_name(item.endpoint))
        rows.setdefault(key, set()).update(methods)
    table = [
        (path, ",".join(sorted(methods)), name, endpoint)
        for (path, name, endpoint), methods in rows.items()
    ]
    return table + mounts


@cli.command()
@_app_argument
def routes(target: str | None) -> None:
    """List the app's routes and mounts."""
    app, _ = load_app(target)
    rows = route_table(app)
    if not rows:
        click.echo("No routes.")
        return
    header = ("Path", "Methods", "Name", "Endpoint")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        click.echo(
            "  ".join(
                cell.ljust(w) for cell, w in zip(row, widths, strict=True)
            ).rstrip()
        )


@cli.command()
@_app_argument
@click.option(
    "--deploy",
    is_flag=True,
    help="Also check the settings a production deployment needs.",
)
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=None,
    help="The worker processes the app is served with (default: WEB_CONCURRENCY "
    "or 1); with more than one, --deploy reports settings that keep state per "
    "process.",
)
def check(target: str | None, deploy: bool, workers: int | None) -> None:
    """Check the app's settings (with --deploy: for production).

    Prints one line per issue, with its id and how to fix it, and exits with
    status 1 when there is any.
    """
    from .operations import WORKERS_ENV
    from .security import check_app

    app, _ = load_app(target)
    with contextlib.ExitStack() as stack:
        if workers is not None:  # read by the per-process check
            stack.enter_context(_environ(WORKERS_ENV, str(workers)))
        issues = check_app(app, deploy=deploy)
    if not issues:
        click.echo("No issues found.")
        return
    for issue in issues:
        click.echo(f"{issue.id}: {issue.message} Fix: {issue.hint}")
    click.echo(f"{_plural(len(issues), 'issue')} found.", err=True)
    raise SystemExit(1)


def _enable_completion(namespace: dict[str, Any]) -> None:
    """Tab completion of the shell's names, where readline is available."""
    if not sys.stdin.isatty():
        return
    try:
        import readline
        import rlcompleter
    except ImportError:  # pragma: no cover - platforms without readline
        return
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    readline.parse_and_bind("tab: complete")


@cli.command()
@_app_argument
def shell(target: str | None) -> None:
    """Open a Python shell with 'app' and 'kettle', in the app's context.

    Uses IPython when it is installed. Runs the PYTHONSTARTUP file first, if set.
    """
    app, import_string = load_app(target)
    namespace: dict[str, Any] = {"app": app, "kettle": kettle}
    banner = (
        f"Python {sys.version.split()[0]} on {sys.platform}, "
        f"Kettle {kettle.__version__}\n"
        f"app: {import_string} {app!r}; names: app, kettle"
    )
    with app.app_context():
        startup = os.environ.get("PYTHONSTARTUP")
        if startup and os.path.isfile(startup):
            source = Path(startup).read_text(encoding="utf-8")
            exec(compile(source, startup, "exec"), namespace)  # noqa: S102
        try:
            ipython = importlib.import_module("IPython")
        except ImportError:
            _enable_completion(namespace)
            code.interact(banner=banner, local=namespace, exitmsg="")
        else:
            click.echo(banner)
            ipython.start_ipython(argv=[], user_ns=namespace)


# -- kettle db -----------------------------------------------------------------------

_DB_META = "kettle.db"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep ``--app``/``--directory`` given to ``kettle db`` or to its command."""
    if value is not None:
        ctx.meta[f"{_DB_META}.{param.name}"] = value
    return value


def _db_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--app`` and ``--directory``, accepted before or after the command name."""
    func = click.option(
        "--directory",
        "-d",
        type=click.Path(file_okay=False),
        expose_value=False,
        callback=_remember,
        help="The migrations folder (default: MIGRATIONS_DIR, or 'migrations' "
        "in the app's folder).",
    )(func)
    return _app_option(func)


def _app_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--app``, remembered for the command (as ``kettle db`` keeps it)."""
    return click.option(
        "--app",
        "-a",
        "target",
        metavar="MODULE:APP",
        expose_value=False,
        callback=_remember,
        help="The app (default: 'app' in app.py).",
    )(func)


def _bind_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--bind",
        "-b",
        metavar="NAME",
        default=None,
        help="The database of DATABASE_BINDS to work on (default: DATABASE_URL's).",
    )(func)


@contextlib.contextmanager
def _db_errors() -> Iterator[None]:
    """Errors of ``kettle db`` commands as one line, without a traceback."""
    try:
        from .db.migrations import MigrationError
    except ImportError as exc:  # pragma: no cover - the db extra is installed
        raise click.ClickException(
            f"kettle db needs the database battery ({exc}): pip install 'kettle[db]'"
        ) from None
    try:
        yield
    except (MigrationError, ImproperlyConfigured) as exc:
        raise click.ClickException(str(exc)) from None


def _db_app() -> Kettle:
    meta = click.get_current_context().meta
    return load_app(meta.get(f"{_DB_META}.target"))[0]


def _migrations(bind: str | None) -> Any:
    """The :class:`~kettle.db.migrations.Migrations` the command works on."""
    from .db.migrations import Migrations

    app = _db_app()
    directory = click.get_current_context().meta.get(f"{_DB_META}.directory")
    return Migrations(app, directory, bind=bind)


@cli.group()
@_db_options
def db() -> None:
    """Migrate the database (Alembic) and load or dump JSON fixtures.

    The app's models are the tables of its kettle.db metadata; modules the app
    does not import are named in the MODELS setting. Migrations live in
    'migrations' beside the app (MIGRATIONS_DIR, or --directory); --bind NAME
    works on a database of DATABASE_BINDS instead of the main one.
    """


@db.command("init")
@_db_options
@_bind_option
def db_init(bind: str | None) -> None:
    """Create the migrations folder (with --bind: that database's folder in it)."""
    with _db_errors():
        migrations = _migrations(bind)
        versions = migrations.init()
    flag = "" if bind is None else f" --bind {bind}"
    click.echo(
        f"Created {versions}. Write the first migration with "
        f"`kettle db makemigrations{flag} -m initial`."
    )


@db.command("makemigrations")
@_db_options
@_bind_option
@click.option("--message", "-m", default=None, help="What the migration does.")
@click.option(
    "--empty", is_flag=True, help="Write an empty migration to fill in by hand."
)
def db_makemigrations(bind: str | None, message: str | None, empty: bool) -> None:
    """Write a migration from the models' differences from the database.

    The database must be at the latest migration. When the models and the
    database agree, no file is written.
    """
    with _db_errors():
        migrations = _migrations(bind)
        path = migrations.make_migrations(
            message or ("empty" if empty else "auto"), empty=empty
        )
        changes = migrations.changes
    if path is None:
        click.echo("No changes: the models match the database.")
        return
    for line in changes:
        click.echo(f"  {line}")
    click.echo(f"Wrote {path}")


@db.command("migrate")
@_db_options
@_bind_option
@click.argument("revision", default="head")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
def db_migrate(bind: str | None, revision: str, sql: bool) -> None:
    """Migrate the database up to REVISION (default: the latest, 'head')."""
    with _db_errors():
        applied = _migrations(bind).upgrade(revision, sql=sql)
    if not applied and not sql:
        click.echo("Nothing to migrate: the database is up to date.")


@db.command("downgrade")
@_db_options
@_bind_option
@click.argument("revision", default="-1")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
def db_downgrade(bind: str | None, revision: str, sql: bool) -> None:
    """Migrate the database down to REVISION (default: one step, '-1';
    'base' undoes them all)."""
    with _db_errors():
        _migrations(bind).downgrade(revision, sql=sql)


@db.command("history")
@_db_options
@_bind_option
@click.option("--range", "-r", "rev_range", default=None, help="START:END")
@click.option("--verbose", "-v", is_flag=True, help="Show each migration's details.")
@click.option(
    "--indicate-current",
    "-i",
    is_flag=True,
    help="Mark the database's migration (connects to it).",
)
def db_history(
    bind: str | None, rev_range: str | None, verbose: bool, indicate_current: bool
) -> None:
    """List the migrations, newest first."""
    with _db_errors():
        migrations = _migrations(bind)
        if not migrations.heads():
            click.echo("No migrations yet.")
            return
        migrations.history(
            rev_range, verbose=verbose, indicate_current=indicate_current
        )


@db.command("current")
@_db_options
@_bind_option
def db_current(bind: str | None) -> None:
    """Show the migration the database is at."""
    with _db_errors():
        migrations = _migrations(bind)
        current = migrations.current()
        heads = migrations.heads()
        if not current:
            click.echo("No migration applied.")
        for rev in current:
            script = migrations.revision(rev)
            doc = f" {script.doc}" if script is not None and script.doc else ""
            click.echo(f"{rev} ({'head' if rev in heads else 'behind'}){doc}")


@db.command("check")
@_db_options
@_bind_option
def db_check(bind: str | None) -> None:
    """Fail unless the database is at the latest migration and the models match
    it (a model changed without a migration fails)."""
    with _db_errors():
        result = _migrations(bind).check()
    flag = "" if bind is None else f" --bind {bind}"
    if not result.at_head:
        heads = ", ".join(result.heads) or "none"
        where = (
            f"the database is at {', '.join(result.current)}"
            if result.current
            else "the database has no migration applied"
        )
        raise click.ClickException(
            f"{where}; the latest migration is {heads}: run `kettle db migrate{flag}`"
        )
    if result.differences:
        lines = "\n".join(f"  {line}" for line in result.differences)
        raise click.ClickException(
            "the models differ from the migrations:\n"
            f"{lines}\nrun `kettle db makemigrations{flag}`"
        )
    click.echo(
        "OK: the models match the migrations, and the database is at the latest."
    )


@db.command("seed")
@_db_options
@click.argument("file", type=click.File("r", encoding="utf-8"))
def db_seed(file: Any) -> None:
    """Load a JSON fixture (as `kettle db dump` writes) into the databases, all
    rows or none."""
    import json

    try:
        records = json.load(file)
    except ValueError as exc:
        raise click.ClickException(f"{file.name}: not JSON: {exc}") from None
    with _db_errors():
        from .db.fixtures import seed

        count = seed(_db_app(), records)
    click.echo(f"Loaded {_plural(count, 'row')} from {file.name}.")


@db.command("dump")
@_db_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file (default: standard output).",
)
def db_dump(models: tuple[str, ...], output: str | None) -> None:
    """Write the rows of every table (or of the MODELs, table or class names)
    as a JSON fixture."""
    import json

    with _db_errors():
        from .db.fixtures import dump

        records = dump(_db_app(), models or None)
    data = json.dumps(records, indent=2, ensure_ascii=False)
    if output is None:
        click.echo(data)
        return
    Path(output).write_text(data + "\n", encoding="utf-8")
    click.echo(f"Wrote {_plural(len(records), 'row')} to {output}.", err=True)


# -- users (kettle.auth) ------------------------------------------------------------


@contextlib.contextmanager
def _auth_errors() -> Iterator[Any]:
    """``kettle.auth``, and its commands' failures as one line each."""
    try:
        from .auth import commands
        from .auth.validators import PasswordInvalid
    except (ImportError, ImproperlyConfigured) as exc:
        raise click.ClickException(
            f"this command needs kettle.auth ({exc}): pip install 'kettle[auth]'"
        ) from None
    try:
        yield commands
    except PasswordInvalid as exc:
        raise click.ClickException(
            "the password is refused:\n  "
            + "\n  ".join(exc.messages)
            + "\n(--allow-weak-password to set it anyway)"
        ) from None
    except (commands.CommandError, ImproperlyConfigured) as exc:
        raise click.ClickException(str(exc)) from None


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.ClickException("no password on standard input")
        return line
    return str(
        click.prompt(
            "Password", hide_input=True, confirmation_prompt="Password (again)"
        )
    )


_password_options = [
    click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input.",
    ),
    click.option(
        "--allow-weak-password",
        is_flag=True,
        help="Skip the password validators (AUTH_PASSWORD_VALIDATORS).",
    ),
]


@cli.command()
@click.argument("username")
@click.option("--email", default="", help="The user's email address.")
@click.option("--staff", is_flag=True, help="May use the admin.")
@click.option("--superuser", is_flag=True, help="Holds every permission (and staff).")
@click.option(
    "--no-password",
    is_flag=True,
    help="Create the user without a password (it cannot log in with one).",
)
@_password_options[0]
@_password_options[1]
@_app_option
def createuser(
    username: str,
    email: str,
    staff: bool,
    superuser: bool,
    no_password: bool,
    password_stdin: bool,
    allow_weak_password: bool,
) -> None:
    """Create a user of kettle.auth (asks for the password twice)."""
    with _auth_errors() as commands:
        app = _db_app()
        password = None if no_password else _new_password(password_stdin)
        user = commands.create_user(
            app,
            username,
            password,
            email=email,
            staff=staff,
            superuser=superuser,
            validate=not allow_weak_password,
        )
    kind = "superuser" if user.is_superuser else "staff user" if staff else "user"
    click.echo(f"Created the {kind} {user.username!r}.")


@cli.command()
@click.argument("username")
@_password_options[0]
@_password_options[1]
@_app_option
def changepassword(
    username: str, password_stdin: bool, allow_weak_password: bool
) -> None:
    """Set a user's password (their sessions end)."""
    with _auth_errors() as commands:
        app = _db_app()
        password = _new_password(password_stdin)
        commands.change_password(
            app, username, password, validate=not allow_weak_password
        )
    click.echo(f"Changed the password of {username!r}.")


def main() -> None:
    """The ``kettle`` console script."""
    cli.main(prog_name="kettle")


if __name__ == "__main__":
    main()
