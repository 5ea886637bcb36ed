"""`make run`: dashboard, proxy and a Celery worker in one process (the embedded default)."""
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from spanlens.core import runfile
from spanlens.core.services import bootstrap_first_run
from spanlens.env import env_str


class Command(BaseCommand):
    help = "Run Spanlens embedded: SQLite + chDB + in-process worker, on PORT (default 8000)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)
        # Loopback by default: a laptop install must not serve its dashboard and
        # proxy (with the stored provider keys behind it) to the whole network.
        parser.add_argument("--host", default=env_str("HOST", "127.0.0.1"),
                            help="address to listen on (default: HOST or 127.0.0.1; 0.0.0.0 opens it to the network)")

    def handle(self, *args, host, port, **options):
        import uvicorn

        if host not in ("127.0.0.1", "localhost", "::1") and not env_str("ALLOWED_HOSTS"):
            # Opened on purpose: answer to whatever name or address the network uses.
            settings.ALLOWED_HOSTS = ["*"]
            self.stdout.write(self.style.WARNING(
                f"Listening on {host}: reachable from the network. Set ALLOWED_HOSTS to the names it serves."
            ))

        call_command("migrate", interactive=False, verbosity=0)
        from spanlens.requestlog.engine import use_store_process

        use_store_process()  # this process becomes the web process: chDB opens in its store
        call_command("clickhouse_migrate", verbosity=0)
        base = f"http://localhost:{port}"
        announced = settings.VAR_DIR / ".encryption_key_announced"
        if not settings.CLICKHOUSE_URL and not announced.exists() and (settings.VAR_DIR / "encryption_key").exists():
            announced.touch()
            self.stdout.write(self.style.WARNING(
                f"Generated ENCRYPTION_KEY into {settings.VAR_DIR / 'encryption_key'}. "
                "Back it up: without it, stored provider keys cannot be decrypted."
            ))
        boot = bootstrap_first_run()
        if boot:
            self.stdout.write(self.style.SUCCESS("Spanlens is set up. Shown once, keep them:"))
            self.stdout.write(f"  Dashboard login : {boot.username} / {boot.password}   ({base}/login/)")
            self.stdout.write(f"  Spanlens API key: {boot.raw_api_key}")
            self.stdout.write("  Add a provider key: python manage.py add_provider_key openai sk-...")
            self.stdout.write(
                "  Then: OpenAI(base_url=\"" + base + "/proxy/openai/v1\", api_key=\"" + boot.raw_api_key + "\")"
            )
        self.stdout.write(f"Spanlens on {base}  (proxy at {base}/proxy/<provider>/…, listening on {host})")
        # Commands run beside it (recent_requests, backup) find it here on any PORT.
        local = host in ("127.0.0.1", "localhost", "0.0.0.0", "::1", "::")
        runfile.record(f"http://{'127.0.0.1' if local else host}:{port}")
        if settings.CELERY_IN_PROCESS_WORKER:
            from spanlens import inprocess_worker

            inprocess_worker.start()
        uvicorn.run(
            "spanlens.asgi:application",
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
        )
