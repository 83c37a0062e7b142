"""Watching what trainers write: log lines, progress, metrics, checkpoints.

The supervisor calls `ingest_run(run)` on every tick of an active run and
`ingest_run(run, final=True)` once it has ended; `latest_complete_checkpoint(run)`
is what cancel and resume offer. Modules:

- `logfile`: new bytes of `train.log` from the stored offset, cut on `\\n` and `\\r`;
- `levels`: a line's level from its prefix, tracebacks as ERROR;
- `logstream`: lines → rows (one row per tqdm bar), printed log dicts → metrics;
- `progress`: one parser per trainer format (tqdm, LLaMA-Factory, Hugging Face, metrics.jsonl);
- `metrics`: metric naming and upserting points;
- `files`: tailing JSON-lines files and re-reading changed JSON files;
- `checkpoints`: the output folder scan (complete checkpoints, weights, events);
- `pipeline`: `ingest_run` itself, one transaction per pass.
"""

from runs.ingest.pipeline import ingest_run, latest_complete_checkpoint

__all__ = ["ingest_run", "latest_complete_checkpoint"]
