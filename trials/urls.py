"""URL routes of the trials app: coordinator pages and the REST API."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter, SimpleRouter

from trials import api, views

app_name = "trials"

router = DefaultRouter()
router.register("studies", api.StudyViewSet, basename="study")
nested = SimpleRouter()
nested.register("sites", api.SiteViewSet, basename="site")
nested.register("datasets", api.DatasetViewSet, basename="dataset")
nested.register("members", api.MembershipViewSet, basename="member")
nested.register("cases", api.CaseViewSet, basename="case")
nested.register("materials", api.MaterialSetViewSet, basename="material")
nested.register("audit", api.AuditViewSet, basename="audit")

urlpatterns = [
    path("studies/new/", views.study_create, name="study-create"),
    path("studies/<uuid:study_id>/", views.study_page, name="study"),
    path("studies/<uuid:study_id>/transition/", views.study_transition, name="study-transition"),
    path("studies/<uuid:study_id>/settings/", views.study_settings, name="study-settings"),
    path("studies/<uuid:study_id>/add/<str:what>/", views.study_add, name="study-add"),
    path("studies/<uuid:study_id>/import/", views.case_import, name="case-import"),
    path("cases/<uuid:case_id>/", views.case_page, name="case"),
    path(
        "cases/<uuid:case_id>/gold-standard/sign-off/",
        views.gold_standard_sign_off,
        name="gold-standard-sign-off",
    ),
    path(
        "cases/<uuid:case_id>/gold-standard/amend/",
        views.gold_standard_amend,
        name="gold-standard-amend",
    ),
    path("renditions/<uuid:rendition_id>/", views.rendition_file, name="rendition-file"),
    path("api/", include(router.urls)),
    path("api/studies/<uuid:study_pk>/", include(nested.urls)),
]
