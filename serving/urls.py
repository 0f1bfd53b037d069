from django.urls import path

from serving import views

app_name = "serving"
urlpatterns = [
    path("", views.endpoint_list, name="endpoints"),
    path("new/", views.endpoint_create, name="endpoint-create"),
    path("<slug:slug>/", views.endpoint_detail, name="endpoint"),
    path("<slug:slug>/<str:name>/", views.endpoint_action, name="endpoint-action"),
]
