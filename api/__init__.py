"""Plait's entry points for people and programs, and the application layer behind them.

- ``api.cli``: the ``plait`` command line.
- ``api.services``: what the entry points do to Plait's data (runs and their records), as
  plain async code over the Tortoise models; no FastAPI imports.
- The HTTP API (FastAPI routers, request/response schemas, problem+json errors) arrives with
  the API issue.

This package stays importable without FastAPI, and the command line imports the database layer
only for the commands that use it (``--db``, ``runs``, ``migrate``), so ``plait run`` on a spec
starts without it.
"""
