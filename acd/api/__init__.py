"""The live HTTP API and the wallboard (aiohttp): `create_app(backend, http)`."""

from acd.api.app import create_app

__all__ = ["create_app"]
