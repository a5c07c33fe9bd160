from django import forms

from matchpal.constraints import ReadableModelForm
from matchpal.fields import SingleLineField
from students.models import Student


class StudentForm(ReadableModelForm):
    class Meta:
        model = Student
        fields = ["name", "email", "phone", "guardian_name", "guardian_email", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        field_classes = {"name": SingleLineField, "guardian_name": SingleLineField}
