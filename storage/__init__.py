"""Storage: tables, reconcile, queries and migrations. Knows nothing of collectors or rules."""
