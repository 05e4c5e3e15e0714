"""Deploy trained models: every run folder's model as ONNX or torch.export, with lengths."""

from rnnlab.export.graph import BATCH, TIME, Graph

__all__ = ["BATCH", "TIME", "Graph"]
