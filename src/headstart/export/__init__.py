"""Weights loadable without headstart (torchvision, timm, safetensors, ONNX) and embeddings files.
The `export` and `embed` commands are in `headstart.commands`."""
