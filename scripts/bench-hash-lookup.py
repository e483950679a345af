#!/usr/bin/env python3
# Times the lookups by hash through sorted runs (the SQL of insyn_store::run_lookup_statement) on
# a finished SQLite data directory: by leaf hash (1,000 random entries) and by payload hash (1,000
# random stored payloads), one query each, every answer checked.
# Usage: scripts/bench-hash-lookup.py DATA_DIR/insyn.sqlite3 (read-only; the server may be stopped).
import sqlite3, time, random, sys
db = sys.argv[1]
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
random.seed(1)

def bench(what, runs, lookup, key, source, source_key):
    n = c.execute(f"SELECT MAX(idx) FROM {source}").fetchone()[0] + 1
    levels = c.execute(f"SELECT level, COUNT(*), SUM(size) FROM {runs} GROUP BY level").fetchall()
    print(f"{source}: {n} keys; runs by level (level, count, rows):", levels)
    picked = []
    while len(picked) < 1000:
        row = c.execute(f"SELECT idx, {source_key} FROM {source} WHERE idx = ?",
                        (random.randrange(n),)).fetchone()
        if row is not None:
            picked.append(row)
    sql = (f"SELECT MIN(l.idx) AS idx FROM {runs} r CROSS JOIN {lookup} l "
           f"WHERE l.run = r.id AND l.{key} = ?")
    ts = []
    for i, h in picked:
        t = time.perf_counter(); got = c.execute(sql, (h,)).fetchone()[0]; ts.append(time.perf_counter() - t)
        # The lowest entry with that hash (payloads may have several copies).
        assert got == i or (got < i and c.execute(
            f"SELECT {source_key} FROM {source} WHERE idx = ?", (got,)).fetchone()[0] == h), (got, i)
    ts.sort()
    print("lookup by %s, 1000 random: p50 %.3f ms, p99 %.3f ms, max %.3f ms"
          % (what, ts[500] * 1e3, ts[990] * 1e3, ts[-1] * 1e3))

bench("leaf hash", "leaf_runs", "leaf_lookup", "leaf_hash", "entries", "leaf_hash")
bench("payload hash", "payload_runs", "payload_lookup", "sha256", "payloads", "sha256")
