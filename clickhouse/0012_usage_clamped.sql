-- The provider reported a token count the log cannot hold (negative, not a number, or
-- above UInt32): the row keeps 0 or the clamped count, and says so here.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS usage_clamped Bool DEFAULT false;
