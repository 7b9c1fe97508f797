"""Serving: PRM reward server and OpenAI-compatible policy server."""
