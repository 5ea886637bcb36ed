"""An experiment's results: per-arm numbers from the request log, the tests
from evals.stats, and a verdict a person can act on."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from evals import stats
from evals.models import PromptExperiment
from spanlens.requestlog import queries

# Metrics compared, all "lower is better": (key, label, words for lower / higher).
METRICS = (
    ("latency", "Latency (successful calls)", "faster", "slower"),
    ("cost", "Cost per successful call", "cheaper", "more expensive"),
    ("error_rate", "Error rate", "fewer errors", "more errors"),
)


@dataclass
class Arm:
    name: str  # "A" / "B"
    version: int
    version_id: str
    calls: int = 0
    units: int = 0
    errors: int = 0
    ok_calls: int = 0  # latency and cost are over these
    latency_mean: float = 0.0
    latency_var: float = 0.0
    latency_p50: float = 0.0
    latency_p95: float = 0.0
    cost_mean: float = 0.0
    cost_var: float = 0.0
    cost_total: float = 0.0
    eval_score: float | None = None  # mean 0..1 score of this arm's calls that evaluators scored
    eval_count: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


@dataclass
class Comparison:
    metric: str
    label: str
    a: float
    b: float
    p_value: float | None = None
    statistic: float | None = None
    df: float | None = None
    lift: float | None = None
    lift_low: float | None = None
    lift_high: float | None = None
    enough_data: bool = False
    significant: bool = False
    needed_per_arm: int | None = None


@dataclass
class Results:
    arm_a: Arm
    arm_b: Arm
    comparisons: list[Comparison] = field(default_factory=list)
    srm_p_value: float | None = None
    srm_mismatch: bool = False
    srm_unit: str = "calls"
    observed_share_b: float | None = None
    expected_share_b: float = 0.5
    enough_data: bool = False
    verdict: str = ""
    verdict_kind: str = "wait"  # wait | b_better | a_better | tradeoff | same | srm

    def as_dict(self) -> dict:
        out = asdict(self)
        out["arm_a"]["error_rate"] = self.arm_a.error_rate
        out["arm_b"]["error_rate"] = self.arm_b.error_rate
        return out


def experiment_results(experiment: PromptExperiment, *, retention_days: int = 365) -> Results:
    rows = queries.list_prompt_arm_stats(
        organization_id=str(experiment.organization_id),
        version_ids=[str(experiment.arm_a_id), str(experiment.arm_b_id)],
        since=experiment.started_at,
        until=experiment.ended_at,
        unit=experiment.assignment_key,
        retention_days=retention_days,
    )
    by_id = {r["version_id"]: r for r in rows}
    arm_a = _arm("A", experiment.arm_a, by_id)
    arm_b = _arm("B", experiment.arm_b, by_id)
    _add_eval_scores(experiment, (arm_a, arm_b), retention_days)
    return compare(arm_a, arm_b, experiment.split_b / 100)


MAX_SCORED_SAMPLES = 5000


def _add_eval_scores(experiment: PromptExperiment, arms: tuple[Arm, Arm], retention_days: int) -> None:
    """Mean eval score per arm, from the evaluation results that scored the experiment's calls.

    Evaluation results live in the evaluation half of this app; without them
    (or any), the arms simply have no score.
    """
    from django.apps import apps

    try:
        results = apps.get_model("evals", "EvalResult")
    except LookupError:
        return
    scored = list(
        results.objects.filter(organization_id=experiment.organization_id, request_id__isnull=False,
                               score__isnull=False, completed_at__gte=experiment.started_at)
        .order_by("-completed_at").values_list("request_id", "score")[:MAX_SCORED_SAMPLES]
    )
    if not scored:
        return
    owners = queries.list_prompt_versions_of_requests(
        organization_id=str(experiment.organization_id), request_ids=[str(r) for r, _ in scored],
        version_ids=[arm.version_id for arm in arms], retention_days=retention_days,
    )
    version_of = {row["request_id"]: row["version_id"] for row in owners}
    for arm in arms:
        scores = [score for request_id, score in scored if version_of.get(str(request_id)) == arm.version_id]
        if scores:
            arm.eval_score, arm.eval_count = sum(scores) / len(scores), len(scores)


def _arm(name: str, version, by_id: dict) -> Arm:
    arm = Arm(name, version.version, str(version.id))
    row = by_id.get(str(version.id))
    if row:
        for attr in ("calls", "units", "errors", "ok_calls"):
            setattr(arm, attr, int(row[attr] or 0))
        for attr in ("latency_mean", "latency_var", "latency_p50", "latency_p95", "cost_mean", "cost_var",
                     "cost_total"):
            try:
                value = float(row[attr])
            except (TypeError, ValueError):
                value = 0.0
            setattr(arm, attr, value if math.isfinite(value) else 0.0)
    return arm


def compare(a: Arm, b: Arm, share_b: float) -> Results:
    """The tests and the verdict, from two arms' numbers (pure, so tests feed it fixtures)."""
    results = Results(a, b, expected_share_b=share_b)
    # Assignment is per unit, so the split is checked on units when calls carry the key.
    use_units = a.units + b.units > 0
    results.srm_unit = "units" if use_units else "calls"
    srm = stats.sample_ratio_mismatch(a.units if use_units else a.calls, b.units if use_units else b.calls, share_b)
    if srm is not None:
        results.srm_p_value, results.srm_mismatch, results.observed_share_b = (
            srm.p_value, srm.mismatch, srm.observed_share_b
        )
    results.enough_data = min(a.calls, b.calls) >= stats.MIN_CALLS_PER_ARM
    for key, label, _, _ in METRICS:
        results.comparisons.append(_compare_metric(key, label, a, b))
    results.verdict_kind, results.verdict = _verdict(results)
    return results


