-- get_request by id: the sort key (organization, project, time, id) cannot find an id
-- without reading the tenant's whole time range; a bloom filter on id skips every
-- granule that cannot hold it (1M rows: 43 ms -> 12 ms). Rows written before this
-- index get it from the MATERIALIZE mutation, which runs in the background.
ALTER TABLE requests ADD INDEX IF NOT EXISTS idx_id id TYPE bloom_filter(0.001) GRANULARITY 1;
ALTER TABLE requests MATERIALIZE INDEX idx_id;
