-- Hourly totals of the request log, kept by ClickHouse as rows arrive: the dashboard's
-- aggregates (stat strip, daily bars, usage charts, period totals, models in use) read a
-- few rows per hour instead of every row of the tenant. spanlens/requestlog/rollup.py
-- reads it and sums the edges of a time range that are not whole hours from `requests`
-- with the same SELECT (HOURLY there; a test checks they are the same text).
-- Rows are summed when parts merge, and every read sums them again, so a read never
-- depends on merges having run.
CREATE TABLE IF NOT EXISTS requests_hourly
(
    organization_id   UUID,
    project_id        UUID,
    hour              DateTime('UTC'),
    provider          LowCardinality(String),
    model             LowCardinality(String),
    status_code       UInt16,
    errored           Bool,
    unpriced          Bool,
    cache_hit         Bool,
    -- stored rows, rows that stand for more than one call, and the calls they stand for
    rows              SimpleAggregateFunction(sum, UInt64),
    sampled_rows      SimpleAggregateFunction(sum, UInt64),
    calls             SimpleAggregateFunction(sum, Float64),
    -- *_sum: sums of the rows; *_w: weighted by 1 / sample_rate, as spanlens/requestlog/weighting.py
    latency_sum       SimpleAggregateFunction(sum, UInt64),
    latency_w         SimpleAggregateFunction(sum, Float64),
    cost_sum          SimpleAggregateFunction(sum, Decimal(38, 8)),
    cost_w            SimpleAggregateFunction(sum, Float64),
    saved_w           SimpleAggregateFunction(sum, Float64),
    prompt_sum        SimpleAggregateFunction(sum, UInt64),
    completion_sum    SimpleAggregateFunction(sum, UInt64),
    tokens_sum        SimpleAggregateFunction(sum, UInt64),
    tokens_w          SimpleAggregateFunction(sum, Float64),
    latency_q         AggregateFunction(quantile(0.95), UInt32),
    first_seen        SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen         SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    -- the calls a production eval can sample: no origin, a stored response (2xx is a key)
    eval_rows         SimpleAggregateFunction(sum, UInt64),
    eval_prompt_sum   SimpleAggregateFunction(sum, UInt64),
    eval_completion_sum SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, project_id, hour, provider, model, status_code, errored, unpriced, cache_hit)
-- A day longer than the rows it sums: reads are cut at the plan's retention anyway.
TTL hour + INTERVAL 366 DAY;

-- rollup.HOURLY.view_select; rows stored before
-- this view existed are summed by rollup.rebuild() when this migration is applied.
CREATE MATERIALIZED VIEW IF NOT EXISTS requests_hourly_mv TO requests_hourly AS
WITH if(sample_rate > 0 AND sample_rate <= 1, round(1.0 / toFloat64(sample_rate), 4), 1.0) AS w
SELECT organization_id, project_id, toStartOfHour(created_at) AS hour, provider, model, status_code,
    error_message != '' AS errored, cost_source = 'unknown' AS unpriced, cache_hit,
    count() AS rows, countIf(sample_rate < 1) AS sampled_rows, sum(w) AS calls,
    sum(toUInt64(latency_ms)) AS latency_sum, sum(toFloat64(latency_ms) * w) AS latency_w,
    sum(ifNull(cost_usd, toDecimal64(0, 8))) AS cost_sum,
    sum(toFloat64(ifNull(cost_usd, toDecimal64(0, 8))) * w) AS cost_w,
    sum(toFloat64(ifNull(cost_saved_usd, toDecimal64(0, 8))) * w) AS saved_w,
    sum(toUInt64(prompt_tokens)) AS prompt_sum, sum(toUInt64(completion_tokens)) AS completion_sum,
    sum(toUInt64(total_tokens)) AS tokens_sum, sum(toFloat64(total_tokens) * w) AS tokens_w,
    quantileState(0.95)(latency_ms) AS latency_q, min(created_at) AS first_seen, max(created_at) AS last_seen,
    countIf(origin = '' AND response_body != '') AS eval_rows,
    sumIf(toUInt64(prompt_tokens), origin = '' AND response_body != '') AS eval_prompt_sum,
    sumIf(toUInt64(completion_tokens), origin = '' AND response_body != '') AS eval_completion_sum
FROM requests
GROUP BY organization_id, project_id, hour, provider, model, status_code, errored, unpriced, cache_hit;
