"""URL routes of the readers app: pages and API."""

from django.urls import path

from readers import api, crossover, trial_views, views

app_name = "readers"
urlpatterns = [
    # workstation pages
    path("read/", views.worklist, name="worklist"),
    path("read/session/<uuid:session_id>/", views.session_continue, name="session"),
    path("read/<str:token>/", views.case, name="case"),
    path("read/<str:token>/revise/", views.case_revise, name="revise"),
    path("read/<str:token>/guess/", trial_views.case_guess, name="guess"),
    path("read/<str:token>/draft/", views.case_draft, name="draft"),
    path("read/<str:token>/activity/", views.case_activity, name="activity"),
    path("read/<str:token>/view/<str:slot>", views.case_media, name="media"),
    # coordinator pages
    path("studies/<uuid:study_id>/reading/", views.coordinate, name="coordinate"),
    path("studies/<uuid:study_id>/reading/progress/", views.progress, name="progress"),
    path(
        "studies/<uuid:study_id>/reading/crossover/",
        crossover.crossover_allocation,
        name="crossover",
    ),
    path(
        "studies/<uuid:study_id>/reading/source-trial/",
        trial_views.source_trial,
        name="source-trial",
    ),
    path(
        "studies/<uuid:study_id>/reading/materials/import/",
        trial_views.materials_import,
        name="materials-import",
    ),
    # API
    path("api/reading/sessions/", api.SessionListApi.as_view(), name="api-sessions"),
    path(
        "api/reading/sessions/<uuid:session_id>/",
        api.SessionDetailApi.as_view(),
        name="api-session",
    ),
    path(
        "api/reading/sessions/<uuid:session_id>/next/",
        api.SessionNextApi.as_view(),
        name="api-session-next",
    ),
    path(
        "api/reading/assignments/<str:token>/", api.AssignmentApi.as_view(), name="api-assignment"
    ),
    path("api/reading/assignments/<str:token>/read/", api.ReadSubmitApi.as_view(), name="api-read"),
    path(
        "api/reading/assignments/<str:token>/revise/",
        api.ReadReviseApi.as_view(),
        name="api-revise",
    ),
    path("api/reading/assignments/<str:token>/draft/", api.DraftApi.as_view(), name="api-draft"),
    path(
        "api/reading/assignments/<str:token>/activity/",
        api.ActivityApi.as_view(),
        name="api-activity",
    ),
    path(
        "api/reading/assignments/<str:token>/guess/", api.SourceGuessApi.as_view(), name="api-guess"
    ),
    path(
        "api/reading/assignments/<str:token>/prepare/", api.PrepareApi.as_view(), name="api-prepare"
    ),
    path("api/reading/reads/", api.MyReadsApi.as_view(), name="api-reads"),
    path(
        "api/reading/studies/<uuid:study_id>/readers/",
        api.StudyReadersApi.as_view(),
        name="api-study-readers",
    ),
    path(
        "api/reading/studies/<uuid:study_id>/sessions/",
        api.StudySessionsApi.as_view(),
        name="api-study-sessions",
    ),
    path(
        "api/reading/studies/<uuid:study_id>/progress/",
        api.StudyProgressApi.as_view(),
        name="api-study-progress",
    ),
    path(
        "api/reading/studies/<uuid:study_id>/allocation/",
        api.AllocationApi.as_view(),
        name="api-allocation",
    ),
    path(
        "api/reading/studies/<uuid:study_id>/crossover/",
        crossover.CrossoverAllocationApi.as_view(),
        name="api-crossover",
    ),
    path(
        "api/reading/studies/<uuid:study_id>/materials/import/",
        api.MaterialImportApi.as_view(),
        name="api-materials-import",
    ),
]
