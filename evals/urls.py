"""The evals app's routes: prompts in prompts_urls, evaluators / runs / datasets in evaluation_urls,
experiments in experiment_urls, annotation in annotation_urls."""
from django.urls import include, path

urlpatterns = [
    path("", include("evals.prompts_urls")),
    path("", include("evals.evaluation_urls")),
    path("", include("evals.experiment_urls")),
    path("", include("evals.annotation_urls")),
]
