"""Deliberately broken flows: each must fail to build with its own message."""
