"""The runs' fixtures (the stand-in trainer, a supervisor), for a real run whose checkpoints are thinned."""

from runs.tests.conftest import fake_trainer, stop_leftover_trainers, supervisor

__all__ = ["fake_trainer", "stop_leftover_trainers", "supervisor"]
