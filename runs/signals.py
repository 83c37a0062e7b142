"""Signals other apps listen to, so that runs need not know them."""

from django.dispatch import Signal

# A run reached completed, failed or cancelled; sent with `run`, in the transaction that ended it.
run_finished = Signal()
