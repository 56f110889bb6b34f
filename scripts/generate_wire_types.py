"""Generate the TypeScript wire types of both front-ends from cell_monitor/contract.

The JSON Schema of the contract's models (as the server writes them: serialization
mode, camelCase aliases) goes through the npm package json-schema-to-typescript,
then through the project's prettier, into committed files:
  dashboard/src/wire.gen.ts   every answer and live message (the instructor page)
  src/wire.gen.ts             the ingest types and the server extension's API (the extension)
and, after the types, the contract's constants that a front-end applies as the server
does (MARKDOWN_ALLOWLIST), as typed `export const`s.

Run `npm run generate:types` after changing a model in cell_monitor/contract;
tests/unit/test_wire_types.py fails while a committed file is out of date.
Usage: python scripts/generate_wire_types.py [--out DIR]  (DIR defaults to the repository)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from cell_monitor.contract import events, inbox, insight, jupyter, live, messages, reads, signals

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "npm run generate:types"
HEADER = (
    "// Generated from the models in cell_monitor/contract by scripts/generate_wire_types.py:\n"
    f"// do not edit. After changing a model, regenerate with `{COMMAND}`.\n"
)

# json-schema-to-typescript, fed {definitions, names} on stdin: each named definition
# becomes one exported type; the types it refers to are declared where they are named.
_TO_TYPESCRIPT = """
const { compile } = require('json-schema-to-typescript');
let input = '';
process.stdin.on('data', chunk => (input += chunk));
process.stdin.on('end', async () => {
  const { definitions, names } = JSON.parse(input);
  const options = {
    bannerComment: '',
    format: false,
    additionalProperties: false,
    declareExternallyReferenced: false
  };
  for (const name of names) {
    const schema = { ...definitions[name], $defs: definitions };
    process.stdout.write(await compile(schema, name, options));
  }
});
"""


@dataclass(frozen=True)
class Target:
    path: str  # relative to the repository
    types: dict[str, Any]  # name → model or type (unions)
    # name → a model instance, written as `export const NAME: Model = {...}` (Model in types)
    constants: dict[str, BaseModel] = field(default_factory=dict)


def _models(module: Any) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
        and not name.startswith("_")
        # A model without fields is a base of others (its config), not a wire type.
        and value.model_fields
    }


TARGETS = (
    Target(
        "dashboard/src/wire.gen.ts",
        {
            "LiveFrame": live.LiveFrame,
            "LiveMessage": live.LiveMessage,
            "DashboardMessage": live.DashboardMessage,
            **_models(live),
            **_models(reads),
            **_models(insight),
            **_models(inbox),
            **_models(messages),
            **_models(signals),
        },
        {"MARKDOWN_ALLOWLIST": messages.MARKDOWN_ALLOWLIST},
    ),
    Target(
        "src/wire.gen.ts",
        {
            "EventIn": events.EventIn,
            "EventType": events.EventType,
            "IngestResponse": events.IngestResponse,
            "RejectedEvent": events.RejectedEvent,
            "TestOutcome": signals.TestOutcome,
            "TestKind": signals.TestKind,
            "CellActivity": signals.CellActivity,
            **_models(jupyter),
            **_models(inbox),
            "InboxMessage": messages.InboxMessage,
            "Reply": messages.Reply,
            "MessageHistory": messages.MessageHistory,
            "MarkdownAllowlist": messages.MarkdownAllowlist,
        },
        {"MARKDOWN_ALLOWLIST": messages.MARKDOWN_ALLOWLIST},
    ),
)


def _drop_property_titles(node: Any) -> Any:
    # Pydantic titles every property ("User Name"); json-schema-to-typescript would
    # turn each into a type alias of its own. Only definitions keep their title.
    if isinstance(node, dict):
        return {
            key: (
                {name: _drop_title(_drop_property_titles(s)) for name, s in value.items()}
                if key == "properties"
                else _drop_property_titles(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_drop_property_titles(item) for item in node]
    return node


def _drop_title(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {key: value for key, value in schema.items() if key != "title"}
    return schema


def definitions(target: Target) -> dict[str, Any]:
    """The JSON Schema of every type of the target (and of the models they use), by name."""
    adapters = [(name, "serialization", TypeAdapter(tp)) for name, tp in target.types.items()]
    schemas, top = TypeAdapter.json_schemas(adapters, by_alias=True, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = dict(top.get("$defs", {}))
    unions = [name for (name, _), schema in schemas.items() if "$ref" not in schema]
    for name in unions:
        defs[name] = {"title": name, **schemas[(name, "serialization")]}
    for name in unions:
        defs = _refer_to(name, defs)
    result: dict[str, Any] = _drop_property_titles(dict(sorted(defs.items())))
    return result


def _refer_to(name: str, defs: dict[str, Any]) -> dict[str, Any]:
    # A union used inside a model (Batch.messages) is written out in full there;
    # point it at its named definition instead, so the TypeScript names it too.
    union = {k: v for k, v in defs[name].items() if k != "title"}

    def replace(node: Any) -> Any:
        if node == union:
            return {"$ref": f"#/$defs/{name}"}
        if isinstance(node, dict):
            return {key: replace(value) for key, value in node.items()}
        if isinstance(node, list):
            return [replace(item) for item in node]
        return node

    return {key: (value if key == name else replace(value)) for key, value in defs.items()}


def _run(args: Sequence[str], stdin: str) -> str:
    done = subprocess.run(
        list(args), input=stdin, capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:2])} failed:\n{done.stderr}")
    return done.stdout


def constants(target: Target) -> str:
    """The target's constants as TypeScript, typed with their generated model."""
    written = []
    for name, value in target.constants.items():
        model = type(value).__name__
        if target.types.get(model) is not type(value):
            raise ValueError(f"{target.path}: {name} needs its model {model} among the types")
        data = json.dumps(value.model_dump(mode="json", by_alias=True))
        written.append(
            f"/** The value of cell_monitor.contract.{value.__module__.rsplit('.', 1)[-1]}"
            f".{name}. */\nexport const {name}: {model} = {data};\n"
        )
    return "".join(written)


def typescript(target: Target) -> str:
    """The file's text: the header, the types, the constants, formatted as the project does."""
    defs = definitions(target)
    request = json.dumps({"definitions": defs, "names": list(defs)})
    body = _run(["node", "-e", _TO_TYPESCRIPT], request) + constants(target)
    # prettier finds the project's settings from the path the file will have.
    return _run(["npx", "--no-install", "prettier", "--stdin-filepath", target.path], HEADER + body)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="where the files go")
    options = parser.parse_args(argv)
    for target in TARGETS:
        path = options.out / target.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(typescript(target), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
