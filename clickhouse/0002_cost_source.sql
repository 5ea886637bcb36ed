-- Where each row's cost came from: 'reported' (the provider's usage at our price, or the
-- provider's own figure), 'estimated' (tokens we counted, e.g. for an abandoned stream),
-- 'unknown' (the model has no price; cost_usd is NULL). Rows written before this column
-- existed read as reported or unknown from their cost.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS cost_source LowCardinality(String)
    DEFAULT if(isNull(cost_usd), 'unknown', 'reported') AFTER cost_usd;
