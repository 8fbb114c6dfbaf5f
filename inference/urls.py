"""URL routes of the inference app."""

from django.urls import path

from inference import registry_views, views

app_name = "inference"
urlpatterns = [
    path("studies/<uuid:study_id>/ai/", views.ai_page, name="ai"),
    path("ai-runs/<uuid:run_id>/", views.run_page, name="run"),
    path("heatmaps/<uuid:heatmap_id>/", views.heatmap_file, name="heatmap"),
    path("api/studies/<uuid:study_id>/ai-runs/", views.api_runs, name="api-runs"),
    path("api/ai-runs/<uuid:run_id>/", views.api_run, name="api-run"),
    path("api/models/", views.api_models, name="api-models"),
    path("models/", registry_views.models_page, name="models"),
    path("models/<uuid:model_id>/verify/", registry_views.model_verify_page, name="model-verify"),
    path("api/models/register/", registry_views.api_model_register, name="api-model-register"),
    path(
        "api/models/<uuid:model_id>/verify/",
        registry_views.api_model_verify,
        name="api-model-verify",
    ),
]
