"""The forms: each checks what a user sent (and its CSRF token)."""

from kettle.forms import model_form

from .models import Post

#: Made from the model's columns: a title of at most 200 characters (required)
#: and a body (optional: the column has a default).
PostForm = model_form(Post, fields=["title", "body"])
