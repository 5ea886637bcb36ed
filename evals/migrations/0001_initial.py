# The root every evals migration chain starts from: prompts and evaluation/datasets
# each add their own branch on top of it.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = [("core", "0001_initial")]
    operations = []
