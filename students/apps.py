from django.apps import AppConfig


class StudentsConfig(AppConfig):
    name = "students"

    def ready(self) -> None:
        from matchpal.services import register_invitation_handler
        from students.services import student_link_invited_user

        register_invitation_handler(student_link_invited_user)
