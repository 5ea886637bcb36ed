-- Hourly totals of the calls that name a session (x-spanlens-session), by session, end user
-- ('' for none) and model, kept by ClickHouse as rows arrive: /sessions reads them instead of
-- every row of the tenant. A session's hours, users and models are few, so it keeps a few
-- rows per session, not one per call. spanlens/requestlog/rollup.py (SESSIONS) reads it.
CREATE TABLE IF NOT EXISTS requests_sessions_hourly
(
    organization_id UUID,
    project_id      UUID,
    hour            DateTime('UTC'),
    session         String,
    end_user        String,
    model           LowCardinality(String),
    rows            SimpleAggregateFunction(sum, UInt64),
    sampled_rows    SimpleAggregateFunction(sum, UInt64),
    -- calls, errors, spend and tokens: weighted by 1 / sample_rate
    calls           SimpleAggregateFunction(sum, Float64),
    errors          SimpleAggregateFunction(sum, Float64),
    cost_w          SimpleAggregateFunction(sum, Float64),
    tokens_w        SimpleAggregateFunction(sum, Float64),
    first_call      SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_call       SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, project_id, hour, session, end_user, model)
TTL hour + INTERVAL 366 DAY;

-- rollup.SESSIONS.view_select; rows stored before are summed by rollup.rebuild().
CREATE MATERIALIZED VIEW IF NOT EXISTS requests_sessions_hourly_mv TO requests_sessions_hourly AS
WITH if(sample_rate > 0 AND sample_rate <= 1, round(1.0 / toFloat64(sample_rate), 4), 1.0) AS w
SELECT organization_id, project_id, toStartOfHour(created_at) AS hour, assumeNotNull(session_id) AS session,
    ifNull(user_id, '') AS end_user, model,
    count() AS rows, countIf(sample_rate < 1) AS sampled_rows, sum(w) AS calls,
    sumIf(w, status_code >= 400 OR status_code = 0 OR error_message != '') AS errors,
    sum(toFloat64(ifNull(cost_usd, toDecimal64(0, 8))) * w) AS cost_w, sum(toFloat64(total_tokens) * w) AS tokens_w,
    min(created_at) AS first_call, max(created_at) AS last_call
FROM requests
WHERE session_id IS NOT NULL AND session_id != ''
GROUP BY organization_id, project_id, hour, session, end_user, model;
