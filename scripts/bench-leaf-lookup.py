#!/usr/bin/env python3
# Times the lookup by leaf hash (the SQL of insyn_store::leaf_lookup_statement) on a finished
# SQLite data directory: 1,000 random entries, one query each, every answer checked.
# Usage: scripts/bench-leaf-lookup.py DATA_DIR/insyn.sqlite3 (read-only; the server may be stopped).
import sqlite3, time, random, sys
db = sys.argv[1]
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
n = c.execute("SELECT MAX(idx) FROM entries").fetchone()[0] + 1
runs = c.execute("SELECT level, COUNT(*), SUM(size) FROM leaf_runs GROUP BY level").fetchall()
print("entries", n, "runs by level (level, count, entries):", runs)
random.seed(1)
idxs = [random.randrange(n) for _ in range(1000)]
leaves = [c.execute("SELECT leaf_hash FROM entries WHERE idx = ?", (i,)).fetchone()[0] for i in idxs]
sql = "SELECT MIN(l.idx) AS idx FROM leaf_runs r CROSS JOIN leaf_lookup l WHERE l.run = r.id AND l.leaf_hash = ?"
ts = []
for i, h in zip(idxs, leaves):
    t = time.perf_counter(); got = c.execute(sql, (h,)).fetchone()[0]; ts.append(time.perf_counter() - t)
    assert got == i, (got, i)
ts.sort()
print("lookup by leaf hash, 1000 random entries: p50 %.3f ms, p99 %.3f ms, max %.3f ms" % (ts[500]*1e3, ts[990]*1e3, ts[-1]*1e3))
