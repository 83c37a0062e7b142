"""A stand-in for torchaudio in LLaMA-Factory's test environment (scripts/llamafactory_venv.sh).

LLaMA-Factory imports torchaudio at the top of its multimodal plugin, which every
`llamafactory-cli train` loads, but calls it only for audio inputs. PyPI's torchaudio
wheels load only beside the exact torch they were built with, a CUDA build of several GB,
while the environment holds the CPU torch on these machines' disk. Text training never
gets here; anything that does says why.
"""

__version__ = "0.0.0+stand-in"


def __getattr__(name: str) -> object:
    raise ImportError(f"torchaudio.{name}: this environment's torchaudio is a stand-in for text-only training")
