"""``deepscope summary``: the architecture of a model file or factory as a table or a graph."""

from __future__ import annotations

import json

import typer

from deepscope.cli._output import friendly_errors


@friendly_errors
def summary_command(
    target: str = typer.Argument(..., help="A model.onnx file or pkg.module:factory."),
    input_size: str = typer.Option(None, "--input-size", help="e.g. 1,3,32,32 (several: 1,8;1,4)."),
    fmt: str = typer.Option("table", "--format", help="table | json | dot | mermaid"),
    depth: int = typer.Option(None, "--depth", help="Collapse modules below this depth."),
) -> None:
    """Architecture of TARGET: hierarchy, output shapes, parameters, FLOPs, as table or graph."""
    from deepscope.errors import InvalidArgumentError
    from deepscope.graph.summary import summary
    from deepscope.graph.target import load_target, parse_input_size

    if fmt not in ("table", "json", "dot", "mermaid"):
        raise InvalidArgumentError(f"--format must be table, json, dot or mermaid, got '{fmt}'")
    sizes = parse_input_size(input_size)
    model, example = load_target(target)
    s = summary(model, None if sizes else example, input_size=sizes, depth=depth)
    failed = [n for n in s.graph.notes if n.startswith("the forward pass failed")]
    if failed and (sizes or example is not None):
        given = f"--input-size {input_size}" if sizes else "the factory's example inputs"
        why = failed[0].removeprefix("the forward pass failed").strip()
        why = why[1:-1] if why.startswith("(") and why.endswith(")") else why
        raise InvalidArgumentError(f"the model's forward pass failed with {given}: {why} "
                                   "(check the input shape)")
    text = {"json": lambda: json.dumps(s.to_dict(), indent=1), "dot": s.to_dot,
            "mermaid": s.to_mermaid, "table": lambda: str(s)}[fmt]()
    typer.echo(text.rstrip("\n"))
