"""Compliance reports and evidence packs: one content model, one module per format.

`model.gather` reads the report's content from storage once; `html`, `pdf`, `csv_json`,
`ocsf` and `sarif` render it; `pack` bundles every format with a hashed, optionally signed
manifest chained to the previous pack, and verifies such packs.
"""
