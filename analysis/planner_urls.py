"""URL routes of the study planner (page and API)."""

from django.urls import path

from analysis import planner_views

app_name = "planner"
urlpatterns = [
    path("studies/<uuid:study_id>/analysis/planner/", planner_views.planner_page, name="page"),
    path(
        "studies/<uuid:study_id>/analysis/planner/check/<uuid:job_id>/",
        planner_views.planner_check,
        name="check",
    ),
    path("api/studies/<uuid:study_id>/planner/", planner_views.api_plan, name="api"),
    path(
        "api/studies/<uuid:study_id>/planner/check/<uuid:job_id>/",
        planner_views.api_check,
        name="api-check",
    ),
]
