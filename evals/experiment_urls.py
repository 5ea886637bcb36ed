from django.urls import path, re_path

from evals import experiment_api, experiment_views

urlpatterns = [
    path("api/v1/experiments", experiment_api.experiments, name="api-experiments"),
    path("api/v1/experiments/replay", experiment_api.replays, name="api-experiment-replay"),
    path("api/v1/experiments/external-runs", experiment_api.external_runs, name="api-experiment-external-runs"),
    path("api/v1/experiments/<str:experiment_id>", experiment_api.experiment_detail, name="api-experiment"),
    path("api/v1/experiments/<str:experiment_id>/runs", experiment_api.experiment_runs, name="api-experiment-runs"),
    path("api/v1/experiments/<str:experiment_id>/runs/<str:run_id>", experiment_api.experiment_run_detail,
         name="api-experiment-run"),
    path("api/v1/experiments/<str:experiment_id>/runs/<str:run_id>/results", experiment_api.experiment_run_results,
         name="api-experiment-run-results"),
    path("api/v1/experiments/<str:experiment_id>/runs/<str:run_id>/outputs", experiment_api.experiment_run_outputs,
         name="api-experiment-run-outputs"),
    re_path(r"^experiments/?$", experiment_views.experiment_list, name="experiments"),
    re_path(r"^experiments/replay/?$", experiment_views.replay, name="experiment-replay"),
    re_path(r"^experiments/(?P<experiment_id>[^/]+)/rerun/?$", experiment_views.experiment_rerun,
            name="experiment-rerun"),
    re_path(r"^experiments/(?P<experiment_id>[^/]+)/?$", experiment_views.experiment_detail, name="experiment"),
]
