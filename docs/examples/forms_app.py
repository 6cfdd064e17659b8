"""Forms: declared fields, checks, rendering, the same form from JSON."""

from kettle import Kettle
from kettle import flash
from kettle import redirect
from kettle.forms import BooleanField
from kettle.forms import EmailField
from kettle.forms import FileField
from kettle.forms import Form
from kettle.forms import IntegerField
from kettle.forms import PasswordField
from kettle.forms import StringField
from kettle.forms import ValidationError
from kettle.templating import render

app = Kettle()  # SECRET_KEY from the settings, the environment or .env
TAKEN = {"admin", "root"}


class SignupForm(Form):
    username = StringField("User name", min_length=3, max_length=20)
    email = EmailField("Email")
    age = IntegerField("Age", min_value=13, required=False)
    password = PasswordField("Password", min_length=8)
    confirm = PasswordField("Repeat the password")
    avatar = FileField(
        "Picture", required=False, max_size=2_000_000, content_types=["image/png"]
    )
    terms = BooleanField("I accept the terms", required=True)

    def validate_username(self, value):  # one field's own check
        if value.lower() in TAKEN:
            raise ValidationError("That name is taken.")
        return value.lower()

    def validate(self):  # checks across fields
        if self.data.get("password") != self.data.get("confirm"):
            self.add_error("confirm", "The passwords differ.")


@app.route("/signup", methods=["GET", "POST"])
def signup(form: SignupForm):  # bound to the posted form; empty on a GET
    if form.is_valid():
        flash(f"Welcome, {form.data['username']}!")
        return redirect("/signup")
    return render("signup.html", form=form)  # errors shown, input kept


@app.post("/api/signup")
async def api_signup(form: SignupForm):  # the same form, from a JSON body
    if not form.is_valid():
        return {"errors": form.errors}, 422
    return {"username": form.data["username"]}, 201
