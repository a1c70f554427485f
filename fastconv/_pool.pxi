# (placeholder: filled by the work that owns _pool)
