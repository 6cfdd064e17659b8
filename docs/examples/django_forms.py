"""Django forms and ModelForms, in kettle.forms: the Django original of each
line is in its comment; the models are django_models.py's."""

from django_models import Tea
from sqlalchemy.orm import Session

from kettle import Blueprint
from kettle import redirect
from kettle.db import get_or_404
from kettle.forms import ChoiceField
from kettle.forms import EmailField
from kettle.forms import Form
from kettle.forms import StringField
from kettle.forms import TextField
from kettle.forms import ValidationError
from kettle.forms import initial_from
from kettle.forms import model_form
from kettle.forms import populate
from kettle.templating import render

forms = Blueprint("forms")
TOPICS = [("order", "An order"), ("other", "Something else")]


class ContactForm(Form):  # class ContactForm(forms.Form):
    name = StringField("Name", max_length=100)  # forms.CharField(max_length=100)
    email = EmailField("Email")  # forms.EmailField()
    topic = ChoiceField("Topic", choices=TOPICS)  # forms.ChoiceField(choices=...)
    # forms.CharField(widget=forms.Textarea, required=False)
    message = TextField("Message", required=False)

    def validate_name(self, value):  # def clean_name(self): self.cleaned_data[...]
        if value.lower() == "admin":
            raise ValidationError("Choose another name.")  # the same
        return value.title()  # the value kept in form.data (cleaned_data)

    def validate(self):  # def clean(self):
        if self.data.get("topic") == "order" and not self.data.get("message"):
            self.add_error("message", "Say which order.")  # the same


# class TeaForm(ModelForm): class Meta: model = Tea; fields = [...]
TeaForm = model_form(Tea, fields=["name", "garden", "price", "in_stock"])


@forms.route("/contact", methods=["GET", "POST"])
def contact(form: ContactForm):  # form = ContactForm(request.POST or None)
    if form.is_valid():  # if form.is_valid():
        return {"thanks": form.data["name"]}  # form.cleaned_data["name"]
    return render("guides/form.html", form=form)  # the errors, by their fields


@forms.route("/teas/{tea_id:int}/edit", methods=["GET", "POST"])
def edit_tea(tea_id: int, form: TeaForm, db: Session):
    tea = get_or_404(db, Tea, tea_id)
    if form.is_valid():  # form = TeaForm(request.POST, instance=tea)
        populate(form, tea)  # form.save()
        return redirect("shop.tea", 303, tea_id=tea.id)
    if not form.is_bound:  # TeaForm(instance=tea), on a GET
        form = TeaForm(initial=initial_from(tea, TeaForm))
    return render("guides/form.html", form=form)
