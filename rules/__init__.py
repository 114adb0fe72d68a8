"""The rules engine: built-in rules (one module per family), YAML rule packs, compliance maps.

Rules read an `InventoryView` (the inventory streamed from storage once per check, with the
small indexes rules share) and yield `Finding`s. They never write anything: the findings
store in `storage/findings.py` owns the lifecycle.
"""
