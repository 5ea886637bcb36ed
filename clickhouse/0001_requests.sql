-- The request log: one row per proxied LLM call.
-- ORDER BY matches the dashboard's tenant-scoped time-range reads.
CREATE TABLE IF NOT EXISTS requests
(
    id                 UUID,
    organization_id    UUID,
    project_id         UUID,
    api_key_id         Nullable(UUID),
    provider_key_id    Nullable(UUID),
    provider           LowCardinality(String),
    model              LowCardinality(String),
    endpoint           LowCardinality(String),
    method             LowCardinality(String) DEFAULT 'POST',
    stream             Bool DEFAULT false,
    prompt_tokens      UInt32 DEFAULT 0,
    completion_tokens  UInt32 DEFAULT 0,
    total_tokens       UInt32 DEFAULT 0,
    cache_read_tokens  UInt32 DEFAULT 0,
    cache_write_tokens UInt32 DEFAULT 0,
    cost_usd           Nullable(Decimal(18, 8)),
    latency_ms         UInt32 DEFAULT 0,
    proxy_overhead_ms  UInt32 DEFAULT 0,
    status_code        UInt16 DEFAULT 0,
    request_body       String CODEC(ZSTD(3)),
    response_body      String CODEC(ZSTD(3)),
    trace_id           Nullable(UUID),
    span_id            Nullable(UUID),
    prompt_version_id  Nullable(UUID),
    user_id            Nullable(String),
    session_id         Nullable(String),
    log_body           LowCardinality(String) DEFAULT 'full',
    flags              String DEFAULT '[]',
    response_flags     String DEFAULT '[]',
    truncated          Bool DEFAULT false,
    error_message      String DEFAULT '' CODEC(ZSTD(3)),
    created_at         DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (organization_id, project_id, created_at, id)
TTL toDateTime(created_at) + INTERVAL 365 DAY;
