"""Write docs/api.md from the comments in protos/hpo/v1 (plus the guide in docs/_api_intro.md).

``python scripts/gen_api_docs.py`` regenerates it; ``--check`` exits 1 when it is stale
(tests/test_codegen.py runs the check).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "docs" / "api.md"
INTRO = ROOT / "docs" / "_api_intro.md"
# Path numbers in SourceCodeInfo (descriptor.proto): messages 4, fields 2, services 6, methods 2.
MESSAGE, FIELD, SERVICE, METHOD, ENUM, ENUM_VALUE = 4, 2, 6, 2, 5, 2


def descriptor_set():
    import grpc_tools
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        files = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "hpo" / "v1").glob("*.proto"))
        well_known = Path(grpc_tools.__file__).parent / "_proto"
        rc = protoc.main(
            [
                "protoc",
                f"-I{PROTOS}",
                f"-I{well_known}",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                *files,
            ]
        )
        if rc:
            raise SystemExit(f"protoc failed ({rc})")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _comments(file) -> dict[tuple[int, ...], str]:
    return {
        tuple(loc.path): " ".join(
            line.strip() for line in loc.leading_comments.splitlines()
        ).strip()
        for loc in file.source_code_info.location
        if loc.leading_comments
    }


def _type(field) -> str:
    names = {1: "double", 3: "int64", 5: "int32", 8: "bool", 9: "string", 12: "bytes"}
    name = field.type_name.rsplit(".", 1)[-1] if field.type_name else names.get(field.type, "?")
    if field.label == 3:
        return f"repeated {name}"
    return name


def render() -> str:
    parts = [INTRO.read_text().rstrip(), ""]
    files = [f for f in descriptor_set().file if f.package == "hpo.v1"]
    for file in files:
        notes = _comments(file)
        for s, service in enumerate(file.service):
            parts += [f"## Service `hpo.v1.{service.name}` ({file.name})", ""]
            parts += ["| RPC | request → response | what it does |", "| --- | --- | --- |"]
            for m, method in enumerate(service.method):
                req = method.input_type.rsplit(".", 1)[-1]
                res = method.output_type.rsplit(".", 1)[-1]
                if method.client_streaming:
                    req = f"stream {req}"
                if method.server_streaming:
                    res = f"stream {res}"
                parts.append(
                    f"| `{method.name}` | `{req}` → `{res}` | "
                    f"{notes.get((SERVICE, s, METHOD, m), '')} |"
                )
            parts.append("")
    parts += ["## Messages", ""]
    for file in files:
        notes = _comments(file)
        for i, message in enumerate(file.message_type):
            parts += [f"### `{message.name}` ({file.name})", ""]
            if notes.get((MESSAGE, i)):
                parts += [notes[(MESSAGE, i)], ""]
            if message.field:
                parts += ["| field | type | meaning |", "| --- | --- | --- |"]
                for j, f in enumerate(message.field):
                    parts.append(
                        f"| `{f.name}` | `{_type(f)}` | {notes.get((MESSAGE, i, FIELD, j), '')} |"
                    )
                parts.append("")
        for i, enum in enumerate(file.enum_type):
            parts += [f"### enum `{enum.name}` ({file.name})", "", notes.get((ENUM, i), ""), ""]
            for j, value in enumerate(enum.value):
                parts.append(
                    f"- `{value.name}` = {value.number}: {notes.get((ENUM, i, ENUM_VALUE, j), '')}"
                )
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print("docs/api.md is stale (run python scripts/gen_api_docs.py)")
            return 1
        print("docs/api.md is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
