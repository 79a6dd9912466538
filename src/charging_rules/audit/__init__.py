"""The audit log: every recommendation and decision, append-only and hash-chained."""
