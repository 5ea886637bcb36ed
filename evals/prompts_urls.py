from django.urls import path

from evals import prompt_api as api
from evals import prompt_views as views

urlpatterns = [
    path("prompts/", views.prompt_list, name="prompts"),
    path("prompts/new/", views.prompt_new, name="prompt_new"),
    path("prompts/<str:name>/", views.prompt_detail, name="prompt_detail"),
    path("prompts/<str:name>/versions/", views.version_create, name="prompt_version_create"),
    path("prompts/<str:name>/versions/<int:number>/archive/", views.version_archive, name="prompt_version_archive"),
    path("prompts/<str:name>/labels/", views.label_move, name="prompt_label_move"),
    path("prompts/<str:name>/playground/", views.playground_run, name="prompt_playground"),
    path("prompts/<str:name>/experiments/", views.experiment_start, name="prompt_experiment_start"),
    path("prompts/<str:name>/experiments/<str:experiment_id>/stop/", views.experiment_stop,
         name="prompt_experiment_stop"),
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
