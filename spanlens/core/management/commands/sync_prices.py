"""python manage.py sync_prices FILE_OR_URL: bring ModelPrice up to date from the
community price table (the JSON LiteLLM publishes), showing the difference first."""
import sys

from django.core.management.base import BaseCommand, CommandError

from spanlens.core import price_import


def _fmt(prices: dict) -> str:
    names = {"input_per_1m": "in", "output_per_1m": "out", "cache_read_per_1m": "read",
             "cache_write_per_1m": "write", "cache_write_1h_per_1m": "write-1h"}
    return " ".join(f"{names[k]} {price_import._text(v)}" for k, v in prices.items() if v is not None)


class Command(BaseCommand):
    help = ("Import model prices from the community price table (LiteLLM's model_prices_and_context_window.json, "
            "a file or URL): show what would be added, changed and removed, then apply it.")

    def add_arguments(self, parser):
        parser.add_argument("source", help="path or http(s) URL of the JSON price table")
        parser.add_argument("--yes", action="store_true", help="apply without asking")
        parser.add_argument("--no-remove", action="store_true",
                            help="keep prices the file no longer lists (default: remove unused ones)")
        parser.add_argument("--in-use-days", type=int, default=90,
                            help="a price any call used in this many days is never removed (default 90)")

    def handle(self, *args, source, yes, no_remove, in_use_days, **options):
        try:
            entries = price_import.parse(price_import.load(source))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # network errors from httpx
            raise CommandError(f"Could not read {source}: {exc.__class__.__name__}: {exc}") from None
        if not entries:
            raise CommandError(f"{source} has no prices for the providers Spanlens proxies.")
        result = price_import.diff(entries, remove=not no_remove, in_use_days=in_use_days)

        out = self.stdout
        out.write(f"{len(entries)} prices in {source}.")
        for e in result.added:
            out.write(self.style.SUCCESS(f"  + {e.provider}/{e.model}: {_fmt(e.as_dict())}"))
        for price, e in result.changed:
            before = {f: getattr(price, f) for f in price_import.FIELDS}
            out.write(self.style.WARNING(f"  ~ {e.provider}/{e.model}: {_fmt(before)}  ->  {_fmt(e.as_dict())}"))
        for price in result.removed:
            out.write(self.style.ERROR(f"  - {price.provider}/{price.model}"))
        for price in result.kept_in_use:
            out.write(f"  = {price.provider}/{price.model}: not in the file, kept (used by traffic)")
        out.write(f"Added {len(result.added)}, changed {len(result.changed)}, removed {len(result.removed)}"
                  f", kept {len(result.kept_in_use)} in use.")
        if result.empty:
            out.write("The price table is up to date.")
            return
        if not yes:
            if not sys.stdin.isatty():
                out.write("Nothing applied: run again with --yes to apply.")
                return
            if input("Apply these changes? [y/N] ").strip().lower() not in ("y", "yes"):
                out.write("Nothing applied.")
                return
        price_import.apply(result, source=source)
        out.write(self.style.SUCCESS("Applied. The proxy uses the new prices within a minute."))
