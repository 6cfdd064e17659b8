"""Blueprints: a group of routes, hooks and error handlers under a prefix."""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any
from typing import ParamSpec
from typing import TypeVar
from typing import Unpack
from typing import overload

from .scaffold import RouteInfo
from .scaffold import Scaffold
from .scaffold import caller_folder

if TYPE_CHECKING:
    from .app import Kettle
    from .tasks import BlueprintTask
    from .tasks import TaskOptions

__all__ = ("Blueprint",)

P = ParamSpec("P")
R = TypeVar("R")


class Blueprint(Scaffold):
    """Routes, hooks and error handlers registered on an app together.

    Route names become ``"<blueprint>.<name>"``; hooks and error handlers apply to
    the blueprint's own routes only.

    Args:
        name: The blueprint's name, the prefix of its route names.
        url_prefix: A path prefix for all its routes (``"/admin"``).
        template_folder: Its templates' folder, relative to :attr:`root_path`
            (searched after the app's; None for none).
        static_folder: Its static files' folder, relative to :attr:`root_path`
            (served under the app's ``STATIC_URL``, after the app's; None for
            none).
        root_path: The folder those are relative to (default: the folder of the
            module making the blueprint).

    Example::

        bp = Blueprint("blog", url_prefix="/blog")

        @bp.get("/")
        def index():
            return "posts"

        app.register_blueprint(bp)   # GET /blog/ -> url_for("blog.index")
    """

    def __init__(
        self,
        name: str,
        url_prefix: str | None = None,
        *,
        template_folder: str | os.PathLike[str] | None = "templates",
        static_folder: str | os.PathLike[str] | None = "static",
        root_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if not name or "." in name:
            raise ValueError(
                f"blueprint name {name!r} must be non-empty and contain no dot"
            )
        if url_prefix is not None and not url_prefix.startswith("/"):
            raise ValueError(
                f"url_prefix {url_prefix!r} must start with '/' (Flask's second "
                "argument, the import name, is not needed: Kettle finds the "
                "blueprint's folder itself)"
            )
        self.name = name
        self.url_prefix = url_prefix
        self.template_folder = template_folder
        self.static_folder = static_folder
        #: The folder its template and static folders are relative to.
        self.root_path = os.fspath(root_path) if root_path else caller_folder()
        self.deferred: list[
            tuple[
                str,
                str,
                Callable[..., Any],
                list[str] | None,
                str | None,
                dict[str, Any],
            ]
        ] = []
        #: The tasks declared with :meth:`task`, added to each app the
        #: blueprint is registered on.
        self.deferred_tasks: list[BlueprintTask[Any, Any]] = []

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> None:
        RouteInfo(**options)  # NOTE: a misspelt option fails here, not at register
        self.deferred.append(
            (
                "http",
                path,
                endpoint,
                list(methods) if methods is not None else None,
                name,
                options,
            )
        )

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        self.deferred.append(("websocket", path, endpoint, None, name, {}))

    @overload
    def task(self, func: Callable[P, R], /) -> BlueprintTask[P, R]: ...

    @overload
    def task(
        self, func: None = None, /, **options: Unpack[TaskOptions]
    ) -> Callable[[Callable[P, R]], BlueprintTask[P, R]]: ...

    def task(self, func: Any = None, /, **options: Unpack[TaskOptions]) -> Any:
        """Make a function a background task of the blueprint: ``@bp.task`` or
        ``@bp.task(retries=3, ...)``, with the options of
        :meth:`kettle.tasks.Tasks.task` (checked here). Each app the blueprint
        is registered on gets the task, named as ``@app.task`` would name it.

        Returns:
            A :class:`kettle.tasks.BlueprintTask`: call it to call the function,
            ``.enqueue(...)`` to send a job through the app of the context.
        """
        from .tasks import BlueprintTask

        def decorate(fn: Callable[..., Any]) -> BlueprintTask[Any, Any]:
            made: BlueprintTask[Any, Any] = BlueprintTask(self, fn, dict(options))
            self.deferred_tasks.append(made)
            return made

        if func is not None:
            return decorate(func)
        return decorate

    def register_tasks(self, app: Kettle) -> None:
        """Add the blueprint's tasks to ``app`` (for
        :meth:`~kettle.Kettle.register_blueprint`; the app's tasks also pick
        them up on first use).

        Raises:
            ImproperlyConfigured: A task of the app has the name of one of them.
        """
        if self.deferred_tasks:
            from .tasks import get_tasks

            tasks = get_tasks(app)
            for deferred in self.deferred_tasks:
                deferred.register(tasks)

    def __repr__(self) -> str:
        return f"<Blueprint {self.name!r}>"
