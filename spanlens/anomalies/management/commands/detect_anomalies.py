"""Run the anomaly detector now (beat runs it every ANOMALY_INTERVAL_S), and print what changed."""
from django.core.management.base import BaseCommand

from spanlens.anomalies import services
from spanlens.core.models import Organization


class Command(BaseCommand):
    help = "Run the anomaly detector now for every organization (or one, with --organization)."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="an organization id")

    def handle(self, *args, **options):
        orgs = Organization.objects.all()
        if options.get("organization"):
            orgs = orgs.filter(id=options["organization"])
        for org in orgs:
            counts = services.detect_for_organization(org.id)
            self.stdout.write(f"{org.name}: {counts['opened']} opened, {counts['updated']} still open, "
                              f"{counts['resolved']} resolved")
