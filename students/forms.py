from django import forms

from students.models import Student


class StudentForm(forms.ModelForm):
    class Meta:
        model = Student
        fields = ["name", "email", "phone", "guardian_name", "guardian_email", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
