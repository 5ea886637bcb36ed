from django.urls import path, re_path

from evals import eval_api, eval_views

urlpatterns = [
    path("api/v1/evaluators", eval_api.evaluators, name="api-evaluators"),
    path("api/v1/evaluators/<str:evaluator_id>", eval_api.evaluator_detail, name="api-evaluator"),
    path("api/v1/eval-runs", eval_api.eval_runs, name="api-eval-runs"),
    path("api/v1/eval-runs/<str:run_id>", eval_api.eval_run_detail, name="api-eval-run"),
    path("api/v1/eval-runs/<str:run_id>/results", eval_api.eval_run_results, name="api-eval-run-results"),
    path("api/v1/eval-runs/<str:run_id>/retry-failed", eval_api.eval_run_retry, name="api-eval-run-retry"),
    path("api/v1/datasets", eval_api.datasets, name="api-datasets"),
    path("api/v1/datasets/<str:dataset_id>", eval_api.dataset_detail, name="api-dataset"),
    path("api/v1/datasets/<str:dataset_id>/items", eval_api.dataset_items, name="api-dataset-items"),
    path("api/v1/datasets/<str:dataset_id>/items/<str:item_id>", eval_api.dataset_item_detail,
         name="api-dataset-item"),
    path("api/v1/datasets/<str:dataset_id>/import", eval_api.dataset_import, name="api-dataset-import"),
    # Pages, with or without the trailing slash.
    re_path(r"^evals/?$", eval_views.evaluator_list, name="evals"),
    re_path(r"^evals/new/?$", eval_views.evaluator_new, name="evaluator-new"),
    re_path(r"^evals/runs/(?P<run_id>[^/]+)/?$", eval_views.run_detail, name="eval-run"),
    re_path(r"^evals/runs/(?P<run_id>[^/]+)/retry/?$", eval_views.run_retry, name="eval-run-retry"),
    re_path(r"^evals/(?P<evaluator_id>[^/]+)/edit/?$", eval_views.evaluator_edit, name="evaluator-edit"),
    re_path(r"^evals/(?P<evaluator_id>[^/]+)/estimate/?$", eval_views.run_estimate, name="eval-estimate"),
    re_path(r"^evals/(?P<evaluator_id>[^/]+)/run/?$", eval_views.run_start, name="eval-run-start"),
    re_path(r"^evals/(?P<evaluator_id>[^/]+)/?$", eval_views.evaluator_detail, name="evaluator"),
    re_path(r"^datasets/?$", eval_views.dataset_list, name="datasets"),
    re_path(r"^datasets/add-requests/?$", eval_views.add_requests, name="dataset-add-requests"),
    re_path(r"^datasets/(?P<dataset_id>[^/]+)/export\.jsonl$", eval_views.dataset_export, name="dataset-export"),
    re_path(r"^datasets/(?P<dataset_id>[^/]+)/upload/?$", eval_views.dataset_upload, name="dataset-upload"),
    re_path(r"^datasets/(?P<dataset_id>[^/]+)/items/(?P<item_id>[^/]+)/?$", eval_views.dataset_item,
            name="dataset-item"),
    re_path(r"^datasets/(?P<dataset_id>[^/]+)/?$", eval_views.dataset_detail, name="dataset"),
]
