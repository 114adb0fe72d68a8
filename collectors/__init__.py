"""Collectors turn a scope into a stream of normalized resources. They know nothing of storage."""
