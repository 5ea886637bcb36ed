from django.core.management.base import BaseCommand, CommandError

from spanlens.core import endpoints, services
from spanlens.core.models import Project, ProviderKey


class Command(BaseCommand):
    help = "Register a provider key (encrypted at rest) for a project."

    def add_arguments(self, parser):
        parser.add_argument("provider", choices=ProviderKey.Provider.values)
        parser.add_argument("secret", nargs="?", default="", help="the provider's key (optional for custom)")
        parser.add_argument("--name", default="")
        parser.add_argument("--project", help="project id or name (default: the only/first project)")
        parser.add_argument("--azure-endpoint", default="")
        parser.add_argument("--azure-deployment", default="")
        parser.add_argument("--azure-api-version", default="")
        parser.add_argument("--base-url", default="",
                            help="OpenAI-compatible providers: the base URL (required for custom), e.g. http://10.0.0.5:8000/v1")
        parser.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                            help="an extra header sent upstream with every call (repeatable)")
        parser.add_argument("--free", action="store_true", help="calls cost nothing when the price table has no price")

    def handle(self, *args, provider, secret, name, project, **opts):
        qs = Project.objects.order_by("created_at")
        if project:
            found = [p for p in qs if str(p.id) == project or p.name == project]
            if not found:
                raise CommandError(f"No project {project!r}. Projects: {', '.join(p.name for p in qs)}")
            target = found[0]
        else:
            target = qs.first()
            if target is None:
                raise CommandError("No project yet: start Spanlens once with `make run` to create one.")
        if provider == "azure" and not opts["azure_endpoint"]:
            raise CommandError("Azure keys need --azure-endpoint https://<resource>.openai.azure.com")
        try:
            key = services.add_provider_key(
                target, provider, secret, name,
                azure_endpoint=opts["azure_endpoint"],
                azure_deployment=opts["azure_deployment"],
                azure_api_version=opts["azure_api_version"],
                base_url=opts["base_url"],
                headers=endpoints.parse_header_lines("\n".join(opts["header"])),
                price_free=opts["free"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"Added {provider} key {key.name!r} (…{key.secret_hint}) to project {target.name!r}."
        ))
