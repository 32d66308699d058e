"""pymilvus reference for the p2m benchmark: upsert the bench rows with numpy float32 vectors.

Reads DIR/vectors.f32 (row-major float32 matrix) and DIR/rows.jsonl (id, namespace, metadata,
optional sparse [indices, values]); upserts in batches, then flushes; prints one JSON line with
the rows, the seconds spent in upsert calls and the seconds of the flush (the data preparation is
not timed).
"""
import argparse
import json
import os
import time

import numpy as np
from pymilvus import MilvusClient

p = argparse.ArgumentParser()
p.add_argument("--uri", required=True)
p.add_argument("--collection", required=True)
p.add_argument("--dir", required=True)
p.add_argument("--dim", type=int, required=True)
p.add_argument("--batch", type=int, default=1000)
a = p.parse_args()

vectors = np.fromfile(os.path.join(a.dir, "vectors.f32"), dtype=np.float32).reshape(-1, a.dim)
rows = []
with open(os.path.join(a.dir, "rows.jsonl")) as f:
    for i, line in enumerate(f):
        r = json.loads(line)
        row = dict(r["metadata"])
        row["id"] = r["id"]
        row["namespace"] = r["namespace"]
        row["vector"] = vectors[i]
        if "sparse" in r:
            idx, val = r["sparse"]
            row["sparse_vector"] = dict(zip(idx, val))
        rows.append(row)

client = MilvusClient(uri=a.uri)
client.upsert(a.collection, rows[:10])
c0 = time.process_time()
t0 = time.perf_counter()
for i in range(0, len(rows), a.batch):
    client.upsert(a.collection, rows[i : i + a.batch])
seconds = time.perf_counter() - t0
cpu_seconds = time.process_time() - c0
t1 = time.perf_counter()
client.flush(a.collection)
flush_seconds = time.perf_counter() - t1
print(json.dumps({"rows": len(rows), "seconds": seconds, "cpu_seconds": cpu_seconds, "flush_seconds": flush_seconds}))
