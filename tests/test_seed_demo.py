"""manage.py seed_demo: realistic traffic through the writer's batch path, for one organization only."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import CommandError, call_command

from evals.models import Prompt
from spanlens.requestlog import queries, sessions
from spanlens.traces.models import Span, Trace


def test_it_writes_a_living_dashboard(org, project, other_org_and_project):
    out = io.StringIO()
    call_command("seed_demo", "--days", "2", "--calls-per-day", "150", "--organization", "Acme",
                 "--spike-latency", stdout=out)
    text = out.getvalue()
    bars = [line for line in text.replace("\r", "\n").splitlines() if line.startswith("[")]
    done, _, total = bars[-1].split("] ")[1].partition("/")
    assert "#" * 30 in bars[-1] and done == total and "Wrote " in text
    rows = list(queries.iter_requests_for_export(organization_id=org.id, with_bodies=False))
    assert 290 <= len(rows) <= 320
    assert {r["provider"] for r in rows} >= {"openai", "anthropic", "gemini"}
    assert len({r["user_id"] for r in rows if r["user_id"]}) >= 10
    assert any(r["status_code"] >= 400 for r in rows)
    assert any(r["prompt_version_id"] for r in rows)
    assert Prompt.objects.filter(organization=org, name="support-reply").exists()
    assert sessions.list_sessions(organization_id=org.id)["total"] >= 50
    # Agent traces, their LLM spans linked to the logged calls by the writer's after-write hook.
    assert Trace.objects.filter(organization=org).exists()
    linked = Span.objects.filter(organization=org, span_type="llm", request_id__isnull=False)
    assert linked.exists() and all(s.cost_usd is not None for s in linked[:20])
    # The spike: gpt-4o-mini in the last hour is far slower than before.
    hour_ago = queries.format_ts(datetime.now(timezone.utc) - timedelta(hours=1))
    mini = [r for r in rows if r["model"] == "gpt-4o-mini-2024-07-18" and r["status_code"] == 200]
    recent = [int(r["latency_ms"]) for r in mini if str(r["created_at"]) >= hour_ago]
    before = [int(r["latency_ms"]) for r in mini if str(r["created_at"]) < hour_ago]
    if recent:
        assert min(recent) > sorted(before)[len(before) // 2]
    assert queries.count_requests(organization_id=other_org_and_project[0].id) == 0


def test_sampled_seeding_stores_fewer_rows_that_stand_for_all(org, project):
    call_command("seed_demo", "--days", "1", "--calls-per-day", "400", "--sample-rate", "0.25", "--seed", "5",
                 stdout=io.StringIO())
    stats = queries.get_request_stats(organization_id=org.id)
    assert stats["sampled_rows"] > 0 and stats["rows"] < 200
    assert 250 <= stats["requests"] <= 550


def test_bad_arguments_say_what_is_wrong(org, project):
    with pytest.raises(CommandError, match="--days"):
        call_command("seed_demo", "--days", "0")
    with pytest.raises(CommandError, match="--sample-rate"):
        call_command("seed_demo", "--sample-rate", "2")
    with pytest.raises(CommandError, match="No organization named"):
        call_command("seed_demo", "--organization", "Nope")
