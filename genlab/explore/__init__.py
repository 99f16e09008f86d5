"""genlab explore: a local web page over a folder of trained runs, and the 2-D lab training live.

    from genlab.explore import create_app
    app = create_app("runs", token="...")     # an ASGI app (uvicorn, or Starlette's test client)
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):  # Starlette and torch only when used
    if name == "create_app":
        from genlab.explore.app import create_app

        return create_app
    raise AttributeError(f"module 'genlab.explore' has no attribute {name!r}")
