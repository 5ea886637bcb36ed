-- Hourly totals per end user (the caller's x-spanlens-user, '' for calls without one), kept
-- by ClickHouse as rows arrive: /users, and the home page's usage by user and top spenders,
-- read them instead of every row of the tenant. spanlens/requestlog/rollup.py (USERS) reads
-- it as it reads requests_hourly (0013).
CREATE TABLE IF NOT EXISTS requests_users_hourly
(
    organization_id UUID,
    project_id      UUID,
    hour            DateTime('UTC'),
    end_user        String,
    rows            SimpleAggregateFunction(sum, UInt64),
    sampled_rows    SimpleAggregateFunction(sum, UInt64),
    -- calls, errors and unpriced calls, spend and tokens: weighted by 1 / sample_rate
    calls           SimpleAggregateFunction(sum, Float64),
    errors          SimpleAggregateFunction(sum, Float64),
    unpriced        SimpleAggregateFunction(sum, Float64),
    cost_w          SimpleAggregateFunction(sum, Float64),
    tokens_w        SimpleAggregateFunction(sum, Float64),
    first_seen      SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen       SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, project_id, hour, end_user)
TTL hour + INTERVAL 366 DAY;

-- rollup.USERS.view_select; rows stored before are summed by rollup.rebuild().
CREATE MATERIALIZED VIEW IF NOT EXISTS requests_users_hourly_mv TO requests_users_hourly AS
WITH if(sample_rate > 0 AND sample_rate <= 1, round(1.0 / toFloat64(sample_rate), 4), 1.0) AS w
SELECT organization_id, project_id, toStartOfHour(created_at) AS hour, ifNull(user_id, '') AS end_user,
    count() AS rows, countIf(sample_rate < 1) AS sampled_rows, sum(w) AS calls,
    sumIf(w, status_code >= 400 OR status_code = 0 OR error_message != '') AS errors,
    sumIf(w, cost_source = 'unknown') AS unpriced,
    sum(toFloat64(ifNull(cost_usd, toDecimal64(0, 8))) * w) AS cost_w, sum(toFloat64(total_tokens) * w) AS tokens_w,
    min(created_at) AS first_seen, max(created_at) AS last_seen
FROM requests
GROUP BY organization_id, project_id, hour, end_user;
