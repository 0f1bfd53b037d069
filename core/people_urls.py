from django.urls import path

from core import people_views

urlpatterns = [
    path("", people_views.people, name="people"),
    path("new/", people_views.person_create, name="person-create"),
    path("teams/new/", people_views.team_create, name="team-create"),
    path("<str:username>/", people_views.person, name="person"),
    path("<str:username>/access/", people_views.person_access, name="person-access"),
    path("<str:username>/deactivate/", people_views.person_deactivate, name="person-deactivate"),
    path("<str:username>/reactivate/", people_views.person_reactivate, name="person-reactivate"),
    path("<str:username>/tokens/revoke/", people_views.person_tokens_revoke,
         name="person-tokens-revoke"),
]
