"""The shared vocabulary every stage speaks: model, errors, schema blocks, time, YAML with lines.

Imports nothing else of Vigil (import-linter keeps it so).
"""
