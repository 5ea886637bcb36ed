from django.urls import path

from spanlens.backups import views

urlpatterns = [path("ops/backup/requestlog", views.backup_requestlog, name="backup-requestlog")]
