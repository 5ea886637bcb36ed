-- The share of traffic the SDK kept when it logged this call (x-spanlens-sample-rate):
-- aggregates weight a row by 1 / sample_rate so totals of sampled traffic are estimates of
-- the whole. 1 for every unsampled call, and for errors kept whatever the rate.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS sample_rate Float32 DEFAULT 1;