def _compare_metric(key: str, label: str, a: Arm, b: Arm) -> Comparison:
    if key == "error_rate":
        comparison = Comparison(key, label, a.error_rate, b.error_rate)
        comparison.enough_data = stats.enough_for_proportions(a.errors, a.calls, b.errors, b.calls)
        if comparison.enough_data:
            test = stats.two_proportion_z_test(a.errors, a.calls, b.errors, b.calls)
            sa, sb = stats.proportion_summary(a.errors, a.calls), stats.proportion_summary(b.errors, b.calls)
            _fill(comparison, test, stats.relative_lift_ci(sa, sb))
        return comparison
    sa = stats.Summary(a.ok_calls, getattr(a, f"{key}_mean"), getattr(a, f"{key}_var"))
    sb = stats.Summary(b.ok_calls, getattr(b, f"{key}_mean"), getattr(b, f"{key}_var"))
    comparison = Comparison(key, label, sa.mean, sb.mean)
    comparison.enough_data = min(sa.n, sb.n) >= stats.MIN_CALLS_PER_ARM
    if sa.n >= 2:
        # To detect a 10 % change of arm A's mean with 80 % power.
        comparison.needed_per_arm = stats.sample_size_per_arm(sa.var ** 0.5, abs(sa.mean) * 0.1)
    if comparison.enough_data:
        _fill(comparison, stats.welch_t_test(sa, sb), stats.relative_lift_ci(sa, sb))
    return comparison


def _fill(comparison: Comparison, test: stats.TestResult, lift: stats.Interval | None) -> None:
    comparison.p_value, comparison.statistic, comparison.df = test.p_value, test.statistic, test.df
    comparison.significant = test.significant
    if lift is not None:
        comparison.lift, comparison.lift_low, comparison.lift_high = lift.estimate, lift.low, lift.high


def _pct(value: float) -> str:
    return f"{abs(value) * 100:.1f}%"


def _p(value: float) -> str:
    return f"p = {value:.2g}" if value >= 0.001 else "p < 0.001"


def _verdict(r: Results) -> tuple[str, str]:
    a, b = r.arm_a, r.arm_b
    if r.srm_mismatch:
        return "srm", (
            f"Sample ratio mismatch: arm B got {_pct(r.observed_share_b or 0)} of {r.srm_unit} instead of the "
            f"configured {_pct(r.expected_share_b)} ({_p(r.srm_p_value or 0)}). Assignment or logging is skewed, "
            "so the comparison below cannot be trusted until that is fixed."
        )
    if not r.enough_data:
        return "wait", (
            f"Not enough data yet: arm A has {a.calls} calls and arm B has {b.calls}; each arm needs at least "
            f"{stats.MIN_CALLS_PER_ARM} before the arms can be compared."
        )
    better, worse = [], []
    words = {key: (low, high) for key, _, low, high in METRICS}
    for c in r.comparisons:
        if not (c.enough_data and c.significant) or (c.lift is None and c.metric != "error_rate"):
            continue
        low, high = words[c.metric]
        if c.metric == "error_rate":
            rates = f"{a.error_rate * 100:.1f}% → {b.error_rate * 100:.1f}%"
            text = f"{low if c.b < c.a else high} ({rates}, {_p(c.p_value)})"
        else:
            ci = f"95% CI {c.lift_low * 100:+.1f}% to {c.lift_high * 100:+.1f}%"
            text = f"{_pct(c.lift)} {low if c.b < c.a else high} ({ci}, {_p(c.p_value)})"
        (better if c.b < c.a else worse).append(text)
    if better and not worse:
        return "b_better", f"Version {b.version} (B) is better than version {a.version} (A): " + "; ".join(better) + "."
    if worse and not better:
        return "a_better", (
            f"Version {b.version} (B) is worse than version {a.version} (A): " + "; ".join(worse) + ". Keep A."
        )
    if better and worse:
        return "tradeoff", (
            f"A trade-off: version {b.version} (B) is " + "; ".join(better) + ", but " + "; ".join(worse) + "."
        )
    return "same", (
        f"No significant difference between version {a.version} and version {b.version} in latency, cost or "
        f"error rate so far (each p ≥ {stats.ALPHA})."
    )
