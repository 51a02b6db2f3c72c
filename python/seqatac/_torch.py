"""Device and precision choice, shared by the models and the model-agnostic analyses (``interpret``)."""

from __future__ import annotations

import functools
import os
import platform

import torch

from ._errors import SeqatacInputError

PRECISIONS = ("auto", "fp32", "bf16")


def select_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``"auto"`` (CUDA when available, else CPU) or check an explicit device.

    Under ``torchrun`` with CUDA, ``"auto"`` picks ``cuda:LOCAL_RANK``.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise SeqatacInputError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise SeqatacInputError(f"device {device!r} requested but CUDA is not available; use device='cpu' or 'auto'.")
    return resolved


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX-BF16), read from /proc/cpuinfo."""
    if platform.system() != "Linux":
        return False
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        return False
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` → ``"bf16"`` on CUDA with bf16 support and on CPUs with native bf16, else ``"fp32"``."""
    if precision not in PRECISIONS:
        raise SeqatacInputError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_supports_bf16() else "fp32"


def autocast(device: torch.device, precision: str):
    """Autocast context for ``precision`` (``"fp32"`` = disabled) on ``device``."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
