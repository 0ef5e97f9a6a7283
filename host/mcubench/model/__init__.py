"""Model inspection on the host: read a .tflite, count its MACs, estimate its arena."""

from mcubench.model.arena import ArenaPlan, PlannedBuffer, plan_arena
from mcubench.model.macs import model_macs, operator_macs, subgraph_macs
from mcubench.model.tflite import (
    Model,
    Operator,
    OperatorCode,
    Quantization,
    Subgraph,
    Tensor,
    load_model,
    read_model,
)

__all__ = [
    "ArenaPlan",
    "Model",
    "Operator",
    "OperatorCode",
    "PlannedBuffer",
    "Quantization",
    "Subgraph",
    "Tensor",
    "load_model",
    "model_macs",
    "operator_macs",
    "plan_arena",
    "read_model",
    "subgraph_macs",
]
