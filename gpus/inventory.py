"""What GPUs this host has: NVML when a driver is present, else the GPU_IDS setting.

A GPU is named by its host (LLMP_HOSTNAME) and its index there, as in the ledger (gpus.models).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str = ""
    uuid: str = ""
    memory_total_bytes: int | None = None
    memory_free_bytes: int | None = None
    utilization: float | None = None  # 0.0–1.0
    host: str = field(default_factory=lambda: settings.HOSTNAME)

    @property
    def key(self) -> tuple[str, int]:
        """What names it among every host's GPUs (a claim's host and gpu_index)."""
        return (self.host, self.index)

    def has_type(self, gpu_type: str) -> bool:
        """Whether this GPU is of `gpu_type` ("" is any type): every word of the type appears,
        case aside, among the words of its model name, so "A100" and "a100 80gb" are an
        "NVIDIA A100-SXM4-80GB" while "A10" is not."""
        return _words(gpu_type) <= _words(self.name)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@cache
def nvml_available() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound / DriverNotLoaded where there is no GPU
        return False
    return True


def _nvml_gpus() -> list[Gpu]:
    import pynvml

    gpus = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        gpus.append(
            Gpu(
                index=index,
                name=_text(pynvml.nvmlDeviceGetName(handle)),
                uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
                memory_total_bytes=int(memory.total),
                memory_free_bytes=int(memory.free),
                utilization=pynvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100.0,
            )
        )
    return gpus


def _text(value: str | bytes) -> str:
    """NVML bindings before 11.5 return bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


def configured_gpus(text: str) -> list[Gpu]:
    """GPU_IDS: "0,1", or with model names "0:NVIDIA A100-SXM4-80GB,1:NVIDIA L4".

    Raises ImproperlyConfigured naming the item that is not a new index from 0 up.
    """
    gpus: list[Gpu] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        index, _, name = item.partition(":")
        if not index.strip().isdigit() or int(index) in {gpu.index for gpu in gpus}:
            raise ImproperlyConfigured(f"GPU_IDS item {item!r} does not start with a GPU index of its own (0, 1, ...).")
        gpus.append(Gpu(index=int(index), name=name.strip()))
    return gpus


def list_gpus() -> list[Gpu]:
    """The GPUs of this host, freshly read (utilisation and free memory change)."""
    if settings.GPU_IDS.strip():
        return configured_gpus(settings.GPU_IDS)
    if nvml_available():
        return _nvml_gpus()
    return []


def utilization_of(indices: list[int]) -> float | None:
    """Mean utilisation (0–1) of these GPUs, None without NVML or GPUs."""
    readings = [gpu.utilization for gpu in list_gpus() if gpu.index in indices and gpu.utilization is not None]
    return sum(readings) / len(readings) if readings else None
