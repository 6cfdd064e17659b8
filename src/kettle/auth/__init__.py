"""Kettle's authentication battery: users, passwords, logging in and out,
permissions and groups.

Install it with ``pip install 'kettle[auth]'`` (it needs ``kettle.db``)::

    from kettle import Kettle
    from kettle.auth import Auth, User, login_required, permission_required

    app = Kettle(DATABASE_URL="sqlite:///app.db", SECRET_KEY="...")
    Auth(app)                       # /auth/login, /auth/logout

    @app.get("/me")
    def me(user: User):             # the logged-in user (else 401, or a redirect)
        return {"name": user.username}

    @app.post("/posts/{id:int}/publish")
    @permission_required("post.publish")
    def publish(id: int): ...
"""

from __future__ import annotations

from ..templating import current_user
from .core import authenticate
from .core import authenticate_async
from .core import get_user
from .core import get_user_async
from .core import login
from .core import login_required
from .core import logout
from .core import permission_required
from .core import update_session_auth_hash
from .core import user_model
from .hashers import check_password
from .hashers import hash_password
from .models import AnonymousUser
from .models import Group
from .models import Permission
from .models import RecoveryCode
from .models import User
from .permissions import grant
from .permissions import known_permissions
from .permissions import load_permissions
from .permissions import load_permissions_async
from .permissions import model_permissions
from .permissions import register_permission
from .permissions import revoke
from .tokens import Token
from .tokens import issue_token
from .tokens import revoke_token
from .tokens import revoke_tokens
from .validators import PasswordInvalid
from .validators import validate_password
from .views import Auth
from .views import LoginForm

__all__ = (
    "AnonymousUser",
    "Auth",
    "Group",
    "LoginForm",
    "PasswordInvalid",
    "Permission",
    "RecoveryCode",
    "Token",
    "User",
    "authenticate",
    "authenticate_async",
    "check_password",
    "current_user",
    "get_user",
    "get_user_async",
    "grant",
    "hash_password",
    "issue_token",
    "known_permissions",
    "load_permissions",
    "load_permissions_async",
    "login",
    "login_required",
    "logout",
    "model_permissions",
    "permission_required",
    "register_permission",
    "revoke",
    "revoke_token",
    "revoke_tokens",
    "update_session_auth_hash",
    "user_model",
    "validate_password",
)
