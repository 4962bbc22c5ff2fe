"""Dash callbacks called as a browser's renderer calls them, with any values: the POST to
`/_dash-update-component` of a running `gmv serve`, by a signed-in Visitor (its session cookie,
and its CSRF token as the X-CSRFToken header, as dash-renderer sends it). The callback is found in
the server's own `/_dash-dependencies` by one of its outputs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from dashboard.gate import CSRF_COOKIE
from tests.security.visitor import Visitor


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    seconds: float

    @property
    def size(self) -> int:
        return len(self.body.encode())

    def outputs(self) -> dict[str, Any]:
        """{"id.property": value} of a 200 answer (no_update leaves a property out)."""
        document = json.loads(self.body)
        return {f"{i}.{p}": v for i, props in document.get("response", {}).items()
                for p, v in props.items()}


def pattern_id(value: dict[str, Any]) -> str:
    """A pattern-matching id as dash-renderer writes it: JSON, keys sorted, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class DashCalls:
    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor
        answer = visitor.get("/_dash-dependencies")
        assert answer.status == 200, answer
        self.dependencies: list[dict[str, Any]] = json.loads(answer.body)

    def spec(self, output: str) -> dict[str, Any]:
        """The callback one of whose outputs is `output` ("id.property")."""
        found = [d for d in self.dependencies if output in _outputs(d["output"])]
        assert len(found) == 1, f"{len(found)} callbacks output {output}"
        return found[0]

    def body(self, output: str, values: dict[str, Any], changed: str | None = None) -> bytes:
        """The request for the callback that outputs `output`: each input and state is
        values["id.property"] (None when absent); for a pattern-matching input (keyed by its
        "type".property) the value is a list of {"id": ..., "value": ...}. `changed`: the
        "id.property" that triggered it (the first input when None)."""
        spec = self.spec(output)
        outputs = [{"id": i, "property": p} for i, p in _outputs(spec["output"]).values()]

        def entry(item: dict[str, Any]) -> Any:
            if item["id"].startswith("{"):
                kind = json.loads(item["id"])["type"]
                return [{"id": e["id"], "property": item["property"], "value": e["value"]}
                        for e in values.get(f"{kind}.{item['property']}", [])]
            return {"id": item["id"], "property": item["property"],
                    "value": values.get(f"{item['id']}.{item['property']}")}

        first = spec["inputs"][0]
        return json.dumps({
            "output": spec["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [entry(i) for i in spec["inputs"]],
            "state": [entry(s) for s in spec["state"]],
            "changedPropIds": [changed or f"{first['id']}.{first['property']}"]}).encode()

    def call(self, output: str, values: dict[str, Any], changed: str | None = None) -> Reply:
        return self.post(self.body(output, values, changed))

    def post(self, body: bytes) -> Reply:
        started = time.monotonic()
        answer = self.visitor.post_json("/_dash-update-component", body,
                                        {"X-CSRFToken": self.visitor.cookie(CSRF_COOKIE)})
        return Reply(answer.status, answer.body, time.monotonic() - started)


def _outputs(output: str) -> dict[str, tuple[str, str]]:
    """"..a.x...b.y.." (several) or "a.x" (one): {"a.x": ("a", "x"), ...}."""
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    return {part: tuple(part.rsplit(".", 1)) for part in parts}  # type: ignore[misc]
