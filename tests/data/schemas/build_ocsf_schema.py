"""Rebuild ocsf-1.5.0-detection_finding.schema.json (run from the repo root; not a test).

Nothing but loopback is reachable here, so the schema is not downloaded from schema.ocsf.io:
it is derived from py-ocsf-models' DetectionFinding (the package models OCSF 1.5.0 field by
field: names, types, required attributes, enumerations), then tightened with the Detection
Finding class constants from the OCSF 1.5.0 spec: class_uid 2004, category_uid 2 (Findings),
type_uid = class_uid * 100 + activity_id, and the metadata.version pattern.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

OUT = Path(__file__).with_name(f"ocsf-{OCSF_VERSION}-detection_finding.schema.json")


def build() -> dict[str, Any]:
    schema = DetectionFinding.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"OCSF {OCSF_VERSION} Detection Finding (class 2004)"
    props = schema["properties"]
    props["class_uid"] = {"const": 2004}
    props["category_uid"] = {"const": 2}
    props["type_uid"] = {"enum": [200400, 200401, 200402, 200403, 200499]}
    props["class_name"] = {"const": "Detection Finding"}
    props["category_name"] = {"const": "Findings"}
    for name in (
        "class_uid",
        "category_uid",
        "metadata",
        "severity_id",
        "time",
        "type_uid",
        "activity_id",
        "finding_info",
    ):
        if name not in schema["required"]:
            schema["required"].append(name)
    metadata = schema["$defs"]["Metadata"]
    metadata["properties"]["version"] = {"type": "string", "pattern": r"^1\.\d+\.\d+$"}
    metadata.setdefault("required", [])
    if "version" not in metadata["required"]:
        metadata["required"].append("version")
    return schema


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
