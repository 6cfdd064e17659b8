"""The forms: each checks what a user sent (and its CSRF token)."""

from kettle import forms
from kettle.auth import PasswordInvalid
from kettle.auth import validate_password
from kettle.forms import model_form

from .models import Post

#: Made from the model's columns: a title of at most 200 characters (required)
#: and a body (optional: the column has a default).
PostForm = model_form(Post, fields=["title", "body"])


class RegisterForm(forms.Form):
    username = forms.StringField("User name", max_length=150, autocomplete="username")
    password = forms.PasswordField(
        "Password", max_length=4096, autocomplete="new-password"
    )
    confirm = forms.PasswordField(
        "Password (again)", max_length=4096, autocomplete="new-password"
    )

    def validate(self):  # checks across fields, once each field passed its own
        password = self.data.get("password")
        if password is None or "confirm" not in self.data:
            return  # already reported as missing
        if password != self.data["confirm"]:
            self.add_error("confirm", "The two passwords differ.")
            return
        try:  # long enough, not common, not like the name (AUTH_PASSWORD_VALIDATORS)
            validate_password(password, {"username": self.data.get("username", "")})
        except PasswordInvalid as exc:
            for message in exc.messages:
                self.add_error("password", message)
