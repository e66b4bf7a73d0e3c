"""The shared kernel: what the web side (``backend``) and the workers both depend on, and
nothing else, so that neither imports the other for it.

- ``failures``: the failure taxonomy (``FailureClass``, ``BenchmarkError`` and its kinds)
  that adapters and benchmarks raise, tasks record and the API filters on;
- ``errors``: the expected errors with a code and a place (``DomainError``), mapped to HTTP
  once, in ``backend/api/errors.py``;
- ``hashing``: the identities of parameters and model versions (what makes two runs the same);
- ``artifacts``: the content-addressed artifact store both the API and the workers read and
  write;
- ``queues``: the broker's priority lists, shared by the Celery app and the queue service.

It imports only the standard library and fsspec/anyio (an import-linter contract keeps it so).
"""
