"""Which operators the firmware's kernel set runs, read from its registration table.

``firmware/kernels/reference/registry.c`` is the one list: a row per (operator, input
type). The host reads it so that ``inspect`` can mark operators and ``run`` can refuse an
unsupported one before spending minutes on an upload; the device checks again on load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from mcubench.boards import project_root
from mcubench.model import Model

ANY_TYPE = "*"
_ROW = re.compile(r"\{MCB_OP_\w+,\s*(MCB_TYPE_\w+|MCB_KERNEL_ANY_TYPE),\s*\"(\w+)\"")


@cache
def reference_kernels() -> frozenset[tuple[str, str]]:
    """(operator, input-0 type) pairs with a reference kernel; type ``*`` takes any."""
    text = (project_root() / "firmware" / "kernels" / "reference" / "registry.c").read_text()
    return frozenset(
        (op, ANY_TYPE if kind == "MCB_KERNEL_ANY_TYPE" else kind.removeprefix("MCB_TYPE_"))
        for kind, op in _ROW.findall(text))


def is_supported(op: str, input_type: str | None) -> bool:
    kernels = reference_kernels()
    return (op, ANY_TYPE) in kernels or (input_type is not None and (op, input_type) in kernels)


@dataclass(frozen=True)
class Unsupported:
    subgraph: int
    node: int
    op: str
    input_type: str | None

    def __str__(self) -> str:
        kind = f" with {self.input_type} input" if self.input_type else ""
        return (f"subgraph {self.subgraph} node {self.node} ({self.op}{kind}): "
                "no kernel for it in the firmware")


def unsupported_nodes(model: Model) -> Iterator[Unsupported]:
    """Every operator the reference kernels do not cover, in order."""
    for sg in model.subgraphs:
        for op in sg.operators:
            # Matched on input 0's type, as mcb_kernel_find does; none: any-type rows only.
            first = op.inputs[0] if op.inputs and op.inputs[0] >= 0 else None
            input_type = sg.tensors[first].dtype if first is not None else None
            if op.custom or not is_supported(op.op, input_type):
                yield Unsupported(sg.index, op.index, op.op, input_type)
