"""What GPUs this host has: NVML when a driver is present, else the GPU_IDS setting."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str = ""
    uuid: str = ""
    memory_total_bytes: int | None = None
    memory_free_bytes: int | None = None
    utilization: float | None = None  # 0.0–1.0


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
                name=str(pynvml.nvmlDeviceGetName(handle)),
                uuid=str(pynvml.nvmlDeviceGetUUID(handle)),
                memory_total_bytes=int(memory.total),
                memory_free_bytes=int(memory.free),
                utilization=pynvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100.0,
            )
        )
    return gpus


def list_gpus() -> list[Gpu]:
    """The GPUs of this host, freshly read (utilisation and free memory change)."""
    if settings.GPU_IDS.strip():
        return [Gpu(index=int(item)) for item in settings.GPU_IDS.split(",") if item.strip()]
    if nvml_available():
        return _nvml_gpus()
    return []


def utilization_of(indices: list[int]) -> float | None:
    """Mean utilisation (0–1) of these GPUs, None without NVML or GPUs."""
    readings = [gpu.utilization for gpu in list_gpus() if gpu.index in indices]
    readings = [value for value in readings if value is not None]
    return sum(readings) / len(readings) if readings else None
