from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.plan_list, name="plans"),
    path("plans/<int:pk>/", views.plan_detail, name="plan"),
    path("plans/<int:pk>/propose/", views.plan_propose, name="plan-propose"),
    path("changes/<int:pk>/decide/", views.change_decide, name="change-decide"),
    path("endpoints/<slug:slug>/", views.endpoint_monitoring, name="endpoint"),
]
