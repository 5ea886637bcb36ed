"""Embedded chDB's allocator gets CHDB_MALLOC_CONF before the library loads: its thread
caches then keep only small blocks (bench/results/memory.md), which chDB's own
allocator report shows as the option in force."""
import re

from spanlens.requestlog.engine import get_engine


def test_the_allocator_option_is_in_force_in_embedded_chdb(settings):
    engine = get_engine()
    assert engine.name == "chdb"
    report = "\n".join(str(v) for row in engine.select("SELECT * FROM system.jemalloc_stats") for v in row.values())
    option = settings.CHDB_MALLOC_CONF.partition(":")
    assert option[0] == "tcache_max"
    assert re.search(rf"opt\.tcache_max: {option[2]}\b", report), report[:2000]
