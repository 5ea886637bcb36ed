# Prompts and evaluation/datasets grew as two branches on 0001_initial; this joins them.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("evals", "0003_prompts_version_guard"), ("evals", "0002_evaluation")]
    operations = []
