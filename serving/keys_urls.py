from django.urls import path

from serving import keys_views

urlpatterns = [
    path("", keys_views.keys, name="app-keys"),
    path("<int:pk>/revoke/", keys_views.key_revoke, name="app-key-revoke"),
]
