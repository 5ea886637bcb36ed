-- Who made the call: '' for traffic through the proxy, 'eval_judge' for an eval run's
-- judge calls (logged so their cost shows up, and left out of production eval samples).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS origin LowCardinality(String) DEFAULT '';
