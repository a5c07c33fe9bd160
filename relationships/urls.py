from django.urls import path

from relationships import views

app_name = "relationships"

urlpatterns = [
    path("", views.relationship_list, name="list"),
    path("new/", views.relationship_propose, name="propose"),
    path("search/students/", views.search_students, name="search_students"),
    path("search/providers/", views.search_providers, name="search_providers"),
    path("<uuid:public_id>/", views.relationship_detail, name="detail"),
    path("<uuid:public_id>/accept/", views.relationship_accept, name="accept"),
    path("<uuid:public_id>/decline/", views.relationship_decline, name="decline"),
    path("<uuid:public_id>/cancel/", views.relationship_cancel, name="cancel"),
    path("<uuid:public_id>/complete/", views.relationship_complete, name="complete"),
    path("<uuid:public_id>/allocation/", views.relationship_allocation, name="allocation"),
    path("<uuid:public_id>/rates/", views.relationship_rates, name="rates"),
]
