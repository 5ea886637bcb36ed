-- The token mix of each hour, weighted by 1 / sample_rate, for /savings (its projections of
-- a week of calls onto another model's prices read prompt, completion and cache tokens of
-- 24-hour periods). The view is created again with the new sums; rollup.rebuild() sums the
-- rows already stored into the new columns when this migration is applied.
DROP VIEW IF EXISTS requests_hourly_mv;

ALTER TABLE requests_hourly
    ADD COLUMN IF NOT EXISTS prompt_w SimpleAggregateFunction(sum, Float64),
    ADD COLUMN IF NOT EXISTS completion_w SimpleAggregateFunction(sum, Float64),
    ADD COLUMN IF NOT EXISTS cache_read_w SimpleAggregateFunction(sum, Float64),
    ADD COLUMN IF NOT EXISTS cache_write_w SimpleAggregateFunction(sum, Float64);

-- rollup.HOURLY.view_select (a test checks they are the same text).
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
    sumIf(toUInt64(completion_tokens), origin = '' AND response_body != '') AS eval_completion_sum,
    sum(toFloat64(prompt_tokens) * w) AS prompt_w, sum(toFloat64(completion_tokens) * w) AS completion_w,
    sum(toFloat64(cache_read_tokens) * w) AS cache_read_w, sum(toFloat64(cache_write_tokens) * w) AS cache_write_w
FROM requests
GROUP BY organization_id, project_id, hour, provider, model, status_code, errored, unpriced, cache_hit;
