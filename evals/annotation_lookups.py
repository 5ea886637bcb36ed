"""Annotation queues and their items of the caller's organization, or 404."""
from __future__ import annotations

from django.http import Http404

from evals.models import AnnotationItem, AnnotationQueue
from spanlens.core.access import Access, uuid_or_404


def queue_or_404(access: Access, queue_id) -> AnnotationQueue:
    queue = (AnnotationQueue.objects.select_related("score_config", "evaluator")
             .filter(organization=access.organization, id=uuid_or_404(queue_id)).first())
    if queue is None:
        raise Http404("No such annotation queue")
    return queue


def item_or_404(access: Access, queue: AnnotationQueue, item_id) -> AnnotationItem:
    try:
        item_id = int(item_id)
    except (TypeError, ValueError):
        raise Http404("No such item") from None
    item = AnnotationItem.objects.filter(organization=access.organization, queue=queue, id=item_id).first()
    if item is None:
        raise Http404("No such item")
    return item
