"""The live HTTP API and the wallboard (aiohttp)."""
