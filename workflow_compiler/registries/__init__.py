"""Registries of tools and model providers."""
