"""URL routes of the analysis app: pages, downloads and API."""

from django.urls import path

from analysis import blinding_views, views

app_name = "analysis"
urlpatterns = [
    path("studies/<uuid:study_id>/analysis/", views.analysis_index, name="index"),
    path("studies/<uuid:study_id>/analysis/export.zip", views.export_zip, name="export-zip"),
    path(
        "studies/<uuid:study_id>/analysis/reads/<slug:fmt>/",
        views.export_reads,
        name="export-reads",
    ),
    path(
        "studies/<uuid:study_id>/analysis/reads/imrmc/<slug:name>.imrmc",
        views.export_imrmc,
        name="export-imrmc",
    ),
    path("studies/<uuid:study_id>/analysis/<slug:key>/", views.report_page, name="report"),
    path(
        "studies/<uuid:study_id>/analysis/<slug:key>/tables/<slug:table>.<slug:fmt>",
        views.export_table,
        name="export-table",
    ),
    path(
        "studies/<uuid:study_id>/analysis/<slug:key>/figures/<slug:name>.html",
        views.export_figure,
        name="export-figure",
    ),
    # The blinding audit keeps the path coordinators used when it lived in readers.
    path(
        "studies/<uuid:study_id>/reading/blinding-audit/",
        blinding_views.blinding_audit_page,
        name="blinding-audit",
    ),
    path(
        "api/reading/studies/<uuid:study_id>/blinding-audit/",
        blinding_views.BlindingAuditApi.as_view(),
        name="api-blinding-audit",
    ),
    path("analysis-jobs/<uuid:job_id>/", views.job_progress, name="job"),
    path("analysis-jobs/<uuid:job_id>/file", views.job_file, name="job-file"),
    path("demo/build/", views.demo_build, name="demo-build"),
    path("api/studies/<uuid:study_id>/analysis/<slug:key>/", views.api_report, name="api-report"),
    path("api/analysis-jobs/<uuid:job_id>/", views.api_job, name="api-job"),
]
