"""Alerting: route → group → dedup → outbox → send with retry → record (see docs/alerting.md)."""
