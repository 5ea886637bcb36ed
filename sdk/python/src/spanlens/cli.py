"""The `spanlens` console script: manage.py under a nicer name.

    spanlens serve web --migrate
    spanlens check-env --json
"""
from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
    # Dashes read better on a command line; Django command names use underscores.
    # Rewritten in sys.argv itself because settings look at it (check_env).
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = sys.argv[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
