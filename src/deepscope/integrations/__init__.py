"""Thin adapters between deepscope's public API and other tools."""
