from django.urls import path, re_path

from evals import annotation_api, annotation_views

urlpatterns = [
    path("api/v1/score-configs", annotation_api.score_configs, name="api-score-configs"),
    path("api/v1/annotation-queues", annotation_api.queues, name="api-annotation-queues"),
    path("api/v1/annotation-queues/<str:queue_id>", annotation_api.queue_detail, name="api-annotation-queue"),
    path("api/v1/annotation-queues/<str:queue_id>/next", annotation_api.queue_next, name="api-annotation-next"),
    path("api/v1/annotation-queues/<str:queue_id>/items/<str:item_id>/annotations",
         annotation_api.item_annotations, name="api-annotation-item"),
    re_path(r"^annotation/?$", annotation_views.queue_list, name="annotation"),
    re_path(r"^annotation/(?P<queue_id>[^/]+)/?$", annotation_views.queue_page, name="annotation-queue"),
]
