from django.urls import path

from dashboard import views
from evals import prompt_api as api

urlpatterns = [
    path("prompts/", views.prompts, name="prompts"),
    path("api/v1/prompts", api.prompts, name="api_prompts"),
    path("api/v1/prompts/<str:name>", api.prompt_detail, name="api_prompt"),
    path("api/v1/prompts/<str:name>/versions", api.versions, name="api_prompt_versions"),
    path("api/v1/prompts/<str:name>/versions/<int:number>/archive", api.archive_version,
         name="api_prompt_version_archive"),
    path("api/v1/prompts/<str:name>/labels", api.labels, name="api_prompt_labels"),
    path("api/v1/prompts/<str:name>/labels/<str:label>", api.move_label, name="api_prompt_label_move"),
    path("api/v1/prompts/<str:name>/experiments", api.experiments, name="api_prompt_experiments"),
    path("api/v1/prompts/<str:name>/experiments/<str:experiment_id>", api.experiment_detail,
         name="api_prompt_experiment"),
    path("api/v1/prompts/<str:name>/experiments/<str:experiment_id>/stop", api.stop_experiment,
         name="api_prompt_experiment_stop"),
]
