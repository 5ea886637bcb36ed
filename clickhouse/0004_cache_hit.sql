-- Calls the response cache answered: no provider was called, so cost_usd is 0, and
-- cost_saved_usd holds what the same answer cost when it was first bought (NULL when the
-- model has no price, and on every row that was not a hit).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS cache_hit Bool DEFAULT false;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS cost_saved_usd Nullable(Decimal(18, 8));
