"""Everything the dashboard reads, and nothing else in it touches Redis or files: `live` (the
snapshot and alert feeds in Redis), `history` (the committed Parquet history), `review` (the
review's questions and exports). Each gunicorn worker holds only a Redis connection pool and
read-only caches of files that do not change (last year's night)."""
