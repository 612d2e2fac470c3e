"""Plait's entry points for people and programs: the ``plait`` command line (``api.cli``).

The HTTP API (FastAPI routers, request/response schemas, problem+json errors) and the
application services behind it arrive with the API issue. This package must stay importable
without FastAPI: the command line imports only the compiler and the standard library, so
``plait run`` works on a machine that never serves HTTP.
"""
